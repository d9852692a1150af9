// apt's source lists (one-line .list and deb822 .sources): the `deb` sources they name.

/** One `deb` source of the apt configuration. */
export interface AptSource {
  url: string;
  suite: string;
  components: string[];
}

/**
 * The `deb` sources of an apt configuration file: one-line format (`deb [opts] url suite comp...`)
 * or deb822 (`Types:`, `URIs:`, `Suites:`, `Components:` stanzas; `Enabled: no` skipped).
 *
 * @example
 * ```ts
 * parseAptSources("deb http://deb.debian.org/debian bookworm main\n", "list");
 * // [{url: "http://deb.debian.org/debian", suite: "bookworm", components: ["main"]}]
 * ```
 */
export function parseAptSources(text: string, format: "list" | "deb822"): AptSource[] {
  const sources: AptSource[] = [];
  if (format === "list") {
    for (const raw of text.split("\n")) {
      const line = raw.replace(/#.*$/, "").trim();
      const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
      if (match) {
        sources.push({ url: match[1]!, suite: match[2]!, components: match[3]!.split(/\s+/) });
      }
    }
    return sources;
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match) fields.set(match[1]!.toLowerCase(), match[2]!.trim());
    }
    if (!(fields.get("types") ?? "").split(/\s+/).includes("deb")) continue;
    if (/^(?:no|false|0)$/i.test(fields.get("enabled") ?? "yes")) continue;
    const components = (fields.get("components") ?? "").split(/\s+/).filter((word) => word);
    for (const url of (fields.get("uris") ?? "").split(/\s+/).filter((word) => word)) {
      for (const suite of (fields.get("suites") ?? "").split(/\s+/).filter((word) => word)) {
        sources.push({ url, suite, components });
      }
    }
  }
  return sources;
}
