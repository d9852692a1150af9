// xCAT's comma-separated list values (groups, exlist, synclists, noderanges): one splitter.

/**
 * The non-empty items of a comma-separated table value, each trimmed of white space; undefined
 * or "" gives []. `trim: false` keeps white space around items, as xCAT's imgimport splits a
 * manifest's lists on bare commas.
 *
 * @example
 * ```ts
 * commaList("compute, all,,rack1"); // ["compute", "all", "rack1"]
 * commaList(" a.list,b", { trim: false }); // [" a.list", "b"]
 * ```
 */
export function commaList(value: string | undefined, options: { trim?: boolean } = {}): string[] {
  if (!value) return [];
  const items = value.split(",");
  if (options.trim === false) return items.filter((item) => item !== "");
  // The common case (`rack1,compute,all`) needs no cleaning (node lists are long and read
  // often); only copy when an item does.
  for (const item of items) {
    if (item.length === 0 || item.trim().length !== item.length) {
      return items.map((each) => each.trim()).filter((each) => each !== "");
    }
  }
  return items;
}
