// osimg's netboot initrd, assembled from the image's own busybox and kernel modules.

import {
  moduleLoadOrder,
  parseModulesBuiltin,
  parseModulesDep,
} from "../../formats/linux/modules_dep.ts";
import { collectBytes } from "../../formats/bytes.ts";
import { decompress } from "../compress/decompress.ts";
import { NotFoundError } from "../errors.ts";
import type { ProcessRunner } from "../process.ts";
import { resolveInRoot } from "../tree/root_path.ts";
import { fileChunks } from "../tree/files.ts";
import { NETBOOT_INIT } from "./netboot_init_script.ts";
import { findInImage, InitrdTree } from "./initrd_tree.ts";

/** What goes into a netboot initrd. */
export interface NetbootInitrdOptions {
  /** The image's root on this host (`<rootimgdir>/rootimg`). */
  rootimg: string;
  /** The kernel the initrd boots with: its modules come from /lib/modules/<kernelVersion>. */
  kernelVersion: string;
  /** Modules the node must have (netdrivers): each missing one is an error. */
  drivers: readonly string[];
  /** Modules added when the kernel has them (squashfs, loop, overlay for rootimg.sfs). */
  optionalDrivers: readonly string[];
  /** genimage -l: the tmpfs size when the kernel command line gives no rootlimit=. */
  rootlimit?: string;
  /** Every member's mtime (SOURCE_DATE_EPOCH, else a time derived from the image). */
  mtime: number;
  /**
   * "statelite": the init mounts the NFS root and the statelite state instead of fetching a
   * packed root (initrd-statelite.gz); default "stateless".
   */
  mode?: "stateless" | "statelite";
}

/** Which modules an initrd gets, from which image and kernel. */
export type ModuleOptions = Pick<
  NetbootInitrdOptions,
  "rootimg" | "kernelVersion" | "drivers" | "optionalDrivers"
>;

/** What was put in, for genimage's report. */
export interface NetbootInitrdSummary {
  /** Module files in load order, relative to /lib/modules/<kernelVersion>. */
  modules: string[];
  /** Programs taken from the image besides busybox (zstd when the image has it). */
  programs: string[];
  bytes: number;
}

/** Programs the init uses when the image has them: zstd unpacks rootimg.*.zst. */
const OPTIONAL_PROGRAMS = ["/usr/bin/zstd", "/bin/zstd"];

/**
 * Builds `<output>`: a gzip'd cpio newc initramfs whose /init (netboot_init_script.ts) brings up
 * the boot NIC, fetches `imgurl=` and switches to it. Everything in it comes from the image
 * (busybox, and the libraries it needs when it is not static; the kernel modules) or from osimg
 * (the scripts): nothing from the management node. The same image and options give the same
 * bytes: members sorted, owned by root, all with `mtime`, deterministic gzip.
 *
 * @example
 * ```ts
 * await buildNetbootInitrd(ctx.runner, { rootimg, kernelVersion: "6.1.0-57-amd64",
 *   drivers: ["virtio_net"], optionalDrivers: ["squashfs", "loop", "overlay"], mtime }, out);
 * ```
 */
export async function buildNetbootInitrd(
  runner: ProcessRunner,
  options: NetbootInitrdOptions,
  output: string,
): Promise<NetbootInitrdSummary> {
  const { rootimg } = options;
  const initrd = new InitrdTree(rootimg, "the netboot initrd", options.mtime, [
    "newroot",
    "etc/osimg",
  ]);
  await initrd.addBusybox("add busybox to its pkglist and run genimage again");
  const programs: string[] = [];
  const zstd = await findInImage(rootimg, OPTIONAL_PROGRAMS);
  if (zstd) {
    await initrd.addProgram(zstd.host, "bin/zstd");
    programs.push(zstd.path);
  }
  const modules = await addModules(initrd, runner, options);
  initrd.addText("init", NETBOOT_INIT, 0o755);
  initrd.addUdhcpcScript();
  if (options.mode === "statelite") initrd.addText("etc/osimg/mode", "statelite\n");
  if (options.rootlimit) initrd.addText("etc/osimg/rootlimit", `${options.rootlimit}\n`);
  const bytes = await initrd.write(runner, output, 9);
  return { modules: modules.map((module) => module.relative), programs, bytes };
}

/**
 * The modules (moduleFiles) put into `initrd`, with /etc/osimg/kernel and /etc/osimg/modules,
 * the load order the init follows.
 */
export async function addModules(
  initrd: InitrdTree,
  runner: ProcessRunner,
  options: ModuleOptions,
): Promise<ModuleFile[]> {
  const modules = await moduleFiles(runner, options, initrd.name);
  for (const module of modules) initrd.addFile(module.path, module.bytes, 0o644);
  initrd.addText("etc/osimg/kernel", `${options.kernelVersion}\n`);
  initrd.addText("etc/osimg/modules", modules.map((module) => module.relative + "\n").join(""));
  return modules;
}

export interface ModuleFile {
  /** Path inside the initrd. */
  path: string;
  /** Path relative to /lib/modules/<kernelVersion>, as /etc/osimg/modules lists it. */
  relative: string;
  bytes: Uint8Array;
}

/**
 * The driver modules and their dependencies, uncompressed (busybox's insmod loads plain .ko
 * only), in load order. Built-in drivers need no file.
 */
export async function moduleFiles(
  runner: ProcessRunner,
  options: ModuleOptions,
  name = "the netboot initrd",
): Promise<ModuleFile[]> {
  const { rootimg, kernelVersion } = options;
  const moduleDir = `/lib/modules/${kernelVersion}`;
  const depPath = await resolveInRoot(rootimg, `${moduleDir}/modules.dep`);
  if (!depPath) {
    throw new NotFoundError(
      `Cannot build ${name}: the image has no ${moduleDir}/modules.dep ` +
        `(is the kernel ${kernelVersion} installed in it? genimage -k names another)`,
    );
  }
  const modules = parseModulesDep(await Deno.readTextFile(depPath));
  const builtinPath = await resolveInRoot(rootimg, `${moduleDir}/modules.builtin`);
  const builtin = builtinPath
    ? parseModulesBuiltin(await Deno.readTextFile(builtinPath))
    : new Set<string>();
  const required = moduleLoadOrder(modules, options.drivers);
  const unknown = required.missing.filter((name) => !builtin.has(name.replaceAll("-", "_")));
  if (unknown.length > 0) {
    throw new NotFoundError(
      `Cannot build ${name}: kernel ${kernelVersion} has no module ${unknown.join(", ")} ` +
        `(netdrivers names modules of the image's kernel, as modprobe does)`,
    );
  }
  const optional = moduleLoadOrder(modules, options.optionalDrivers);
  const order = [...new Set([...required.paths, ...optional.paths])];
  const files: ModuleFile[] = [];
  for (const relative of order) {
    const host = await resolveInRoot(rootimg, `${moduleDir}/${relative}`);
    if (!host) {
      throw new NotFoundError(
        `Cannot build ${name}: modules.dep lists ${relative}, which is not in ${moduleDir}`,
      );
    }
    const plain = relative.replace(/\.ko\.(xz|gz|zst)$/, ".ko");
    const bytes = plain === relative
      ? await Deno.readFile(host)
      : await collectBytes(decompress(runner, fileChunks(host)));
    files.push({ path: `lib/modules/${kernelVersion}/${plain}`, relative: plain, bytes });
  }
  return files;
}
