// The .treeinfo file of an installation tree (productmd's INI layout): sections of key = value.

/** A parsed .treeinfo: section name → key → value, names as written. */
export type Treeinfo = ReadonlyMap<string, ReadonlyMap<string, string>>;

/**
 * Parses a .treeinfo file: `[section]` headers, `key = value` lines (white space around both
 * trimmed), `#` and `;` comment lines and blank lines skipped. A key before any header lands in
 * the "" section; a repeated key keeps its last value, as Python's configparser does.
 *
 * @example
 * ```ts
 * treeinfoValue(parseTreeinfo("[general]\nfamily = Rocky Linux\n"), "general", "family");
 * // "Rocky Linux"
 * ```
 */
export function parseTreeinfo(text: string): Treeinfo {
  const sections = new Map<string, Map<string, string>>();
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = header[1]!.trim();
      if (!sections.has(current)) sections.set(current, new Map());
      continue;
    }
    const pair = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (!pair) continue;
    let section = sections.get(current);
    if (!section) sections.set(current, section = new Map());
    section.set(pair[1]!.trim(), pair[2]!.trim());
  }
  return sections;
}

/** The value of `key` in `section`, or undefined. */
export function treeinfoValue(info: Treeinfo, section: string, key: string): string | undefined {
  return info.get(section)?.get(key);
}
