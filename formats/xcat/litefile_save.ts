// The `.statelite/litefile.save` list liteimg leaves in an image: one `options<TAB>path` per line.

/** One litefile entry that applies to an image. */
export interface LiteEntry {
  /** Absolute path in the image; a trailing "/" marks a directory. */
  file: string;
  /** The litefile options, e.g. `link`, `tmpfs`, `link,persistent`. */
  options: string;
}

/**
 * Serializes the entries liteimg applied, one `options<TAB>path` line each.
 *
 * @example
 * ```ts
 * serializeLitefileSave([{ file: "/etc/hosts", options: "link" }]); // "link\t/etc/hosts\n"
 * ```
 */
export function serializeLitefileSave(entries: readonly LiteEntry[]): string {
  return entries.map((entry) => `${entry.options}\t${entry.file}\n`).join("");
}

/** Parses a saved list; blank lines are skipped, the path may contain blanks. */
export function parseLitefileSave(text: string): LiteEntry[] {
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => {
    const match = /^(\S+)\s+(.*)$/.exec(line.trim());
    return match ? { options: match[1]!, file: match[2]! } : { options: line.trim(), file: "" };
  });
}

/** True for the `link*` options, whose paths liteimg replaced with links into .statelite/tmpfs. */
export function isLinkEntry(entry: LiteEntry): boolean {
  return entry.options.split(",").includes("link");
}
