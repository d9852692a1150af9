// osimg's netboot initrd, assembled from the image's own busybox and kernel modules.

import { posix } from "node:path";
import { bytesContent, type Entry, type EntryMeta } from "../../formats/archive/entry.ts";
import { cpioStream } from "../../formats/archive/cpio_newc.ts";
import { elfDependencies } from "../../formats/linux/elf.ts";
import {
  moduleLoadOrder,
  parseModulesBuiltin,
  parseModulesDep,
} from "../../formats/linux/modules_dep.ts";
import { collectBytes } from "../../formats/bytes.ts";
import { compressToFile } from "../compress/compress.ts";
import { decompress } from "../compress/decompress.ts";
import { NotFoundError } from "../errors.ts";
import type { ProcessRunner } from "../process.ts";
import { resolveInRoot } from "../tree/root_path.ts";
import { fileChunks } from "../tree/files.ts";
import { NETBOOT_INIT, UDHCPC_SCRIPT } from "./netboot_init_script.ts";

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

/** What was put in, for genimage's report. */
export interface NetbootInitrdSummary {
  /** Module files in load order, relative to /lib/modules/<kernelVersion>. */
  modules: string[];
  /** Programs taken from the image besides busybox (zstd when the image has it). */
  programs: string[];
  bytes: number;
}

/** Where a busybox may live in an image, most usual first. */
export const BUSYBOX_PATHS = [
  "/usr/bin/busybox",
  "/bin/busybox",
  "/usr/sbin/busybox",
  "/sbin/busybox",
];

/** Programs the init uses when the image has them: zstd unpacks rootimg.*.zst. */
const OPTIONAL_PROGRAMS = ["/usr/bin/zstd", "/bin/zstd"];

/**
 * Directories the dynamic loader searches by default on the distributions osimg builds
 * (glibc's multiarch and lib64 layouts); libraries are looked up here inside the image.
 */
const LIBRARY_DIRECTORIES = [
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib/powerpc64le-linux-gnu",
  "/usr/lib/powerpc64le-linux-gnu",
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
];

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
  const { rootimg, kernelVersion } = options;
  const members = new Map<string, Entry>();
  const meta = (path: string, mode: number): EntryMeta => ({
    path,
    mode,
    uid: 0,
    gid: 0,
    uname: "root",
    gname: "root",
    mtime: options.mtime,
    xattrs: new Map(),
  });
  const addFile = (path: string, bytes: Uint8Array, mode: number) => {
    addParents(path);
    members.set(path, { ...meta(path, mode), kind: "file", content: bytesContent(bytes) });
  };
  const addParents = (path: string) => {
    for (let dir = posix.dirname(path); dir !== "."; dir = posix.dirname(dir)) {
      if (!members.has(dir)) members.set(dir, { ...meta(dir, 0o755), kind: "dir" });
    }
  };
  for (const dir of ["dev", "proc", "sys", "run", "tmp", "newroot", "etc/osimg"]) {
    members.set(dir, { ...meta(dir, 0o755), kind: "dir" });
    addParents(dir);
  }
  // The kernel opens /dev/console for init before anything is mounted: without the node, init
  // runs with no stdout and its messages are lost.
  members.set("dev/console", {
    ...meta("dev/console", 0o600),
    kind: "chardev",
    devmajor: 5,
    devminor: 1,
  });

  const busybox = await findInImage(rootimg, BUSYBOX_PATHS);
  if (!busybox) {
    throw new NotFoundError(
      `Cannot build the netboot initrd: the image ${rootimg} has no busybox ` +
        `(looked for ${
          BUSYBOX_PATHS.join(", ")
        }); add busybox to its pkglist and run genimage again`,
    );
  }
  const programs: string[] = [];
  await addProgram(rootimg, busybox.host, "bin/busybox", addFile, members);
  // The kernel execs /init by its "#!/bin/sh" line before busybox has installed its applets.
  members.set("bin/sh", { ...meta("bin/sh", 0o777), kind: "symlink", target: "busybox" });
  const zstd = await findInImage(rootimg, OPTIONAL_PROGRAMS);
  if (zstd) {
    await addProgram(rootimg, zstd.host, "bin/zstd", addFile, members);
    programs.push(zstd.path);
  }

  const modules = await moduleFiles(runner, options);
  for (const module of modules) addFile(module.path, module.bytes, 0o644);
  const encoder = new TextEncoder();
  addFile("init", encoder.encode(NETBOOT_INIT), 0o755);
  addFile("etc/osimg/udhcpc.script", encoder.encode(UDHCPC_SCRIPT), 0o755);
  addFile("etc/osimg/kernel", encoder.encode(`${kernelVersion}\n`), 0o644);
  addFile(
    "etc/osimg/modules",
    encoder.encode(modules.map((module) => module.relative + "\n").join("")),
    0o644,
  );
  if (options.mode === "statelite") {
    addFile("etc/osimg/mode", encoder.encode("statelite\n"), 0o644);
  }
  if (options.rootlimit) {
    addFile("etc/osimg/rootlimit", encoder.encode(`${options.rootlimit}\n`), 0o644);
  }

  const sorted = [...members.keys()].sort().map((path) => members.get(path)!);
  const bytes = await compressToFile(runner, "gzip", cpioStream(sorted), output, { level: 9 });
  return { modules: modules.map((module) => module.relative), programs, bytes };
}

export async function findInImage(
  rootimg: string,
  candidates: readonly string[],
): Promise<{ path: string; host: string } | undefined> {
  for (const path of candidates) {
    const host = await resolveInRoot(rootimg, path);
    if (host && (await Deno.stat(host)).isFile) return { path, host };
  }
  return undefined;
}

/** Adds a program and, when it is dynamically linked, its loader and libraries from the image. */
export async function addProgram(
  rootimg: string,
  host: string,
  path: string,
  addFile: (path: string, bytes: Uint8Array, mode: number) => void,
  members: ReadonlyMap<string, Entry>,
): Promise<void> {
  const pending: Array<{ host: string; path: string; mode: number }> = [{
    host,
    path,
    mode: 0o755,
  }];
  while (pending.length > 0) {
    const next = pending.shift()!;
    if (members.has(next.path)) continue;
    const bytes = await Deno.readFile(next.host);
    addFile(next.path, bytes, next.mode);
    const dependencies = elfDependencies(bytes, next.host);
    if (dependencies.interpreter) {
      const loader = await resolveInRoot(rootimg, dependencies.interpreter);
      if (!loader) {
        throw new NotFoundError(
          `Cannot build the netboot initrd: ${next.path} needs the loader ${dependencies.interpreter}, ` +
            `which the image does not have`,
        );
      }
      pending.push({ host: loader, path: dependencies.interpreter.slice(1), mode: 0o755 });
    }
    for (const soname of dependencies.needed) {
      const found = await findInImage(
        rootimg,
        LIBRARY_DIRECTORIES.map((dir) => `${dir}/${soname}`),
      );
      if (!found) {
        throw new NotFoundError(
          `Cannot build the netboot initrd: ${next.path} needs ${soname}, which the image does not have`,
        );
      }
      pending.push({ host: found.host, path: found.path.slice(1), mode: 0o755 });
    }
  }
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
  options: NetbootInitrdOptions,
): Promise<ModuleFile[]> {
  const { rootimg, kernelVersion } = options;
  const moduleDir = `/lib/modules/${kernelVersion}`;
  const depPath = await resolveInRoot(rootimg, `${moduleDir}/modules.dep`);
  if (!depPath) {
    throw new NotFoundError(
      `Cannot build the netboot initrd: the image has no ${moduleDir}/modules.dep ` +
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
      `Cannot build the netboot initrd: kernel ${kernelVersion} has no module ${
        unknown.join(", ")
      } ` +
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
        `Cannot build the netboot initrd: modules.dep lists ${relative}, which is not in ${moduleDir}`,
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
