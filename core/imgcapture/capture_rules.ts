// What imgcapture leaves out of a captured root and what it scrubs from it: rsync filter rules
// from xCAT's exlist syntax or the built-in default, the scrub table, and the pure rewrites of
// the files it generalises (shadow, gshadow, fstab, interfaces, hosts).

import type { ExlistRules } from "../../formats/xcat/exlist.ts";

/**
 * The default exclusions when no `<profile>.<os>.<arch>.imgcapture.exlist` exists, as rsync
 * filter rules anchored at the node's `/`. Pseudo and runtime file systems are also skipped by
 * rsync's --one-file-system; listing them covers a node where they are plain directories. Caches
 * and logs keep their directories (services expect them) but none of their files.
 */
export const DEFAULT_CAPTURE_RULES: readonly string[] = [
  "- /proc/**",
  "- /sys/**",
  "- /dev/**",
  "- /run/**",
  "- /tmp/**",
  "- /var/tmp/**",
  "+ /var/cache/apt/**/",
  "- /var/cache/apt/**",
  "+ /var/cache/dnf/**/",
  "- /var/cache/dnf/**",
  "+ /var/cache/yum/**/",
  "- /var/cache/yum/**",
  "+ /var/cache/zypp/**/",
  "- /var/cache/zypp/**",
  "+ /var/log/**/",
  "- /var/log/**",
  "- /swapfile",
  "- /swap.img",
  // The node's own copy of the management node's install tree and xCAT's postscripts.
  "- /install/**",
  "- /xcatpost/**",
];

/**
 * One exlist pattern (xCAT's `find -path` glob, written against `./path`) as an rsync pattern
 * anchored at the transfer root. find's `*` also matches `/`, which is rsync's `**`. A pattern
 * that cannot match a `./` path (find would never match it either) gives undefined.
 *
 * @example
 * ```ts
 * exlistPatternToRsync("./var/log/*"); // "/var/log/**"
 * exlistPatternToRsync("*.pyc");       // "/**.pyc"
 * ```
 */
export function exlistPatternToRsync(pattern: string): string | undefined {
  let rest: string;
  if (pattern.startsWith("./")) rest = pattern.slice(1);
  else if (pattern.startsWith("*")) rest = `/${pattern}`;
  else return undefined;
  let out = "";
  for (let index = 0; index < rest.length; index++) {
    const char = rest[index]!;
    if (char === "\\" && index + 1 < rest.length) {
      out += char + rest[++index]!;
    } else if (char === "*") {
      while (rest[index + 1] === "*") index++;
      out += "**";
    } else if (char === "[") {
      const close = rest.indexOf("]", index + 2);
      if (close === -1) out += "\\[";
      else {
        out += rest.slice(index, close + 1).replace(/^\[!/, "[^");
        index = close;
      }
    } else out += char;
  }
  // "/" alone (the pattern "./") would be the root itself: rsync never matches it.
  return out === "/" ? undefined : out;
}

/**
 * An exlist's rules as rsync filter rules: its `+` lines first (rsync's first match wins, and
 * xCAT's `+` puts a path back whatever the exclusions say), then its exclusions. Patterns no
 * `./` path can match are returned apart, for a note.
 */
export function exlistToRsyncRules(rules: ExlistRules): { rules: string[]; unmatchable: string[] } {
  const out: string[] = [];
  const unmatchable: string[] = [];
  for (const [sign, patterns] of [["+", rules.includes], ["-", rules.excludes]] as const) {
    for (const pattern of patterns) {
      const translated = exlistPatternToRsync(pattern);
      if (translated === undefined) unmatchable.push(pattern);
      else out.push(`${sign} ${translated}`);
    }
  }
  return { rules: out, unmatchable };
}

/** How a scrubbed path ends up in the image. */
export type ScrubAction =
  /** Not captured at all. */
  | "drop"
  /** Not captured; an empty file stands in its place (machine-id, hostname). */
  | "empty"
  /** Not captured; a symbolic link to `target` stands in its place. */
  | "link";

/** One thing that must not be cloned from the golden node. */
export interface ScrubRule {
  /** Short name in the output (`ssh-host-keys`). */
  name: string;
  /** Shell globs on the node (the probe lists the paths that exist). */
  globs: readonly string[];
  action: ScrubAction;
  /** For "link": the link's target. */
  target?: string;
  /** Why, as the output line ends. */
  reason: string;
  /** Only when passwords are scrubbed (not with --keep-passwords). */
  passwordsOnly?: boolean;
}

/**
 * Everything imgcapture never copies from a node (unlike xCAT, which clones them): each clone
 * must have its own identity and secrets, and a diskless node has no disk and no leases.
 */
export const SCRUB_RULES: readonly ScrubRule[] = [
  {
    name: "ssh-host-keys",
    globs: ["/etc/ssh/ssh_host_*key", "/etc/ssh/ssh_host_*key.pub"],
    action: "drop",
    reason: "each node makes its own at first boot (osimg-ssh-host-keys.service)",
  },
  {
    name: "machine-id",
    globs: ["/etc/machine-id"],
    action: "empty",
    reason: "emptied: systemd makes a new one at first boot",
  },
  {
    name: "dbus-machine-id",
    globs: ["/var/lib/dbus/machine-id"],
    action: "link",
    target: "/etc/machine-id",
    reason: "a link to /etc/machine-id",
  },
  {
    name: "random-seeds",
    globs: [
      "/var/lib/systemd/random-seed",
      "/var/lib/random-seed",
      "/var/lib/systemd/credential.secret",
      "/boot/efi/loader/random-seed",
    ],
    action: "drop",
    reason: "every node seeds its own",
  },
  {
    name: "dhcp-leases",
    globs: [
      "/var/lib/dhcp/*.lease*",
      "/var/lib/dhclient/*.lease*",
      "/var/lib/NetworkManager/*.lease",
      "/var/lib/systemd/netif/leases/*",
      "/var/lib/wicked/lease-*",
    ],
    action: "drop",
    reason: "leases of the golden node's address",
  },
  {
    name: "hostname",
    globs: ["/etc/hostname"],
    action: "empty",
    reason: "emptied: the initrd writes the node's name (NODE=) at boot",
  },
  {
    name: "persistent-net-rules",
    globs: [
      "/etc/udev/rules.d/70-persistent-net.rules",
      "/etc/udev/rules.d/70-persistent-ipoib.rules",
    ],
    action: "drop",
    reason: "they pin interface names to the golden node's MACs",
  },
  {
    name: "network-connections",
    globs: [
      "/etc/NetworkManager/system-connections/*",
      "/etc/sysconfig/network-scripts/ifcfg-[!l]*",
      "/etc/sysconfig/network/ifcfg-[!l]*",
      "/etc/netplan/*.yaml",
    ],
    action: "drop",
    reason: "the golden node's addresses; the initrd brings up the boot interface",
  },
  {
    name: "password-backups",
    globs: ["/etc/shadow-", "/etc/gshadow-"],
    action: "drop",
    reason: "old copies holding password hashes",
    passwordsOnly: true,
  },
];

/**
 * Files fetched apart from the tree and rewritten for a diskless clone (their originals never
 * reach the image, so a recapture's rsync statistics show only what really changed).
 */
export const GENERALISED_FILES: readonly string[] = [
  "/etc/shadow",
  "/etc/gshadow",
  "/etc/fstab",
  "/etc/hosts",
  "/etc/network/interfaces",
];

/**
 * An rsync pattern that matches exactly the path `path` (wildcards and backslashes quoted:
 * `--exclude` reads patterns, not names).
 */
export function literalRsyncPattern(path: string): string {
  return path.replace(/[\\*?[]/g, (char) => `\\${char}`);
}

/** A scrub glob (sh syntax) as an rsync pattern; `[!x]` is `[^x]` there. */
export function scrubGlobToRsync(glob: string): string {
  return glob.replace(/\[!/g, "[^");
}

/** Whether a password field holds a usable hash (not `*`, `!`, `!!`, `x` or empty). */
function isHash(field: string): boolean {
  const body = field.replace(/^!+/, "");
  return body !== "" && body !== "*" && body !== "x" && !body.startsWith("*");
}

/**
 * /etc/shadow or /etc/gshadow with every password hash replaced: `*` (no password; key logins
 * still work), or `!` where the account was locked. Returns the text and how many hashes went.
 *
 * @example
 * ```ts
 * scrubPasswordHashes("root:$6$salt$hash:19000:0:99999:7:::\n").text; // "root:*:19000:0:99999:7:::\n"
 * ```
 */
export function scrubPasswordHashes(text: string): { text: string; removed: number } {
  let removed = 0;
  const lines = text.split("\n").map((line) => {
    const fields = line.split(":");
    if (fields.length < 2 || !isHash(fields[1]!)) return line;
    removed++;
    fields[1] = fields[1]!.startsWith("!") ? "!" : "*";
    return fields.join(":");
  });
  return { text: lines.join("\n"), removed };
}

/** Filesystem types a diskless node can still mount: memory, kernel and network file systems. */
const DISKLESS_FSTYPES = new Set([
  "tmpfs",
  "proc",
  "sysfs",
  "devpts",
  "devtmpfs",
  "securityfs",
  "cgroup",
  "cgroup2",
  "debugfs",
  "hugetlbfs",
  "mqueue",
  "binfmt_misc",
  "nfs",
  "nfs4",
  "cifs",
  "smb3",
  "lustre",
  "gpfs",
  "beegfs",
  "fuse.sshfs",
  "ceph",
  "9p",
  "efivarfs",
]);

/**
 * The golden node's fstab for a diskless clone: every entry of a local disk (its root, swap,
 * /boot, data disks) commented out with `#osimg-imgcapture# `, memory and network mounts kept,
 * and xCAT's diskless root line added (`<profile>_<arch> / tmpfs rw 0 0`; pass 0: a tmpfs has
 * nothing to fsck). Returns the text and the entries commented out.
 */
export function generaliseFstab(
  text: string,
  rootName: string,
): { text: string; disabled: string[] } {
  const disabled: string[] = [];
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (line.trim() === "" || line.trim().startsWith("#") || fields.length < 3) {
      lines.push(line);
      continue;
    }
    const [spec, mountpoint, type] = fields as [string, string, string];
    if (DISKLESS_FSTYPES.has(type) && mountpoint !== "/") {
      lines.push(line);
      continue;
    }
    disabled.push(`${mountpoint} (${spec} ${type})`);
    lines.push(`#osimg-imgcapture# ${line}`);
  }
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  lines.push(`${rootName} / tmpfs rw 0 0`, "");
  return { text: lines.join("\n"), disabled };
}

/**
 * Debian's /etc/network/interfaces for a diskless clone: the loopback stanza and `source` lines
 * kept, every other interface's stanza dropped (the initrd brought the boot interface up;
 * ifupdown must not give it the golden node's address). With `nodebootif`, that interface is
 * declared `manual` so ifupdown leaves it as the initrd left it.
 */
export function generaliseInterfaces(
  text: string,
  nodebootif?: string,
): { text: string; dropped: string[] } {
  const out: string[] = [];
  const dropped = new Set<string>();
  let keeping = true;
  for (const line of text.split("\n")) {
    const words = line.trim().split(/\s+/);
    const keyword = words[0] ?? "";
    if (["auto", "allow-hotplug", "allow-auto"].includes(keyword) || /^allow-/.test(keyword)) {
      const names = words.slice(1);
      const kept = names.filter((name) => name === "lo");
      for (const name of names) if (name !== "lo") dropped.add(name);
      if (kept.length > 0) out.push(`${keyword} ${kept.join(" ")}`);
      keeping = false;
      continue;
    }
    if (keyword === "iface" || keyword === "mapping") {
      keeping = words[1] === "lo";
      if (!keeping && words[1]) dropped.add(words[1]);
    } else if (keyword === "source" || keyword === "source-directory") {
      keeping = true;
    }
    if (keeping || line.trim() === "" || line.trim().startsWith("#")) out.push(line);
  }
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  if (nodebootif && nodebootif !== "lo") {
    out.push(
      "",
      "# The initrd configured the boot interface (osimg imgcapture -i).",
      `iface ${nodebootif} inet manual`,
    );
  }
  return { text: out.join("\n") + "\n", dropped: [...dropped] };
}

/**
 * /etc/hosts without the golden node's own name on a loopback address (Debian's
 * `127.0.1.1 <hostname>`), which every clone would otherwise claim.
 */
export function generaliseHosts(text: string, hostname: string): { text: string; removed: number } {
  if (hostname === "") return { text, removed: 0 };
  const short = hostname.split(".")[0]!;
  let removed = 0;
  const lines = text.split("\n").filter((line) => {
    const fields = line.replace(/#.*$/, "").trim().split(/\s+/);
    if (fields.length < 2 || !/^127\./.test(fields[0]!) || fields[0] === "127.0.0.1") return true;
    const names = fields.slice(1);
    if (names.some((name) => name === hostname || name === short)) {
      removed++;
      return false;
    }
    return true;
  });
  return { text: lines.join("\n"), removed };
}
