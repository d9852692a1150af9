// squashfs-tools' pseudo file definitions as `unsquashfs -pf` writes them: one line per inode, then the file data.

/**
 * The line that ends the definitions; the data section (every regular file's bytes, at the
 * offsets its `R` line gives) follows it.
 */
export const PSEUDO_DATA_MARKER = "#\n# START OF DATA - DO NOT MODIFY\n#\n";

/** Metadata every definition but a hard link carries. */
interface PseudoMeta {
  /** Path inside the file system, "/"-separated, "." for its root. */
  path: string;
  mtime: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
}

/** One line of an `unsquashfs -pf` listing. */
export type PseudoDefinition =
  | PseudoMeta & { kind: "dir" }
  /** A regular file: `size` bytes at `offset` in the data section. */
  | PseudoMeta & { kind: "file"; size: number; offset: number }
  | PseudoMeta & { kind: "symlink"; target: string }
  | PseudoMeta & { kind: "chardev" | "blockdev"; devmajor: number; devminor: number }
  | PseudoMeta & { kind: "fifo" | "socket" }
  /** A second name of the file at `target` (listed earlier). */
  | { kind: "hardlink"; path: string; target: string };

const NUMBER = /^[0-9]+$/;

/**
 * Reads one escaped name (squashfs-tools escapes a space, a backslash and a quote with a
 * backslash) up to the first unescaped space; returns it and where the rest starts.
 */
function readName(line: string): { name: string; rest: number } | undefined {
  let name = "";
  for (let index = 0; index < line.length; index++) {
    const char = line[index]!;
    if (char === "\\") {
      if (index + 1 >= line.length) return undefined;
      name += line[++index];
    } else if (char === " ") return { name, rest: index + 1 };
    else name += char;
  }
  return undefined;
}

function pathOf(name: string): string {
  const path = name.replace(/^\/+/, "");
  return path === "" ? "." : path;
}

/**
 * Parses one definition line (without its line end), or returns undefined when the line is not
 * a whole definition: unsquashfs writes a newline inside a name as it is, so the caller joins
 * such a line with the next one and tries again.
 *
 * @example
 * ```ts
 * parsePseudoLine("etc/hostname R 1700000000 644 0 0 5 0");
 * // { kind: "file", path: "etc/hostname", mtime: 1700000000, mode: 0o644, uid: 0, gid: 0, size: 5, offset: 0 }
 * ```
 */
export function parsePseudoLine(line: string): PseudoDefinition | undefined {
  const named = readName(line);
  if (!named) return undefined;
  const path = pathOf(named.name);
  const rest = line.slice(named.rest);
  const type = rest[0];
  if (rest[1] !== " ") return undefined;
  const fieldsText = rest.slice(2);
  if (type === "L") {
    const target = readName(`${fieldsText} `);
    return target ? { kind: "hardlink", path, target: pathOf(target.name) } : undefined;
  }
  const fields = fieldsText.split(" ");
  const numbers = (count: number) => fields.slice(0, count).every((field) => NUMBER.test(field));
  if (fields.length < 4 || !numbers(4) || !/^[0-7]+$/.test(fields[1]!)) return undefined;
  const meta: PseudoMeta = {
    path,
    mtime: Number(fields[0]),
    mode: parseInt(fields[1]!, 8) & 0o7777,
    uid: Number(fields[2]),
    gid: Number(fields[3]),
  };
  switch (type) {
    case "D":
      return fields.length === 4 ? { ...meta, kind: "dir" } : undefined;
    case "R":
      return fields.length === 6 && numbers(6)
        ? { ...meta, kind: "file", size: Number(fields[4]), offset: Number(fields[5]) }
        : undefined;
    case "S":
      // The target is the rest of the line, as it is (spaces included).
      return fields.length >= 5
        ? { ...meta, kind: "symlink", target: fields.slice(4).join(" ") }
        : undefined;
    case "C":
    case "B":
      return fields.length === 6 && numbers(6)
        ? {
          ...meta,
          kind: type === "C" ? "chardev" : "blockdev",
          devmajor: Number(fields[4]),
          devminor: Number(fields[5]),
        }
        : undefined;
    case "I":
      return fields.length === 5 && (fields[4] === "f" || fields[4] === "s")
        ? { ...meta, kind: fields[4] === "f" ? "fifo" : "socket" }
        : undefined;
    default:
      return undefined;
  }
}
