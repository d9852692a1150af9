// /proc/<pid>/mountinfo: the mounts a process sees, in the order they were made.

/** One line of mountinfo (proc(5)): the fields osimg needs. */
export interface MountInfoEntry {
  id: number;
  parentId: number;
  /** Where it is mounted, with mountinfo's octal escapes (`\040` for a blank) decoded. */
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Decodes mountinfo's `\ooo` escapes (space, tab, newline and backslash are written so). */
function unescapeOctal(text: string): string {
  return text.replace(
    /\\([0-7]{3})/g,
    (_, octal: string) => String.fromCharCode(parseInt(octal, 8)),
  );
}

/**
 * Parses mountinfo text: `id parent major:minor root mountpoint options [optional...] - fstype
 * source superoptions`. Lines that do not have that shape are skipped (the kernel writes none).
 *
 * @example
 * ```ts
 * parseMountInfo("22 27 0:21 / /proc rw,relatime - proc proc rw\n")[0]?.mountPoint; // "/proc"
 * ```
 */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    if (fields.length < 7 || separator < 0 || fields.length < separator + 3) continue;
    const id = Number(fields[0]);
    const parentId = Number(fields[1]);
    if (!Number.isInteger(id) || !Number.isInteger(parentId)) continue;
    entries.push({
      id,
      parentId,
      mountPoint: unescapeOctal(fields[4]!),
      fsType: unescapeOctal(fields[separator + 1]!),
      source: unescapeOctal(fields[separator + 2]!),
    });
  }
  return entries;
}

/**
 * The mounts at or below `dir` (an absolute path without a trailing slash), latest first: the
 * order in which they must be unmounted, a mount stacked on another before the one below it.
 */
export function mountsUnder(entries: readonly MountInfoEntry[], dir: string): MountInfoEntry[] {
  return entries.filter((entry) =>
    entry.mountPoint === dir || entry.mountPoint.startsWith(`${dir}/`)
  )
    .reverse();
}
