// genimage: a diskless image's root from its package lists, then its kernel and netboot initrds.

import { compareKernelVersions, findKernel, kernelsIn } from "./netboot_boot_files.ts";
import { basename, dirname, posix } from "node:path";
import type { Context } from "../context.ts";
import { hostPathOf, installDir, tftpDir } from "../context.ts";
import {
  ConflictError,
  ExternalCommandError,
  InvalidInputError,
  NotFoundError,
  type OsimgError,
} from "../errors.ts";
import { loadOsImage, type OsImage, rootImgDir } from "../image/osimage.ts";
import { withImageMounts } from "../image/image_mounts.ts";
import { resolveInRoot } from "../tree/root_path.ts";
import { syncFilesIntoImage } from "../tree/sync_files.ts";
import { exists, makeDirectories, removeEmptyDirectories } from "../tree/files.ts";
import { installPackages } from "./packages.ts";
import { buildNetbootInitrd } from "./netboot_initrd.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";
import { type PackageList, readPackageList } from "../../formats/xcat/pkglist.ts";
import { parseSynclist } from "../../formats/xcat/synclist.ts";
import { findProvmethod, type Provmethod } from "../../providers/provmethods/provmethods.ts";
import { type ImageTarget, imageTargetOf } from "../../providers/distros/distros.ts";

/** What the command line gives genimage besides the image name (xCAT's flags). */
export interface GenimageOptions {
  /** -n: drivers the initrd must hold, before the family's defaults (comma list, `.ko` allowed). */
  netdrivers?: string;
  /** -k: the kernel version to boot (else linuximage.kernelver, else the newest in the image). */
  kernelver?: string;
  /** -g: the kernel package's version (written back as linuximage.krpmver). */
  krpmver?: string;
  /** -m statelite: build initrd-statelite.gz too. */
  statelite?: boolean;
  /** -l: the node's tmpfs size for / (bytes or k/m/g), baked into the initrds. */
  rootlimit?: string;
  /** -t (deprecated in xCAT): the size of the /tmp and /var/tmp tmpfs in the image's fstab. */
  tmplimit?: string;
  /** --permission: the mode of /.statelite in the image (default linuximage.permission or 755). */
  permission?: string;
  /** --onlyinitrd: only the kernel and the initrds, from the existing rootimg. */
  onlyinitrd?: boolean;
  /** --noupdate: the installed packages are not updated. */
  noupdate?: boolean;
  /** -v: the package manager's and the postinstall scripts' own output. */
  verbose?: boolean;
  /** SOURCE_DATE_EPOCH (read by cmd/): the initrds' member times. */
  sourceDateEpoch?: number;
  /** Aborted by SIGINT/SIGTERM: the running step is killed, mounts come off, the run throws. */
  signal?: AbortSignal;
}

/** What genimage built. */
export interface GenimageResult {
  rootimgdir: string;
  kernelVersion: string;
  /** The initrd files written, management-node paths. */
  initrds: string[];
  /** The package manager that ran (undefined with --onlyinitrd). */
  packageManager?: string;
  /** Module files in the initrds, in load order. */
  modules: string[];
}

/** Modules the initrds carry when the kernel has them: squashfs+overlay roots, NFS statelite. */
const ROOT_FILESYSTEM_DRIVERS = ["squashfs", "loop", "overlay"];
const STATELITE_DRIVERS = ["nfs", "nfsv3", "nfsv4"];

/** xCAT's driver names that are not module names (imgutils.pm maps them the same way). */
const DRIVER_ALIASES: Readonly<Record<string, string>> = { mlx_en: "mlx4_en" };

/** Everything checked before the first change: the run's plan. */
interface GenimagePlan {
  image: OsImage;
  provmethod: Provmethod;
  target: ImageTarget;
  osvers: string;
  arch: string;
  profile: string;
  rootimgdir: string;
  /** Host paths. */
  dirHost: string;
  rootimg: string;
  pkglist?: PackageList;
  otherpkglist?: PackageList;
  postinstall: { script: string; args: string[] }[];
  synclists: string[];
  drivers: string[];
  optionalDrivers: string[];
  kernelver?: string;
  permission: string;
  initrds: ("stateless" | "statelite")[];
}

/**
 * genimage (xCAT's genimage.pm and netboot/<os>/genimage): installs the image's pkglist and
 * otherpkglist into `<rootimgdir>/rootimg` through its distro's package manager (creating the
 * root on the first run, installing what the lists gained and updating the rest on later ones),
 * writes the files a diskless node needs, runs the postinstall scripts and applies the
 * synclists, copies the kernel to `<rootimgdir>/kernel` and builds `initrd-stateless.gz` (and
 * `initrd-statelite.gz`), then writes back to the definition what xCAT writes. /proc, /sys and
 * /dev are mounted in the root only while packages are installed and postinstall runs.
 *
 * Every input is checked first: a refused run changes neither the tree nor the definition.
 *
 * @example
 * ```ts
 * await genimage(ctx, "debian12-x86_64-netboot-compute", { netdrivers: "virtio_net" });
 * ```
 */
export async function genimage(
  ctx: Context,
  name: string,
  options: GenimageOptions = {},
): Promise<GenimageResult> {
  const plan = await planGenimage(ctx, name, options);
  const { rootimg } = plan;
  const signal = options.signal;
  let packageManager: string | undefined;

  if (!options.onlyinitrd) {
    ctx.reporter.line(`Generating image: ${name}`);
    const restoreResolver = hostResolver(rootimg);
    try {
      const result = await installPackages(ctx, {
        root: rootimg,
        osvers: plan.osvers,
        arch: plan.arch,
        release: plan.target.release,
        packageManager: plan.target.build.packageManager(plan.target.release),
        pkglist: plan.pkglist!,
        ...(plan.otherpkglist ? { otherpkglist: plan.otherpkglist } : {}),
        pkgdir: kernelRepositories(ctx, plan),
        ...(plan.image.linuximage.otherpkgdir
          ? { otherpkgdir: plan.image.linuximage.otherpkgdir }
          : {}),
        noupdate: options.noupdate ?? false,
        updateExclude: plan.kernelver ? [`${plan.target.build.kernelPackage(plan.arch)}*`] : [],
        verbose: options.verbose ?? false,
        around: (work) =>
          withImageMounts(ctx.runner, rootimg, async () => {
            // Packages installed in the chroot (apt) resolve the mirror with this machine's DNS.
            await restoreResolver.install();
            return await work();
          }),
        ...(signal ? { signal } : {}),
      });
      packageManager = result.packageManager;
    } finally {
      await restoreResolver.restore();
    }
    signal?.throwIfAborted();
    await writeNodeFiles(plan, options);
    if (plan.postinstall.length > 0) {
      const kernel = await findKernel(rootimg, plan.kernelver);
      await withImageMounts(ctx.runner, rootimg, async () => {
        for (const entry of plan.postinstall) {
          await runPostinstall(ctx, plan, entry, kernel?.version ?? "", options);
        }
      });
      signal?.throwIfAborted();
    }
    if (plan.synclists.length > 0) {
      const report = await syncFilesIntoImage(ctx.root, plan.synclists, rootimg);
      for (const note of report.notes) ctx.reporter.note(note);
      if (options.verbose) {
        for (const path of report.written) ctx.reporter.line(`synced ${path}`);
      }
    }
  }

  const kernel = await findKernel(rootimg, plan.kernelver);
  if (!kernel) throw await kernelMissing(plan);
  await ensureModulesDep(ctx, rootimg, kernel.version);
  const kernelInfo = await Deno.stat(kernel.file);
  const mtime = options.sourceDateEpoch ?? Math.floor((kernelInfo.mtime?.getTime() ?? 0) / 1000);

  // Everything is built under temporary names first and renamed into place together at the
  // end: a driver the kernel lacks leaves the previous kernel and initrds as they were.
  const staged = new StagedFiles(mtime);
  const initrds: string[] = [];
  let modules: string[] = [];
  try {
    await staged.add(plan.dirHost, "kernel", (temporary) => Deno.copyFile(kernel.file, temporary));
    for (const mode of plan.initrds) {
      const file = `initrd-${mode}.gz`;
      await staged.add(plan.dirHost, file, async (temporary) => {
        const summary = await buildNetbootInitrd(ctx.runner, {
          rootimg,
          kernelVersion: kernel.version,
          drivers: plan.drivers,
          optionalDrivers: [
            ...plan.optionalDrivers,
            ...ROOT_FILESYSTEM_DRIVERS,
            ...(mode === "statelite" ? STATELITE_DRIVERS : []),
          ],
          ...(options.rootlimit ? { rootlimit: options.rootlimit } : {}),
          mtime,
          mode,
        }, temporary);
        modules = summary.modules;
      });
      initrds.push(`${plan.rootimgdir}/${file}`);
      signal?.throwIfAborted();
    }
    // xCAT copies the boot files where nodeset finds them, so nodeset need not run again.
    const bootDir = hostPathOf(ctx, `${await tftpDir(await ctx.store())}/xcat/osimage/${name}`);
    for (const file of ["kernel", ...plan.initrds.map((mode) => `initrd-${mode}.gz`)]) {
      await staged.add(
        bootDir,
        file,
        (temporary) => Deno.copyFile(staged.path(plan.dirHost, file), temporary),
      );
    }
    signal?.throwIfAborted();
    await staged.commit();
  } finally {
    await staged.discard();
  }
  ctx.reporter.line(`the kernel ${kernel.version} is in ${plan.rootimgdir}/kernel`);
  for (const mode of plan.initrds) {
    ctx.reporter.line(`the initial ramdisk for ${mode} is generated successfully.`);
  }

  const store = await ctx.store();
  await store.write(async (writer) => {
    const row: Record<string, string> = {
      imagename: name,
      rootimgdir: plan.rootimgdir,
      permission: plan.permission,
    };
    if (options.netdrivers !== undefined) row.netdrivers = options.netdrivers;
    if (options.kernelver !== undefined) row.kernelver = options.kernelver;
    if (options.krpmver !== undefined) row.krpmver = options.krpmver;
    await writer.upsert("linuximage", row);
  });
  return {
    rootimgdir: plan.rootimgdir,
    kernelVersion: kernel.version,
    initrds,
    ...(packageManager ? { packageManager } : {}),
    modules,
  };
}

/**
 * The image genimage's obsolete `-o osver -p profile -a arch` form names: the one osimage
 * genimage builds with those values.
 */
export async function findGenimageImage(
  ctx: Context,
  osvers: string,
  profile: string,
  osarch: string,
): Promise<string> {
  const rows = await (await ctx.store()).read((reader) =>
    reader.rows("osimage", { osvers, profile, osarch })
  );
  const names = rows.filter((row) => findProvmethod(row.provmethod)?.genimage)
    .map((row) => row.imagename!).sort();
  if (names.length === 0) {
    throw new NotFoundError(
      `No netboot or statelite osimage has osvers=${osvers}, profile=${profile} and osarch=${osarch}: ` +
        `define one with mkdef -t osimage, then run 'genimage <osimage name>'.`,
    );
  }
  if (names.length > 1) {
    throw new ConflictError(
      `Several osimages have osvers=${osvers}, profile=${profile} and osarch=${osarch}: ` +
        `${names.join(", ")}. Name one: 'genimage <osimage name>'.`,
    );
  }
  return names[0]!;
}

/** Checks everything and reads every list; nothing is changed here. */
async function planGenimage(
  ctx: Context,
  name: string,
  options: GenimageOptions,
): Promise<GenimagePlan> {
  const store = await ctx.store();
  const image = await store.read((reader) => loadOsImage(reader, name));
  const { osimage, linuximage } = image;
  for (const attribute of ["osvers", "osarch", "profile", "provmethod"] as const) {
    if (!osimage[attribute]) {
      throw new InvalidInputError(
        `The osimage '${name}' has no ${attribute}: set it with 'chdef -t osimage -o ${name} ${attribute}=<value>'.`,
      );
    }
  }
  const osvers = osimage.osvers!;
  const arch = osimage.osarch!;
  const profile = osimage.profile!;
  const provmethod = findProvmethod(osimage.provmethod);
  if (!provmethod?.genimage) {
    throw new InvalidInputError(
      `genimage builds netboot and statelite images; the osimage '${name}' has provmethod=${osimage.provmethod}.`,
    );
  }
  const target = imageTargetOf(osvers);
  if (!target) {
    throw new InvalidInputError(
      `genimage cannot build osvers=${osvers}: no distro provider builds it (rhels, centos, rocky, ` +
        `alma, ol, fedora, sles, leap, ubuntu and debian with a known release do).`,
    );
  }
  checkValue("-l rootlimit", options.rootlimit, /^\d+[kKmMgG%]?$/, "a size such as 2g or 800m");
  checkValue("-t tmplimit", options.tmplimit, /^\d+[kKmMgG%]?$/, "a size such as 10m");
  const permission = options.permission ?? linuximage.permission ?? "755";
  checkValue("--permission", permission, /^[0-7]{3,4}$/, "an octal mode such as 755");
  const kernelver = options.kernelver ?? linuximage.kernelver;
  checkValue("-k kernelver", kernelver, /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/, "a kernel version");
  checkValue("-g krpmver", options.krpmver, /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/, "a package version");
  const drivers = driverNames(options.netdrivers ?? linuximage.netdrivers ?? "", "-n netdrivers");
  const defaults = (target.build.netdrivers[arch] ?? []).map((driver) =>
    DRIVER_ALIASES[driver] ?? driver
  );

  const rootimgdir = rootImgDir(image, await installDir(store));
  const dirHost = hostPathOf(ctx, rootimgdir);
  const rootimg = `${dirHost}/rootimg`;
  const read = (path: string) => Deno.readTextFile(hostPathOf(ctx, path)).catch(() => undefined);
  let pkglist: PackageList | undefined;
  let otherpkglist: PackageList | undefined;
  const postinstall: { script: string; args: string[] }[] = [];
  const synclists = commaList(osimage.synclists);
  if (options.onlyinitrd) {
    if (!(await Deno.stat(rootimg).catch(() => undefined))?.isDirectory) {
      throw new NotFoundError(
        `Cannot rebuild the initrd of '${name}': ${rootimgdir}/rootimg does not exist; ` +
          `run 'genimage ${name}' without --onlyinitrd first.`,
      );
    }
  } else {
    if (!linuximage.pkglist) {
      throw new InvalidInputError(
        `The osimage '${name}' has no pkglist: set it with 'chdef -t osimage -o ${name} pkglist=<file>'.`,
      );
    }
    pkglist = await readPackageList(linuximage.pkglist, { read, env: ctx.env });
    if (pkglist.passes.length === 0) {
      throw new InvalidInputError(`The pkglist ${linuximage.pkglist} names no package.`);
    }
    if (linuximage.otherpkglist) {
      otherpkglist = await readPackageList(linuximage.otherpkglist, {
        read,
        env: ctx.env,
        attribute: "otherpkglist",
      });
    }
    for (const entry of commaList(linuximage.postinstall)) {
      const [script, ...args] = entry.split(/\s+/).filter((word) => word !== "");
      if (!script) continue;
      const info = await Deno.stat(hostPathOf(ctx, script)).catch(() => undefined);
      if (!info?.isFile) {
        throw new NotFoundError(`The postinstall script '${script}' does not exist.`);
      }
      if (((info.mode ?? 0) & 0o111) === 0) {
        throw new InvalidInputError(
          `The postinstall script '${script}' is not executable: chmod +x it.`,
        );
      }
      postinstall.push({ script, args });
    }
    for (const list of synclists) {
      const text = await read(list);
      if (text === undefined) {
        throw new NotFoundError(`Cannot sync files: the synclist '${list}' cannot be read.`);
      }
      try {
        parseSynclist(text);
      } catch (error) {
        throw new InvalidInputError(
          `The synclist '${list}' is invalid: ${(error as Error).message}`,
        );
      }
    }
  }
  const initrds = new Set<"stateless" | "statelite">(provmethod.genimage.initrds);
  if (options.statelite) initrds.add("statelite");
  return {
    image,
    provmethod,
    target,
    osvers,
    arch,
    profile,
    rootimgdir,
    dirHost,
    rootimg,
    ...(pkglist ? { pkglist } : {}),
    ...(otherpkglist ? { otherpkglist } : {}),
    postinstall,
    synclists,
    drivers,
    optionalDrivers: defaults.filter((driver) => !drivers.includes(driver)),
    ...(kernelver ? { kernelver } : {}),
    permission,
    initrds: [...initrds].sort(),
  };
}

function checkValue(flag: string, value: string | undefined, pattern: RegExp, what: string) {
  if (value !== undefined && !pattern.test(value)) {
    throw new InvalidInputError(`genimage ${flag} '${value}' is not ${what}.`);
  }
}

/** -n's drivers as module names: `.ko` dropped, xCAT's `allupdate` skipped, aliases mapped. */
function driverNames(list: string, flag: string): string[] {
  const names: string[] = [];
  for (const item of commaList(list)) {
    const name = item.replace(/\.ko$/, "");
    if (name === "allupdate") continue;
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new InvalidInputError(`genimage ${flag}: '${item}' is not a kernel module name.`);
    }
    const mapped = DRIVER_ALIASES[name] ?? name;
    if (!names.includes(mapped)) names.push(mapped);
  }
  return names;
}

/**
 * pkgdir, plus linuximage.kerneldir when -k names a kernel and the directory exists: xCAT adds
 * the kernel repositories there for the kernel the admin asked for.
 */
function kernelRepositories(ctx: Context, plan: GenimagePlan): string {
  const pkgdir = plan.image.linuximage.pkgdir ?? "";
  const kerneldir = plan.image.linuximage.kerneldir;
  if (!plan.kernelver || !kerneldir || !kerneldir.startsWith("/")) return pkgdir;
  try {
    if (!Deno.statSync(hostPathOf(ctx, kerneldir)).isDirectory) return pkgdir;
  } catch {
    return pkgdir;
  }
  return pkgdir ? `${pkgdir},${kerneldir}` : kerneldir;
}

// The kernel choice is shared with imgcapture (netboot_boot_files.ts); re-exported for callers.
export { compareKernelVersions, findKernel, kernelsIn };

async function kernelMissing(plan: GenimagePlan): Promise<OsimgError> {
  const found = [...(await kernelsIn(plan.rootimg)).keys()].sort(compareKernelVersions);
  const packageName = plan.target.build.kernelPackage(plan.arch);
  if (plan.kernelver) {
    return new NotFoundError(
      `The kernel ${plan.kernelver} (-k or linuximage.kernelver) is not in ` +
        `${plan.rootimgdir}/rootimg (${
          found.length > 0 ? `it has ${found.join(", ")}` : "it has no kernel"
        }): install it through the pkglist or name an installed kernel with -k.`,
    );
  }
  return new NotFoundError(
    `There is no kernel in ${plan.rootimgdir}/rootimg/boot: add ${packageName} to the pkglist ` +
      `and run genimage again.`,
  );
}

/** modules.dep is depmod's: run it (from this machine, on the image's tree) when it is missing. */
async function ensureModulesDep(ctx: Context, rootimg: string, version: string): Promise<void> {
  const dir = await resolveInRoot(rootimg, `/lib/modules/${version}`);
  if (!dir || await exists(`${dir}/modules.dep`)) return;
  await ctx.runner.run(["depmod", "-b", rootimg, version]);
}

/**
 * Files written under temporary names beside their final ones, then renamed into place
 * together (a node booting meanwhile gets the old files whole). Their mtime is `mtime`
 * (SOURCE_DATE_EPOCH or the kernel's), so an unchanged image gives the same files.
 */
class StagedFiles {
  readonly #staged: { dir: string; name: string; temporary: string }[] = [];
  readonly #created: string[] = [];

  constructor(readonly mtime: number) {}

  /** Where `name` in `dir` is staged (its temporary), for a copy of it. */
  path(dir: string, name: string): string {
    return this.#staged.find((file) => file.dir === dir && file.name === name)!.temporary;
  }

  async add(dir: string, name: string, write: (temporary: string) => Promise<void>) {
    if (!(await exists(dir))) {
      this.#created.unshift(...(await makeDirectories(dir)));
    }
    const temporary = `${dir}/.${name}.osimg-tmp-${Deno.pid}`;
    this.#staged.push({ dir, name, temporary });
    await write(temporary);
    await Deno.chmod(temporary, 0o644);
    await Deno.utime(temporary, this.mtime, this.mtime);
  }

  async commit(): Promise<void> {
    for (const file of this.#staged) {
      await Deno.rename(file.temporary, `${file.dir}/${file.name}`);
    }
    this.#staged.length = 0;
    this.#created.length = 0;
  }

  /** Removes what was not committed, and the directories made for it. */
  async discard(): Promise<void> {
    for (const file of this.#staged) await Deno.remove(file.temporary).catch(() => {});
    await removeEmptyDirectories(this.#created);
  }
}

/**
 * The image's /etc/resolv.conf while packages are installed: this machine's, so apt in the
 * chroot reaches its mirror by name; afterwards genimage's placeholder (the node's initrd writes
 * the servers DHCP gave it at boot).
 */
function hostResolver(
  rootimg: string,
): { install(): Promise<void>; restore(): Promise<void> } {
  return {
    async install() {
      const text = await Deno.readTextFile("/etc/resolv.conf").catch(() => undefined);
      if (text !== undefined) await writeInImage(rootimg, "/etc/resolv.conf", text, 0o644);
    },
    async restore() {
      if (await resolveInRoot(rootimg, "/etc")) {
        await writeInImage(rootimg, "/etc/resolv.conf", RESOLV_CONF, 0o644);
      }
    },
  };
}

const RESOLV_CONF =
  "# osimg genimage: the node's initrd writes the name servers DHCP gives it here at boot.\n";

/**
 * Writes `path` in the image without following a link out of it: the directory is resolved as
 * the image sees it, and a link (or anything) already at the name is replaced.
 */
async function writeInImage(
  rootimg: string,
  path: string,
  text: string,
  mode: number,
): Promise<void> {
  let dir = await resolveInRoot(rootimg, posix.dirname(path));
  if (!dir) {
    await Deno.mkdir(`${rootimg}${posix.dirname(path)}`, { recursive: true });
    dir = await resolveInRoot(rootimg, posix.dirname(path));
  }
  const host = `${dir}/${posix.basename(path)}`;
  const info = await Deno.lstat(host).catch(() => undefined);
  if (info && !info.isFile) await Deno.remove(host, { recursive: true });
  await Deno.writeTextFile(host, text, { mode });
  await Deno.chmod(host, mode);
}

/**
 * The files xCAT's generic_post writes that a diskless node needs, with nothing of this machine
 * or of the build time in them: the fstab of a tmpfs root (liteimg turns its root line `ro` for
 * statelite), a hostname placeholder (the initrd writes NODE= at boot; debootstrap copied this
 * machine's), an empty machine-id (each node makes its own at boot: a shared one breaks
 * journald and DHCP client ids), /etc/hosts when there is none, and the statelite directories.
 */
async function writeNodeFiles(plan: GenimagePlan, options: GenimageOptions): Promise<void> {
  const { rootimg } = plan;
  const tmp = options.tmplimit
    ? `tmpfs   /tmp     tmpfs   defaults,size=${options.tmplimit}   0 0\n` +
      `tmpfs   /var/tmp tmpfs   defaults,size=${options.tmplimit}   0 0\n`
    : "";
  await writeInImage(
    rootimg,
    "/etc/fstab",
    "# osimg genimage: the root of a diskless node is a tmpfs\n" +
      "devpts  /dev/pts devpts  gid=5,mode=620 0 0\n" +
      "tmpfs   /dev/shm tmpfs   defaults       0 0\n" +
      "proc    /proc    proc    defaults       0 0\n" +
      "sysfs   /sys     sysfs   defaults       0 0\n" +
      tmp +
      // xCAT writes passno 1; a tmpfs has no fsck, so 0 spares systemd a failing check.
      `${plan.profile}_${plan.arch} / tmpfs rw 0 0\n`,
    0o644,
  );
  await writeInImage(rootimg, "/etc/hostname", "localhost\n", 0o644);
  if (!(await resolveInRoot(rootimg, "/etc/hosts"))) {
    await writeInImage(
      rootimg,
      "/etc/hosts",
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
      0o644,
    );
  }
  if (await resolveInRoot(rootimg, "/etc/machine-id")) {
    await writeInImage(rootimg, "/etc/machine-id", "", 0o444);
  }
  const dbusId = `${rootimg}/var/lib/dbus/machine-id`;
  if ((await Deno.lstat(dbusId).catch(() => undefined))?.isFile) await Deno.remove(dbusId);
  for (const dir of ["/.statelite", "/.sllocal/localmnt", "/.sllocal/log"]) {
    await Deno.mkdir(`${rootimg}${dir}`, { recursive: true });
  }
  await Deno.chmod(`${rootimg}/.statelite`, parseInt(plan.permission, 8));
}

/** How many of a failed postinstall's last output lines its error carries. */
const POSTINSTALL_TAIL_LINES = 15;

/**
 * Runs one postinstall entry as xCAT does: `script <rootimg> <osver> <arch> <profile> [args]`
 * on this machine (not in the chroot), with the IMG_* environment.
 */
async function runPostinstall(
  ctx: Context,
  plan: GenimagePlan,
  entry: { script: string; args: string[] },
  kernelVersion: string,
  options: GenimageOptions,
): Promise<void> {
  const linux = plan.image.linuximage;
  const hostList = (value: string | undefined) =>
    commaList(value).map((path) => path.startsWith("/") ? hostPathOf(ctx, path) : path).join(",");
  const env: Record<string, string> = {
    IMG_NAME: plan.image.name,
    IMG_ARCH: plan.arch,
    IMG_OSVER: plan.osvers,
    IMG_PROFILE: plan.profile,
    IMG_KERNELVERSION: kernelVersion,
    IMG_PKGLIST: hostList(linux.pkglist),
    IMG_PKGDIR: hostList(linux.pkgdir),
    IMG_OTHERPKGLIST: hostList(linux.otherpkglist),
    IMG_OTHERPKGDIR: hostList(linux.otherpkgdir),
    IMG_ROOTIMGDIR: plan.dirHost,
  };
  const argv = [
    hostPathOf(ctx, entry.script),
    plan.rootimg,
    plan.osvers,
    plan.arch,
    plan.profile,
    ...entry.args,
  ];
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 200) tail.splice(0, tail.length - 200);
    if (options.verbose) ctx.reporter.info(line);
  };
  const progress = ctx.progress(`postinstall ${basename(entry.script)}`);
  try {
    await ctx.runner.stream(argv, {
      env,
      cwd: dirname(argv[0]!),
      onStdoutLine: onLine,
      onStderrLine: onLine,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (!(error instanceof ExternalCommandError)) throw error;
    const last = tail.filter((line) => line.trim() !== "").slice(-POSTINSTALL_TAIL_LINES);
    throw new ExternalCommandError(
      argv,
      error.code,
      last.join("\n"),
      `postinstall script ${entry.script} failed (exit code ${error.code})${
        last.length > 0 ? `: ${last.at(-1)!.trim()}` : ""
      }`,
      last.length > 0
        ? [`The last lines of ${basename(entry.script)}:`, ...last.map((line) => `  ${line}`)]
        : [],
    );
  } finally {
    progress.done();
  }
}
