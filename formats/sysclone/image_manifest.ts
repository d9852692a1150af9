// The manifest of a sysclone image (every path with its type, mode, owner, mtime, size, content
// digest or link target) that lets a cloned node fetch only the files that changed, and the
// node-own paths an update never touches.

import { InvalidInputError } from "../../core/errors.ts";

/** The first line of every manifest; the deploy init refuses any other. */
export const MANIFEST_HEADER = "osimg-sysclone-manifest 1";

/** One path of the image: `f` file, `d` directory, `l` symlink, `c`/`b` device, `p` fifo. */
export interface ManifestEntry {
  /** Relative to the image root, no leading `/` or `./` (never the root itself). */
  path: string;
  type: "f" | "d" | "l" | "c" | "b" | "p";
  /** Permission bits with setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (what busybox `stat -c %Y` prints on the node). */
  mtime: number;
  size: number;
  /** Files: the sha256 of the contents, lowercase hex. */
  digest?: string;
  /** Symlinks: the target. */
  target?: string;
  /** Devices: `major:minor`. */
  device?: string;
}

/**
 * A name in a manifest line: backslash, space and control characters become `\ooo` (octal, as
 * busybox `printf %b` reads them back), so a line splits on spaces and stays one line; every
 * other character, UTF-8 included, is kept as it is.
 *
 * @example
 * ```ts
 * escapeManifestName("a b\\c"); // "a\\040b\\134c"
 * ```
 */
export function escapeManifestName(name: string): string {
  return name.replace(
    // deno-lint-ignore no-control-regex -- control characters are what is escaped
    /[\x00-\x20\x7f\\]/g,
    (char) => `\\${char.charCodeAt(0).toString(8).padStart(3, "0")}`,
  );
}

/** The inverse of {@linkcode escapeManifestName}. */
export function unescapeManifestName(name: string): string {
  return name.replace(
    /\\([0-7]{3})/g,
    (_, octal: string) => String.fromCharCode(parseInt(octal, 8)),
  );
}

const DIGEST = /^[0-9a-f]{64}$/;
const DEVICE = /^[0-9]+:[0-9]+$/;

/**
 * The manifest text: the header, then one line per entry in the order given (parents before
 * children, as a walk gives them):
 * `<type> <mode octal> <uid> <gid> <mtime> <size> <digest|major:minor|-> <path> [<link target>]`.
 *
 * @example
 * ```ts
 * serializeManifest([{ path: "etc", type: "d", mode: 0o755, uid: 0, gid: 0, mtime: 1, size: 4096 }]);
 * // "osimg-sysclone-manifest 1\nd 755 0 0 1 4096 - etc\n"
 * ```
 */
export function serializeManifest(entries: Iterable<ManifestEntry>): string {
  const lines = [MANIFEST_HEADER];
  for (const entry of entries) {
    const field = entry.type === "f"
      ? entry.digest!
      : entry.type === "c" || entry.type === "b"
      ? entry.device!
      : "-";
    const line = [
      entry.type,
      entry.mode.toString(8),
      entry.uid,
      entry.gid,
      entry.mtime,
      entry.size,
      field,
      escapeManifestName(entry.path),
    ];
    if (entry.type === "l") line.push(escapeManifestName(entry.target!));
    lines.push(line.join(" "));
  }
  return lines.join("\n") + "\n";
}

/**
 * The entries of a manifest, or an InvalidInputError naming `source` and the line that is not
 * one (the deploy init reads the same format with awk; this is what tests and tools read).
 */
export function parseManifest(text: string, source: string): ManifestEntry[] {
  const lines = text.split("\n");
  if (lines[0] !== MANIFEST_HEADER) {
    throw new InvalidInputError(
      `${source} is not an osimg sysclone manifest (its first line is not '${MANIFEST_HEADER}')`,
    );
  }
  if (lines.at(-1) === "") lines.pop();
  const bad = (number: number, why: string) =>
    new InvalidInputError(`${source}, line ${number}: ${why}`);
  return lines.slice(1).map((line, index) => {
    const number = index + 2;
    const fields = line.split(" ");
    const [type, mode, uid, gid, mtime, size, field, path, target] = fields;
    if (!type || !["f", "d", "l", "c", "b", "p"].includes(type)) {
      throw bad(number, `unknown type '${type ?? ""}'`);
    }
    if (fields.length !== (type === "l" ? 9 : 8)) {
      throw bad(
        number,
        `${fields.length} fields where a '${type}' entry has ${type === "l" ? 9 : 8}`,
      );
    }
    if (!/^[0-7]{1,4}$/.test(mode!)) throw bad(number, `mode '${mode}' is not octal`);
    for (const [name, value] of [["uid", uid], ["gid", gid], ["mtime", mtime], ["size", size]]) {
      if (!/^(0|[1-9][0-9]*)$/.test(value!)) {
        throw bad(number, `${name} '${value}' is not a number`);
      }
    }
    if (path === "" || path === "." || path!.startsWith("/") || path!.split("/").includes("..")) {
      throw bad(number, `path '${path}' is not a relative path inside the image`);
    }
    const entry: ManifestEntry = {
      path: unescapeManifestName(path!),
      type: type as ManifestEntry["type"],
      mode: parseInt(mode!, 8),
      uid: Number(uid),
      gid: Number(gid),
      mtime: Number(mtime),
      size: Number(size),
    };
    if (type === "f") {
      if (!DIGEST.test(field!)) throw bad(number, `'${field}' is not a sha256 digest`);
      entry.digest = field;
    } else if (type === "c" || type === "b") {
      if (!DEVICE.test(field!)) throw bad(number, `'${field}' is not major:minor`);
      entry.device = field;
    } else if (field !== "-") {
      throw bad(number, `a '${type}' entry has '-' where a file has its digest`);
    }
    if (type === "l") entry.target = unescapeManifestName(target!);
    return entry;
  });
}

/**
 * What belongs to the node rather than the image, as sh globs on relative paths (`**` any
 * depth): an update neither fetches, changes nor removes them. The node's identity and boot
 * (fstab by its UUIDs, hostname, machine-id, host keys, the boot loader grub-install and
 * grub-mkconfig wrote, the EFI system partition's files), its network configuration, the
 * capture's scrubbed files (shadow, hosts) and run-time state the capture never takes (logs,
 * caches, temporary files), the clone's own stamp and the update's staging directories.
 */
export const NODE_OWN_PATHS: readonly string[] = [
  "etc/fstab",
  "etc/hostname",
  "etc/hosts",
  "etc/machine-id",
  "var/lib/dbus/machine-id",
  "etc/shadow",
  "etc/gshadow",
  "etc/ssh/ssh_host_*",
  "etc/network/interfaces",
  "etc/network/interfaces.d/**",
  "etc/sysconfig/network-scripts/ifcfg-*",
  "etc/NetworkManager/system-connections/**",
  "etc/netplan/**",
  "etc/osimg",
  "etc/osimg/**",
  "boot/grub/**",
  "tmp/**",
  "var/tmp/**",
  "var/log/**",
  "var/cache/**",
  "proc/**",
  "sys/**",
  "dev/**",
  "run/**",
  "**/lost+found",
  "**/lost+found/**",
  "**/.osimg-update",
  "**/.osimg-update/**",
];

/**
 * One POSIX extended regular expression (awk's) matching the escaped relative paths the globs
 * name: `*` is any run of characters but `/`, `**` any run at all, a leading `**∕` also nothing.
 *
 * @example
 * ```ts
 * new RegExp(nodeOwnPattern(["etc/ssh/ssh_host_*"])).test("etc/ssh/ssh_host_rsa_key"); // true
 * ```
 */
export function nodeOwnPattern(globs: readonly string[]): string {
  const one = (glob: string) => {
    let out = "";
    for (let at = 0; at < glob.length; at++) {
      const char = glob[at]!;
      if (glob.startsWith("**/", at) && at === 0) {
        out += "(.*/)?";
        at += 2;
      } else if (glob.startsWith("**", at)) {
        out += ".*";
        at += 1;
      } else if (char === "*") out += "[^/]*";
      else if (char === "?") out += "[^/]";
      else if (/[.+()|^$\\{}[\]]/.test(char)) out += `\\${char}`;
      else out += char;
    }
    return out;
  };
  return `^(${globs.map((glob) => one(escapeManifestName(glob))).join("|")})$`;
}
