// xCAT's synclist syntax (xdcp -F): file-copy lines and the APPEND/EXECUTE/MERGE sections.

/** The section a synclist line belongs to (set by a `NAME:` line). */
export type SynclistSection = "sync" | "APPEND" | "EXECUTE" | "EXECUTEALWAYS" | "MERGE";

/**
 * One meaningful synclist line.
 * - `copy`: `src [src...] -> dest` (plain section), or `src -> dest` in APPEND/MERGE;
 *   `noderange` is set for `src -> (noderange) dest`, a node-specific copy.
 * - `script`: a path listed under EXECUTE or EXECUTEALWAYS (run on the node after syncing).
 */
export type SynclistLine =
  | {
    kind: "copy";
    section: "sync" | "APPEND" | "MERGE";
    sources: string[];
    destination: string;
    noderange?: string;
    line: number;
  }
  | { kind: "script"; section: "EXECUTE" | "EXECUTEALWAYS"; path: string; line: number };

/** A synclist line that cannot be understood. */
export class SynclistSyntaxError extends Error {
  readonly line: number;
  constructor(message: string, line: number) {
    super(message);
    this.name = "SynclistSyntaxError";
    this.line = line;
  }
}

const SECTIONS = new Set(["APPEND", "EXECUTE", "EXECUTEALWAYS", "MERGE"]);

/**
 * Parses synclist text: `#` comments and blank lines skipped; `APPEND:`, `EXECUTE:`,
 * `EXECUTEALWAYS:` and `MERGE:` switch the section for the lines that follow; other lines are
 * `source... -> destination` (sources separated by blanks, a `(noderange)` may precede the
 * destination). A destination ending in `/` is a directory the sources are copied into.
 *
 * @example
 * ```ts
 * parseSynclist("/install/sync/hosts -> /etc/hosts\n");
 * // [{kind:"copy",section:"sync",sources:["/install/sync/hosts"],destination:"/etc/hosts",line:1}]
 * ```
 */
export function parseSynclist(text: string): SynclistLine[] {
  const lines: SynclistLine[] = [];
  let section: SynclistSection = "sync";
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/\r$/, "").trim();
    if (content === "" || content.startsWith("#")) return;
    const header = /^([A-Z]+):$/.exec(content);
    if (header && SECTIONS.has(header[1]!)) {
      section = header[1] as SynclistSection;
      return;
    }
    if (section === "EXECUTE" || section === "EXECUTEALWAYS") {
      if (content.includes("->")) {
        throw new SynclistSyntaxError(
          `a line in the ${section} section names a script, not a copy: '${content}'`,
          line,
        );
      }
      lines.push({ kind: "script", section, path: content, line });
      return;
    }
    const arrow = content.indexOf("->");
    if (arrow < 0) {
      throw new SynclistSyntaxError(`expected 'source -> destination', got '${content}'`, line);
    }
    const sources = content.slice(0, arrow).trim().split(/\s+/).filter((s) => s !== "");
    let target = content.slice(arrow + 2).trim();
    let noderange: string | undefined;
    const ranged = /^\(([^)]*)\)\s*(.*)$/.exec(target);
    if (ranged) {
      noderange = ranged[1]!.trim();
      target = ranged[2]!.trim();
    }
    if (sources.length === 0 || target === "" || /\s/.test(target)) {
      throw new SynclistSyntaxError(
        `expected 'source... -> destination' with one destination, got '${content}'`,
        line,
      );
    }
    if (section !== "sync" && sources.length !== 1) {
      throw new SynclistSyntaxError(
        `a ${section} line takes exactly one source, got '${content}'`,
        line,
      );
    }
    lines.push({
      kind: "copy",
      section,
      sources,
      destination: target,
      ...(noderange === undefined ? {} : { noderange }),
      line,
    });
  });
  return lines;
}

/**
 * Merges password-style files (passwd, shadow, group: `name:...` lines) as xdcp's MERGE does:
 * every line of `addition` replaces the line of `base` with the same name, or is appended.
 * Order of `base` is kept; the result ends with a newline.
 */
export function mergeColonFile(base: string, addition: string): string {
  const keyOf = (line: string) => line.split(":", 1)[0]!;
  const additions = addition.split("\n").filter((line) => line.trim() !== "");
  const byKey = new Map(additions.map((line) => [keyOf(line), line]));
  const out: string[] = [];
  const used = new Set<string>();
  for (const line of base.split("\n")) {
    if (line === "") continue;
    const key = keyOf(line);
    const replacement = byKey.get(key);
    if (replacement !== undefined && !used.has(key)) {
      out.push(replacement);
      used.add(key);
    } else if (replacement === undefined) out.push(line);
  }
  for (const line of additions) {
    const key = keyOf(line);
    if (!used.has(key)) {
      out.push(line);
      used.add(key);
    }
  }
  return out.join("\n") + "\n";
}
