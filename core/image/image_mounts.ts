// The pseudo-filesystems genimage mounts in an image root (proc, sys, dev), their unmounting, and
// the sweep of mounts an interrupted run left behind.

import type { Context } from "../context.ts";
import { hostPathOf, installDir } from "../context.ts";
import { ExternalCommandError, InvalidInputError, OsimgError } from "../errors.ts";
import type { ProcessRunner } from "../process.ts";
import { loadOsImage, rootImgDir } from "./osimage.ts";
import { type MountInfoEntry, mountsUnder, parseMountInfo } from "../../formats/linux/mountinfo.ts";

/** The mounts this process sees, now. */
export async function currentMounts(): Promise<MountInfoEntry[]> {
  return parseMountInfo(await Deno.readTextFile("/proc/self/mountinfo"));
}

/** The mount points at or below `dir` (a host path), latest first. */
export async function mountPointsUnder(
  dir: string,
  accept: (entry: MountInfoEntry) => boolean = () => true,
): Promise<string[]> {
  return mountsUnder(await currentMounts(), dir.replace(/\/+$/, "")).filter(accept).map((entry) =>
    entry.mountPoint
  );
}

/**
 * Unmounts every mount at or below `dir`, latest first. A mount still busy (a process killed
 * with its child still inside the root) is detached lazily (`umount -l`): it is gone from the
 * tree at once, so nothing can delete or pack through it. Returns the mount points removed.
 */
export async function unmountUnder(
  runner: ProcessRunner,
  dir: string,
  accept: (entry: MountInfoEntry) => boolean = () => true,
): Promise<string[]> {
  const removed: string[] = [];
  for (const mountPoint of await mountPointsUnder(dir, accept)) {
    const plain = await runner.run(["umount", mountPoint], { allowFailure: true });
    if (plain.code !== 0) {
      const lazy = await runner.run(["umount", "-l", mountPoint], { allowFailure: true });
      if (lazy.code !== 0 && (await mountPointsUnder(mountPoint)).includes(mountPoint)) {
        throw new ExternalCommandError(
          ["umount", "-l", mountPoint],
          lazy.code,
          lazy.stderr,
          `Cannot unmount ${mountPoint}: ${lazy.stderr.trim() || plain.stderr.trim()}. ` +
            `Unmount it by hand ('umount -l ${mountPoint}') before removing or packing the image.`,
        );
      }
    }
    removed.push(mountPoint);
  }
  return removed;
}

/** The directories of the root that receive a mount: each must be a real directory in it. */
const MOUNT_DIRECTORIES = ["proc", "sys", "dev"] as const;

/** Character devices a package script may open (mknod numbers from the kernel's devices.txt). */
const DEVICE_NODES: readonly [string, number, number][] = [
  ["null", 1, 3],
  ["zero", 1, 5],
  ["full", 1, 7],
  ["random", 1, 8],
  ["urandom", 1, 9],
  ["tty", 5, 0],
];

/**
 * Mounts proc, sysfs and a private /dev in `root`, runs `work`, and unmounts them whatever
 * happens (an error, an abort). /dev is a fresh tmpfs holding the usual nodes and its own devpts
 * instance — never a bind of this machine's /dev, whose files a `rm -rf rootimg` through the
 * mount would delete (xCAT issue #6143). A mount directory that is a symbolic link is refused:
 * mounting on it would follow the link out of the image.
 */
export async function withImageMounts<T>(
  runner: ProcessRunner,
  root: string,
  work: () => Promise<T>,
): Promise<T> {
  for (const name of MOUNT_DIRECTORIES) {
    const path = `${root}/${name}`;
    const info = await Deno.lstat(path).catch(() => undefined);
    if (info === undefined) await Deno.mkdir(path, { mode: 0o755 });
    else if (!info.isDirectory) {
      throw new InvalidInputError(
        `Cannot mount ${name} in the image: ${path} is not a directory (a link or file there ` +
          `would take the mount out of the image); replace it with an empty directory`,
      );
    }
  }
  try {
    await mount(runner, ["-t", "proc", "proc", `${root}/proc`]);
    await mount(runner, ["-t", "sysfs", "sysfs", `${root}/sys`]);
    await mount(runner, ["-t", "tmpfs", "-o", "mode=755,nosuid,size=64m", "tmpfs", `${root}/dev`]);
    for (const [name, major, minor] of DEVICE_NODES) {
      await runner.run([
        "mknod",
        "-m",
        "666",
        `${root}/dev/${name}`,
        "c",
        String(major),
        String(minor),
      ]);
    }
    for (const dir of ["pts", "shm"]) await Deno.mkdir(`${root}/dev/${dir}`);
    await mount(runner, [
      "-t",
      "devpts",
      "-o",
      "newinstance,ptmxmode=0666,mode=620,gid=5",
      "devpts",
      `${root}/dev/pts`,
    ]);
    await Deno.symlink("pts/ptmx", `${root}/dev/ptmx`);
    await Deno.symlink("/proc/self/fd", `${root}/dev/fd`);
    for (const [index, name] of ["stdin", "stdout", "stderr"].entries()) {
      await Deno.symlink(`/proc/self/fd/${index}`, `${root}/dev/${name}`);
    }
    return await work();
  } finally {
    await unmountUnder(runner, `${root}/proc`);
    await unmountUnder(runner, `${root}/sys`);
    await unmountUnder(runner, `${root}/dev`);
  }
}

async function mount(runner: ProcessRunner, args: string[]): Promise<void> {
  const result = await runner.run(["mount", ...args], { allowFailure: true });
  if (result.code !== 0) {
    throw new ExternalCommandError(
      ["mount", ...args],
      result.code,
      result.stderr,
      `Cannot mount ${args.at(-1)}: ${result.stderr.trim()} (genimage must run as root)`,
    );
  }
}

/**
 * The mounts a genimage makes in a root (and xCAT's genimage, which binds the host's devtmpfs on
 * /dev), by mount point and file system type: only these are swept. A mount an admin put in the
 * tree on purpose is theirs (packimage leaves its contents out, as find -xdev does).
 */
const GENIMAGE_MOUNTS: Readonly<Record<string, readonly string[]>> = {
  "/proc": ["proc"],
  "/sys": ["sysfs"],
  "/dev": ["tmpfs", "devtmpfs"],
  "/dev/pts": ["devpts"],
};

/**
 * Unmounts what an interrupted genimage (killed with -9, or a power cut of its process) left
 * mounted in the image `name`'s root, and removes its dead work directories. Every image verb
 * runs this once it holds the image's lock, so nothing deletes, packs or copies through a
 * mounted /proc or /dev. An image that does not exist, or is not a diskless root, has nothing
 * to sweep. Returns the mount points it removed.
 */
export async function sweepImageMounts(ctx: Context, name: string): Promise<string[]> {
  let rootimgdir: string;
  try {
    const store = await ctx.store();
    const image = await store.read((reader) => loadOsImage(reader, name));
    rootimgdir = hostPathOf(ctx, rootImgDir(image, await installDir(store)));
  } catch (error) {
    // Not there yet (imgimport), or a definition the verb itself will refuse with its message.
    if (error instanceof OsimgError) return [];
    throw error;
  }
  const rootimg = `${rootimgdir}/rootimg`;
  const removed = await unmountUnder(
    ctx.runner,
    rootimg,
    (entry) =>
      GENIMAGE_MOUNTS[entry.mountPoint.slice(rootimg.length)]?.includes(entry.fsType) ?? false,
  );
  for (const mountPoint of removed) {
    ctx.reporter.note(`unmounted ${mountPoint}, left mounted by an interrupted genimage`);
  }
  await removeDeadWorkDirectories(rootimgdir);
  return removed;
}

/** The `.genimage-work-<pid>-*` directories of processes that are gone. */
async function removeDeadWorkDirectories(dir: string): Promise<void> {
  let names: string[];
  try {
    names = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name);
  } catch {
    return;
  }
  for (const name of names) {
    const match = /^\.genimage-work-(\d+)-/.exec(name);
    if (!match) continue;
    const alive = await Deno.stat(`/proc/${match[1]}`).then(() => true, () => false);
    if (!alive) {
      await Deno.remove(`${dir}/${name}`, { recursive: true }).catch(() => {});
    }
  }
}
