// The boot files of a diskless image from its rootimg: the newest kernel of the image copied out
// and osimg's netboot initrd built for it (genimage and imgcapture both end with this step).

import { NotFoundError } from "../errors.ts";
import type { ProcessRunner } from "../process.ts";
import { exists } from "../tree/files.ts";
import { resolveInRoot } from "../tree/root_path.ts";
import { buildNetbootInitrd, type NetbootInitrdSummary } from "./netboot_initrd.ts";

/** Kernel images as distros name them in /boot (xCAT's order: vmlinux, vmlinuz, image). */
const KERNEL_PREFIXES = ["vmlinuz-", "vmlinux-", "image-"];

/** Modules the initrd carries when the kernel has them: a squashfs root needs loop and overlay. */
export const ROOT_FILESYSTEM_DRIVERS: readonly string[] = ["squashfs", "loop", "overlay"];

/** Compares kernel versions as `sort -V` does: digit runs by value, the rest as text. */
export function compareKernelVersions(a: string, b: string): number {
  const parts = (text: string) => text.match(/\d+|\D+/g) ?? [];
  const left = parts(a);
  const right = parts(b);
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const x = left[index];
    const y = right[index];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y)) return Number(x) - Number(y) || x.length - y.length;
    return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * The kernels in an image by version: /boot/{vmlinuz,vmlinux,image}-<v> (rescue kernels left
 * aside) and /lib/modules/<v>/vmlinuz (where Fedora and EL 9 put it). Paths are host paths,
 * symbolic links resolved inside the image.
 */
export async function kernelsIn(rootimg: string): Promise<Map<string, string>> {
  const candidates = new Map<string, string>();
  const names = async (path: string) => {
    const dir = await resolveInRoot(rootimg, path);
    if (!dir) return [];
    return (await Array.fromAsync(Deno.readDir(dir)).catch(() => [])).map((entry) => entry.name)
      .sort();
  };
  const file = async (path: string) => {
    const host = await resolveInRoot(rootimg, path);
    return host && (await Deno.stat(host)).isFile ? host : undefined;
  };
  for (const name of await names("/lib/modules")) {
    const host = await file(`/lib/modules/${name}/vmlinuz`);
    if (host) candidates.set(name, host);
  }
  for (const prefix of [...KERNEL_PREFIXES].reverse()) {
    for (const name of await names("/boot")) {
      if (!name.startsWith(prefix) || /rescue/.test(name)) continue;
      const host = await file(`/boot/${name}`);
      if (host) candidates.set(name.slice(prefix.length), host);
    }
  }
  return candidates;
}

/** The kernel to boot: `wanted` if given, else the newest in the image (xCAT's genimage rule). */
export async function findKernel(
  rootimg: string,
  wanted?: string,
): Promise<{ version: string; file: string } | undefined> {
  const candidates = await kernelsIn(rootimg);
  const version = wanted ?? [...candidates.keys()].sort(compareKernelVersions).at(-1);
  const file = version === undefined ? undefined : candidates.get(version);
  return version !== undefined && file !== undefined ? { version, file } : undefined;
}

/** What {@linkcode buildNetbootBootFiles} builds from. */
export interface NetbootBootFilesOptions {
  /** The image's root on this host. */
  rootimg: string;
  /** The kernel version to boot; the newest in the image when absent. */
  kernelVersion?: string;
  /** Modules the node must have (netdrivers, in load order). */
  drivers: readonly string[];
  /** Modules added when the kernel has them (the distro's default net drivers and so on). */
  optionalDrivers: readonly string[];
  rootlimit?: string;
  /** Every initrd member's mtime and both files' mtime; the kernel file's own when absent. */
  mtime?: number;
  /** What to say when the image has no kernel (the verb knows what the admin should do). */
  noKernel: (rootimg: string) => string;
}

/** What was built. */
export interface NetbootBootFiles {
  kernelVersion: string;
  initrd: NetbootInitrdSummary;
}

/**
 * Writes the image's kernel to `kernelPath` and its stateless netboot initrd to `initrdPath`
 * (both host paths the caller chose, usually staged names renamed into place later). modules.dep
 * is made with depmod when the image lacks it (a root copied without running the kernel
 * package's postinst).
 *
 * @example
 * ```ts
 * await buildNetbootBootFiles(ctx.runner, { rootimg, drivers: ["virtio_net"],
 *   optionalDrivers: [], noKernel: () => "no kernel" }, `${dir}/kernel`, `${dir}/initrd-stateless.gz`);
 * ```
 */
export async function buildNetbootBootFiles(
  runner: ProcessRunner,
  options: NetbootBootFilesOptions,
  kernelPath: string,
  initrdPath: string,
): Promise<NetbootBootFiles> {
  const kernel = await findKernel(options.rootimg, options.kernelVersion);
  if (!kernel) throw new NotFoundError(options.noKernel(options.rootimg));
  const modules = await resolveInRoot(options.rootimg, `/lib/modules/${kernel.version}`);
  if (modules && !await exists(`${modules}/modules.dep`)) {
    await runner.run(["depmod", "-b", options.rootimg, kernel.version]);
  }
  const mtime = options.mtime ??
    Math.floor(((await Deno.stat(kernel.file)).mtime?.getTime() ?? 0) / 1000);
  await Deno.copyFile(kernel.file, kernelPath);
  await Deno.chmod(kernelPath, 0o644);
  const initrd = await buildNetbootInitrd(runner, {
    rootimg: options.rootimg,
    kernelVersion: kernel.version,
    drivers: options.drivers,
    optionalDrivers: [
      ...options.optionalDrivers.filter((driver) => !options.drivers.includes(driver)),
      ...ROOT_FILESYSTEM_DRIVERS,
    ],
    ...(options.rootlimit ? { rootlimit: options.rootlimit } : {}),
    mtime,
  }, initrdPath);
  await Deno.chmod(initrdPath, 0o644);
  for (const path of [kernelPath, initrdPath]) await Deno.utime(path, mtime, mtime);
  return { kernelVersion: kernel.version, initrd };
}
