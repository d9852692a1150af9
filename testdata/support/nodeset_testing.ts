// Test support for nodeset: a cluster of nodes (one per boot loader) and images of every
// provmethod in a temporary root, a deterministic network, and listings of a node's entry.

import { join } from "node:path";
import { defineRows } from "./pack_testing.ts";
import { DEFAULT_DB } from "../../main.ts";
import { hostPath } from "../../core/paths.ts";
import { openSqliteStore } from "../../core/store/sqlite_store.ts";
import { silentProgress } from "../../core/progress.ts";
import type { Store } from "../../core/store/store.ts";
import type { NodesetNetwork } from "../../core/nodeset/network.ts";
import { nodeset, type NodesetAction, type NodesetResult } from "../../core/nodeset/nodeset.ts";
import { systemRunner } from "../../core/process.ts";
import { deployStamp } from "../../core/sysclone/deploy_environment.ts";
import { serializeDiskLayout } from "../../formats/sysclone/disk_layout.ts";
import {
  SYSCLONE_DEPLOY_FILES,
  syscloneDirectories,
} from "../../providers/provmethods/provmethods.ts";
import { HYBRID_LAYOUT } from "./sysclone_testing.ts";

/** A network where this machine is 10.0.0.1/24 and no name resolves (hosts.ip is used). */
export const TEST_NETWORK: NodesetNetwork = {
  lookup: () => Promise.resolve(undefined),
  localAddresses: () => [{ address: "10.0.0.1", prefix: 24 }],
};

/** The x86_64 nodes, one per loader: node name → noderes.netboot. */
export const X86_NODES: Readonly<Record<string, string>> = {
  cn01: "pxe",
  cn02: "xnba",
  cn03: "elilo",
  cn04: "grub2",
};
/** The ppc64le nodes, for the loaders that boot only Power. */
export const PPC_NODES: Readonly<Record<string, string>> = {
  pn01: "grub2-tftp",
  pn02: "grub2-http",
};

/** The images of the cluster by provmethod case: name and the nodes that boot it. */
export const IMAGES = {
  netboot: "rhels9.2-x86_64-netboot-compute",
  statelite: "rhels9.2-x86_64-statelite-compute",
  "statelite-ramdisk": "rhels9.2-x86_64-statelite-ramdisk",
  "install-rhel": "rhels9.2-x86_64-install-compute",
  "install-sles": "sles15.5-x86_64-install-compute",
  "install-ubuntu": "ubuntu22.04-x86_64-install-compute",
  sysclone: "rhels9.2-x86_64-sysclone-compute",
  "netboot-ppc64le": "rhels9.2-ppc64le-netboot-compute",
} as const;

/** A kernel whose first bytes carry a PE header for x86-64: an EFI stub, as xnba detects it. */
function efiStubKernel(): Uint8Array {
  const bytes = new Uint8Array(1024);
  bytes.set([0x4d, 0x5a], 0); // "MZ"
  bytes.set([0x50, 0x45, 0, 0, 0x64, 0x86], 0x80); // "PE\0\0" + IMAGE_FILE_MACHINE_AMD64
  return bytes;
}

async function write(root: string, path: string, data: string | Uint8Array): Promise<void> {
  const host = hostPath(root, path);
  await Deno.mkdir(join(host, ".."), { recursive: true });
  if (typeof data === "string") await Deno.writeTextFile(host, data);
  else await Deno.writeFile(host, data);
}

/**
 * Defines the cluster in `root`: nodes cn01-cn04 (x86_64: pxe, xnba, elilo, grub2) and
 * pn01-pn02 (ppc64le: grub2-tftp, grub2-http) with IPs 10.0.0.1xx, MACs, a serial console;
 * every image of {@linkcode IMAGES} with its files (the netboot kernel has an EFI stub, the
 * statelite ones have not); the media of the install images; a sysclone image.
 */
export async function defineNodesetCluster(root: string): Promise<void> {
  const nodes = { ...X86_NODES, ...PPC_NODES };
  const names = Object.keys(nodes);
  const number = (node: string) => Number(node.slice(2));
  await defineRows(root, {
    site: [{ key: "master", value: "10.0.0.1" }],
    nodelist: names.map((node) => ({
      node,
      groups: `${node.startsWith("pn") ? "power" : "compute"},all`,
    })),
    noderes: names.map((node) => ({ node, netboot: nodes[node]! })),
    hosts: names.map((node) => ({
      node,
      ip: `10.0.0.${(node.startsWith("pn") ? 200 : 100) + number(node)}`,
    })),
    mac: names.map((node) => ({
      node,
      mac: `AA:BB:CC:DD:${node.startsWith("pn") ? "FF" : "EE"}:0${number(node)}`,
    })),
    nodehm: [{ node: "all", serialport: "0", serialspeed: "115200" }],
    statelite: [{ node: "compute", statemnt: "10.0.0.1:/nodedata", mntopts: "nolock,tcp" }],
    osimage: [
      image(IMAGES.netboot, "netboot", "rhels9.2", "x86_64"),
      image(IMAGES.statelite, "statelite", "rhels9.2", "x86_64"),
      {
        ...image(IMAGES["statelite-ramdisk"], "statelite", "rhels9.2", "x86_64"),
        rootfstype: "ramdisk",
      },
      image(IMAGES["install-rhel"], "install", "rhels9.2", "x86_64"),
      image(IMAGES["install-sles"], "install", "sles15.5", "x86_64"),
      image(IMAGES["install-ubuntu"], "install", "ubuntu22.04", "x86_64"),
      image(IMAGES.sysclone, "sysclone", "rhels9.2", "x86_64"),
      image(IMAGES["netboot-ppc64le"], "netboot", "rhels9.2", "ppc64le"),
    ],
    linuximage: [
      { imagename: IMAGES.netboot, addkcmdline: "quiet" },
      {
        imagename: IMAGES.statelite,
        addkcmdline: "quiet R::crashkernel=auto rd.node=#NODEATTRIB:nodetype:os#",
        rootimgdir: "/install/netboot/rhels9.2/x86_64/statelite",
      },
      {
        imagename: IMAGES["statelite-ramdisk"],
        rootimgdir: "/install/netboot/rhels9.2/x86_64/ramdisk",
      },
      { imagename: IMAGES["install-rhel"], addkcmdline: "quiet" },
      {
        imagename: IMAGES["install-ubuntu"],
        template: "/opt/xcat/share/xcat/install/ubuntu/compute.subiquity.tmpl",
      },
      {
        imagename: IMAGES["netboot-ppc64le"],
        rootimgdir: "/install/netboot/rhels9.2/ppc64le/compute",
      },
    ],
  });
  const netboot = "/install/netboot/rhels9.2/x86_64/compute";
  await write(root, `${netboot}/kernel`, efiStubKernel());
  await write(root, `${netboot}/initrd-stateless.gz`, "stateless initrd\n");
  await write(root, `${netboot}/rootimg.cpio.gz`, "packed root\n");
  const statelite = "/install/netboot/rhels9.2/x86_64/statelite";
  await write(root, `${statelite}/kernel`, "plain kernel\n");
  await write(root, `${statelite}/initrd-statelite.gz`, "statelite initrd\n");
  const ramdisk = "/install/netboot/rhels9.2/x86_64/ramdisk";
  await write(root, `${ramdisk}/kernel`, "plain kernel\n");
  await write(root, `${ramdisk}/initrd-stateless.gz`, "stateless initrd\n");
  await write(root, `${ramdisk}/rootimg-statelite.gz`, "statelite root\n");
  const ppc = "/install/netboot/rhels9.2/ppc64le/compute";
  await write(root, `${ppc}/kernel`, "ppc kernel\n");
  await write(root, `${ppc}/initrd-stateless.gz`, "ppc initrd\n");
  await write(root, `${ppc}/rootimg.tar.xz`, "packed root\n");
  await write(root, "/install/rhels9.2/x86_64/images/pxeboot/vmlinuz", "installer kernel\n");
  await write(root, "/install/rhels9.2/x86_64/images/pxeboot/initrd.img", "installer initrd\n");
  await write(root, "/install/sles15.5/x86_64/1/boot/x86_64/loader/linux", "sles kernel\n");
  await write(root, "/install/sles15.5/x86_64/1/boot/x86_64/loader/initrd", "sles initrd\n");
  await write(root, "/install/ubuntu22.04/x86_64/casper/vmlinuz", "ubuntu kernel\n");
  await write(root, "/install/ubuntu22.04/x86_64/casper/initrd", "ubuntu initrd\n");
  await writeSyscloneImage(root, IMAGES.sysclone);
}

/**
 * A sysclone image as capture leaves it (a small repository with a kernel, the layout beside
 * it) and its deploy environment as nodeset built it, stamped up to date, so nodeset stages it
 * without building (a real build needs a real root: core/sysclone/sysclone_clone_test.ts).
 */
export async function writeSyscloneImage(root: string, image: string): Promise<void> {
  const dirs = syscloneDirectories("/install", image);
  await write(root, `${dirs.repository}/boot/vmlinuz-5.14.0-284.11.1.el9_2.x86_64`, "kernel\n");
  await write(root, `${dirs.repository}/etc/hostname`, "golden\n");
  const layoutText = serializeDiskLayout(HYBRID_LAYOUT);
  await write(root, dirs.layout, layoutText);
  const files = SYSCLONE_DEPLOY_FILES;
  await write(root, `${dirs.deploy}/${files.kernel}`, "sysclone deploy kernel\n");
  await write(root, `${dirs.deploy}/${files.initrd}`, "sysclone deploy initrd\n");
  await write(root, `${dirs.deploy}/${files.archive}`, "image archive\n");
  const stamp = await deployStamp(
    { repository: hostPath(root, dirs.repository) },
    layoutText,
    [],
    "5.14.0-284.11.1.el9_2.x86_64",
  );
  await write(root, `${dirs.deploy}/${files.stamp}`, stamp);
}

function image(name: string, provmethod: string, osvers: string, osarch: string) {
  return { imagename: name, imagetype: "linux", provmethod, osvers, osarch, profile: "compute" };
}

/** Opens the root's database (close it after use). */
export function openTestStore(root: string): Store {
  return openSqliteStore(hostPath(root, DEFAULT_DB));
}

/** Runs core nodeset in `root` with {@linkcode TEST_NETWORK}. */
export async function runNodeset(
  root: string,
  range: string,
  action: NodesetAction,
  options: { noUpdateInitrd?: boolean; network?: NodesetNetwork } = {},
): Promise<NodesetResult> {
  const store = openTestStore(root);
  try {
    return await nodeset(
      {
        store: () => Promise.resolve(store),
        root,
        cwd: root,
        env: {},
        progress: () => silentProgress,
        runner: systemRunner,
      },
      { range, action, noUpdateInitrd: options.noUpdateInitrd ?? false },
      options.network ?? TEST_NETWORK,
    );
  } finally {
    store.close();
  }
}

/**
 * Every file and link under the root's /tftpboot whose name mentions `node` or one of its
 * addresses, as text: files with their contents, symlinks with their targets, hard links with
 * the file they share an inode with.
 */
export async function entryListing(
  root: string,
  node: string,
  keys: readonly string[],
): Promise<string> {
  const tftp = hostPath(root, "/tftpboot");
  const found: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory) await walk(join(dir, entry.name), path);
      else if (keys.some((key) => entry.name.includes(key))) found.push(path);
    }
  };
  await walk(tftp, "");
  // The node's own entry first among paths sharing an inode, so hard links name it.
  const own = (path: string) => path.slice(path.lastIndexOf("/") + 1) === node ? 0 : 1;
  found.sort((a, b) => own(a) - own(b) || (a < b ? -1 : a > b ? 1 : 0));
  if (found.length === 0) return `(no files for ${node})\n`;
  const inodes = new Map<string, string>();
  let text = "";
  for (const path of found) {
    const info = await Deno.lstat(join(tftp, path));
    if (info.isSymlink) {
      text += `== ${path} -> ${await Deno.readLink(join(tftp, path))}\n`;
      continue;
    }
    const key = `${info.dev}:${info.ino}`;
    const shared = inodes.get(key);
    if (shared !== undefined) {
      text += `== ${path} (hard link of ${shared})\n`;
      continue;
    }
    inodes.set(key, path);
    text += `== ${path}\n${await Deno.readTextFile(join(tftp, path))}\n`;
  }
  return text;
}
