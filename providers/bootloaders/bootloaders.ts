// The boot loaders nodeset writes entries for, keyed by noderes.netboot: where each one's files
// and links live under the TFTP root, how it renders a boot description, which osarch it boots.
// Core asks these members instead of comparing netboot names.

import type { BootEntry } from "../../formats/boot/boot_entry.ts";
import { renderElilo } from "../../formats/boot/elilo.ts";
import { renderGrub2 } from "../../formats/boot/grub2.ts";
import { renderPxelinux } from "../../formats/boot/pxelinux.ts";
import { renderXnba } from "../../formats/boot/xnba.ts";

/** The addresses a node's entry is found by. */
export interface NodeAddresses {
  node: string;
  /** The node's IPv4 address first, then those of its `mac!alias` entries. */
  ips: readonly string[];
  /** The MAC the node boots from, lower case with colons (`aa:bb:cc:dd:ee:ff`), if known. */
  mac?: string;
}

/** Per-node settings a renderer needs besides the boot description. */
export interface LoaderSettings {
  /** The management node's address as the node sees it (xCAT's `!myipfn!` for pxelinux/grub2). */
  server: string;
  /** The server grub2 fetches from: noderes.tftpserver, else xcatmaster, else `server`. */
  tftpServer: string;
  /** site.httpport. */
  httpPort: string;
  /** site.tftpdir as the node's HTTP server publishes it (grub2-http paths start with it). */
  tftpDir: string;
  /** osimage.osarch of what the node boots (grub2 picks linuxefi and its binary by it). */
  arch: string;
  /** site.xcatdebugmode is 1 or 2. */
  debug: boolean;
  /** pxelinux's IPAPPEND 2 (off for the distros whose installer breaks on BOOTIF). */
  ipappend: boolean;
}

/** A file of a node's entry, relative to the TFTP root. */
export interface BootFile {
  path: string;
  text: string;
}

/**
 * A link to a node's entry. A symlink holds `target` as its text (relative to the link's
 * directory); a hard link shares the inode of the file at `target` (relative to the TFTP root).
 */
export interface BootLink {
  path: string;
  target: string;
  kind: "symlink" | "hardlink";
}

/** Everything one node's entry consists of. */
export interface NodeBootFiles {
  files: BootFile[];
  links: BootLink[];
}

/**
 * A directory where the loader keeps links to node entries: links found there that belong to a
 * node and are not part of its new entry (an old IP, an old MAC) are removed.
 */
export interface LinkDirectory {
  dir: string;
  kind: "symlink" | "hardlink";
  /** Names of links in the directory (not node entries themselves). */
  names: RegExp;
  /**
   * For symlinks: the text a link to `node`'s entry holds. For hard links: the file (relative
   * to the TFTP root) whose inode a link to `node`'s entry shares.
   */
  entryOf(node: string): string;
}

/** One boot loader as noderes.netboot names it. */
export interface Bootloader {
  name: string;
  /** The osarch values it boots (xCAT Utils.pm lookupNetboot). */
  archs: RegExp;
  /**
   * Its files hold the server's address itself (pxelinux and grub2 have no variable for it,
   * unlike iPXE's `${next-server}` and elilo's `%N`).
   */
  needsServerAddress: boolean;
  /** The node's files and links for `entry` (none for offline). */
  render(entry: BootEntry, addresses: NodeAddresses, settings: LoaderSettings): NodeBootFiles;
  /**
   * Every path the loader may have written for the node (files, companions, per-node links
   * with fixed names), relative to the TFTP root.
   */
  nodePaths(node: string): string[];
  linkDirectories: readonly LinkDirectory[];
  /** The file holding the node's state line (`stat`), in the order xCAT looks. */
  stateFiles(node: string): string[];
  /**
   * What `stat` says when none of the state files exists: a word, or "table" for chain.currstate
   * (a loader that writes nothing for some states).
   */
  noEntryState: string;
  /** Files (relative to the TFTP root) nodes of this loader fetch first; missing: a warning. */
  loaderFiles(arch: string): string[];
}

/**
 * The 8 upper-case hex digits pxelinux, elilo and grub2 look an IPv4 address up by.
 *
 * @example
 * ```ts
 * hexIp("10.0.0.101"); // "0A000065"
 * ```
 */
export function hexIp(ip: string): string {
  return ip.split(".").map((octet) => Number(octet).toString(16).toUpperCase().padStart(2, "0"))
    .join("");
}

/** grub2's `01-<mac>` form: lower case, dash separated (`01-aa-bb-cc-dd-ee-ff`). */
export function grubMacName(mac: string): string {
  return `01-${mac.toLowerCase().replaceAll(":", "-")}`;
}

const PXELINUX_DIR = "pxelinux.cfg";
const XNBA_DIR = "xcat/xnba/nodes";
const GRUB2_DIR = "boot/grub2";
const HEX_NAME = /^[0-9A-F]{8}$/;

/** grub2's binary name for an osarch (xCAT: every ppc64* uses `grub2.ppc`). */
function grubArch(arch: string): string {
  return /ppc64/i.test(arch) ? "ppc" : arch;
}

function pxelinux(): Bootloader {
  return {
    name: "pxe",
    archs: /^x86_64$/i,
    needsServerAddress: true,
    render(entry, addresses, settings) {
      const text = renderPxelinux(entry, { server: settings.server, ipappend: settings.ipappend });
      if (text === undefined) return { files: [], links: [] };
      return {
        files: [{ path: `${PXELINUX_DIR}/${addresses.node}`, text }],
        links: addresses.ips.map((ip) => ({
          path: `${PXELINUX_DIR}/${hexIp(ip)}`,
          target: addresses.node,
          kind: "symlink" as const,
        })),
      };
    },
    nodePaths: (node) => [`${PXELINUX_DIR}/${node}`],
    linkDirectories: [{
      dir: PXELINUX_DIR,
      kind: "symlink",
      names: HEX_NAME,
      entryOf: (node) => node,
    }],
    stateFiles: (node) => [`${PXELINUX_DIR}/${node}`],
    // pxe.pm's getstate says "boot" when the node has no file.
    noEntryState: "boot",
    loaderFiles: () => ["pxelinux.0"],
  };
}

function xnba(): Bootloader {
  return {
    name: "xnba",
    archs: /^x86_64$/i,
    needsServerAddress: false,
    render(entry, addresses, settings) {
      const rendered = renderXnba(entry, {
        httpPort: settings.httpPort,
        node: addresses.node,
        scriptsDir: XNBA_DIR,
      });
      if (rendered === undefined) return { files: [], links: [] };
      const base = `${XNBA_DIR}/${addresses.node}`;
      const files = [{ path: base, text: rendered.script }];
      if (rendered.uefi !== undefined) files.push({ path: `${base}.uefi`, text: rendered.uefi });
      if (rendered.elilo !== undefined) files.push({ path: `${base}.elilo`, text: rendered.elilo });
      return { files, links: [] };
    },
    // `.pxelinux` is xCAT's chained pxelinux config for .c32/memdisk kernels: never written by
    // osimg, but removed like the others when xCAT left one.
    nodePaths: (node) =>
      ["", ".uefi", ".elilo", ".pxelinux"].map((end) => `${XNBA_DIR}/${node}${end}`),
    linkDirectories: [],
    // xnba.pm's getstate falls back to a pxelinux file the node may still have.
    stateFiles: (node) => [`${XNBA_DIR}/${node}`, `${PXELINUX_DIR}/${node}`],
    noEntryState: "offline",
    loaderFiles: () => ["xcat/xnba.kpxe", "xcat/xnba.efi"],
  };
}

/**
 * netboot=elilo: UEFI clients given `xcat/elilo-x64.efi` as their boot file, for firmware whose
 * iPXE hangs (reference §9). xCAT has no such netboot value — it reaches elilo only through
 * xnba's `.uefi` — so the entry is xnba's `<node>.elilo`, and elilo finds it by its own lookup
 * of `<HEXIP>.conf` beside elilo-x64.efi, a symlink to it.
 */
function elilo(): Bootloader {
  return {
    name: "elilo",
    archs: /^x86_64$/i,
    needsServerAddress: false,
    render(entry, addresses) {
      const text = renderElilo(entry, { tftpPrefix: "/tftpboot" });
      if (text === undefined) return { files: [], links: [] };
      return {
        files: [{ path: `${XNBA_DIR}/${addresses.node}.elilo`, text }],
        links: addresses.ips.map((ip) => ({
          path: `xcat/${hexIp(ip)}.conf`,
          target: `xnba/nodes/${addresses.node}.elilo`,
          kind: "symlink" as const,
        })),
      };
    },
    nodePaths: (node) => [`${XNBA_DIR}/${node}.elilo`],
    linkDirectories: [{
      dir: "xcat",
      kind: "symlink",
      names: /^[0-9A-F]{8}\.conf$/,
      entryOf: (node) => `xnba/nodes/${node}.elilo`,
    }],
    // An elilo configuration carries no state line, and elilo cannot boot a local disk (with
    // no configuration the firmware goes on to its next boot device), so stat reports
    // chain.currstate.
    stateFiles: (node) => [`${XNBA_DIR}/${node}.elilo`],
    noEntryState: "table",
    loaderFiles: () => ["xcat/elilo-x64.efi"],
  };
}

function grub2(name: string, protocol: "tftp" | "http", archs: RegExp): Bootloader {
  return {
    name,
    archs,
    needsServerAddress: true,
    render(entry, addresses, settings) {
      const text = renderGrub2(entry, {
        protocol,
        server: settings.tftpServer,
        argumentServer: settings.server,
        httpPort: settings.httpPort,
        tftpDir: settings.tftpDir,
        efiCommands: /x86/i.test(settings.arch),
        debug: settings.debug,
      });
      if (text === undefined) return { files: [], links: [] };
      const file = `${GRUB2_DIR}/${addresses.node}`;
      // Hard links, as xCAT makes them ("p5 does not support symbolic link in /tftpboot").
      const links: BootLink[] = addresses.ips.map((ip) => ({
        path: `${GRUB2_DIR}/grub.cfg-${hexIp(ip)}`,
        target: file,
        kind: "hardlink" as const,
      }));
      if (addresses.mac !== undefined) {
        links.push({
          path: `${GRUB2_DIR}/grub.cfg-${grubMacName(addresses.mac)}`,
          target: file,
          kind: "hardlink",
        });
      }
      if (entry.kind === "kernel") {
        // The per-node boot binary the DHCP server names (`grub2-<node>`); a local boot
        // removes it so the node's firmware goes on to its disk.
        links.push({
          path: `${GRUB2_DIR}/grub2-${addresses.node}`,
          target: `grub2.${grubArch(settings.arch)}`,
          kind: "symlink",
        });
      }
      return { files: [{ path: file, text }], links };
    },
    nodePaths: (node) => [`${GRUB2_DIR}/${node}`, `${GRUB2_DIR}/grub2-${node}`],
    linkDirectories: [{
      dir: GRUB2_DIR,
      kind: "hardlink",
      names: /^grub\.cfg-(?:[0-9A-F]{8}|01(?:-[0-9a-f]{2}){6})$/,
      entryOf: (node) => `${GRUB2_DIR}/${node}`,
    }],
    stateFiles: (node) => [`${GRUB2_DIR}/${node}`],
    noEntryState: "offline",
    loaderFiles: (arch) => [`${GRUB2_DIR}/grub2.${grubArch(arch)}`],
  };
}

/** Every boot loader, keyed by its noderes.netboot value, in one static table. */
export const BOOTLOADERS: readonly Bootloader[] = [
  xnba(),
  pxelinux(),
  elilo(),
  // lookupNetboot: x86_64 → grub2; ppc64/ppc64le → grub2, grub2-tftp, grub2-http; aarch64 → grub2.
  grub2("grub2", "tftp", /^(x86_64|ppc64|ppc64le|ppc64el|aarch64)$/i),
  grub2("grub2-tftp", "tftp", /^(ppc64|ppc64le|ppc64el)$/i),
  grub2("grub2-http", "http", /^(ppc64|ppc64le|ppc64el)$/i),
];

const BY_NAME = new Map(BOOTLOADERS.map((loader) => [loader.name, loader]));

/** The loader noderes.netboot names, or undefined. */
export function findBootloader(netboot: string | undefined): Bootloader | undefined {
  return netboot === undefined ? undefined : BY_NAME.get(netboot.trim());
}

/** The netboot values that fit an osarch, in table order (for messages). */
export function bootloadersFor(arch: string): string[] {
  return BOOTLOADERS.filter((loader) => loader.archs.test(arch)).map((loader) => loader.name);
}
