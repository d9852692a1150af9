// /etc/fstab: its entries as mount(8) reads them (fields split on blanks, \040-style escapes).

/** One fstab line. */
export interface FstabEntry {
  /** fs_spec: `UUID=...`, `LABEL=...`, `PARTUUID=...`, `PARTLABEL=...` or a device path. */
  spec: string;
  /** fs_file: the mount point, or `none`/`swap` for swap. */
  mountpoint: string;
  type: string;
  options: string;
  dump: number;
  pass: number;
}

/**
 * The entries of an fstab text; comments, blank lines and lines with fewer than three fields are
 * skipped (mount(8) rejects those, and a capture must not fail on one bad line of a client).
 * Octal escapes (`\040` for a space) are decoded; missing fields take mount's defaults.
 *
 * @example
 * ```ts
 * parseFstab("UUID=1234 / ext4 errors=remount-ro 0 1\n")[0]!.mountpoint; // "/"
 * ```
 */
export function parseFstab(text: string): FstabEntry[] {
  const entries: FstabEntry[] = [];
  const unescape = (field: string) =>
    field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    if (fields.length < 3) continue;
    const number = (field: string | undefined) => {
      const value = Number(field ?? "0");
      return Number.isInteger(value) && value >= 0 ? value : 0;
    };
    entries.push({
      spec: unescape(fields[0]!),
      mountpoint: unescape(fields[1]!),
      type: fields[2]!,
      options: fields[3] ?? "defaults",
      dump: number(fields[4]),
      pass: number(fields[5]),
    });
  }
  return entries;
}
