// The table of verbs. Each verb's module is imported only when that verb runs: a command starts
// without loading (and evaluating) the others and their dependencies, ~50 ms of a
// packimage's start. The specifiers are literal, so `deno bundle` and `deno compile` still carry
// every module (the bundle stays one file).

import type { Command } from "../core/command.ts";

/** A verb as `osimg --help` lists it; `load()` gives the command itself. */
export interface Verb {
  name: string;
  /** One line for `osimg --help`. */
  summary: string;
  load(): Promise<Command>;
}

/** Every verb osimg has, one entry each. */
export const VERBS: readonly Verb[] = [
  {
    name: "tabdump",
    summary: "display an xCAT database table in CSV format",
    load: async () => (await import("./tabdump.ts")).tabdump,
  },
  {
    name: "copycds",
    summary: "copy distro media into the install tree; define its osdistro and default osimages",
    load: async () => (await import("./copycds.ts")).copycds,
  },
  {
    name: "genimage",
    summary: "build a diskless image's root from its package lists, with kernel and netboot initrd",
    load: async () => (await import("./genimage.ts")).genimage,
  },
  {
    name: "packimage",
    summary: "pack a diskless (netboot) image into rootimg.cpio.gz, .tar.gz, .sfs, ...",
    load: async () => (await import("./packimage.ts")).packimage,
  },
  {
    name: "liteimg",
    summary: "prepare a statelite image's root tree from the litefile table",
    load: async () => (await import("./liteimg.ts")).liteimg,
  },
  {
    name: "dumpdb",
    summary: "write every table as <table>.csv into a directory (xCAT's dumpxCATdb)",
    load: async () => (await import("./dumpdb.ts")).dumpdb,
  },
  {
    name: "restoredb",
    summary: "restore the tables from a dumpdb directory, in one transaction",
    load: async () => (await import("./restoredb.ts")).restoredb,
  },
  {
    name: "tabrestore",
    summary: "replace the contents of an xCAT database table with a CSV file",
    load: async () => (await import("./tabrestore.ts")).tabrestore,
  },
  {
    name: "lsdef",
    summary: "display xCAT data object definitions",
    load: async () => (await import("./lsdef.ts")).lsdef,
  },
  {
    name: "mkdef",
    summary: "create xCAT data object definitions",
    load: async () => (await import("./mkdef.ts")).mkdef,
  },
  {
    name: "chdef",
    summary: "change xCAT data object definitions",
    load: async () => (await import("./chdef.ts")).chdef,
  },
  {
    name: "rmdef",
    summary: "remove xCAT data object definitions",
    load: async () => (await import("./rmdef.ts")).rmdef,
  },
  {
    name: "rmimage",
    summary: "remove an image's files (rootimg, kernel, initrds, packed images, boot files)",
    load: async () => (await import("./rmimage.ts")).rmimage,
  },
  {
    name: "imgimport",
    summary: "import an image bundle (xCAT's or osimg's) into the osimage definitions",
    load: async () => (await import("./imgimport.ts")).imgimport,
  },
  {
    name: "verify",
    summary: "check an image bundle's structure, manifest and checksums without importing it",
    load: async () => (await import("./verify.ts")).verify,
  },
  {
    name: "imgexport",
    summary: "export an osimage as a portable, checksummed bundle",
    load: async () => (await import("./imgexport.ts")).imgexport,
  },
  {
    name: "snapshot",
    summary: "keep a snapshot of an osimage (definition and files) for rollback",
    load: async () => (await import("./snapshot.ts")).snapshot,
  },
  {
    name: "rollback",
    summary: "restore an osimage (definition and files) from a snapshot",
    load: async () => (await import("./rollback.ts")).rollback,
  },
  {
    name: "diff",
    summary: "show what differs between two osimages, bundles or snapshots, inside packed roots",
    load: async () => (await import("./diff.ts")).diff,
  },
  {
    name: "imgcapture",
    summary: "capture a running node's root file system as a diskless osimage (rsync over ssh)",
    load: async () => (await import("./imgcapture.ts")).imgcapture,
  },
  {
    name: "nodels",
    summary: "list nodes and their attributes from the xCAT database",
    load: async () => (await import("./nodels.ts")).nodels,
  },
  {
    name: "nodeset",
    summary:
      "set nodes' boot state: write pxelinux/xnba/elilo/grub2 entries (osimage, boot, offline)",
    load: async () => (await import("./nodeset.ts")).nodeset,
  },
  {
    name: "keygen",
    summary: "make a minisign-compatible key pair for signing bundles and snapshots",
    load: async () => (await import("./keygen.ts")).keygen,
  },
  {
    name: "sign",
    summary: "sign a bundle or any file with a minisign-compatible secret key (<file>.minisig)",
    load: async () => (await import("./sign.ts")).sign,
  },
  {
    name: "serve",
    summary: "serve the install and tftp trees read-only over HTTP (ranges) and TFTP",
    load: async () => (await import("./serve.ts")).serve,
  },
  {
    name: "makedhcp",
    summary: "write the DHCP server's configuration (Kea or dnsmasq) from the node tables",
    load: async () => (await import("./makedhcp.ts")).makedhcp,
  },
  {
    name: "demo",
    summary: "run the whole job end to end in a temporary root (define, pack, export, import...)",
    load: async () => (await import("./demo.ts")).demo,
  },
];
