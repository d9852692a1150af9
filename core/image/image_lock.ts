// The per-image lock: one verb at a time changes an image (packimage, liteimg, imgimport, rollback, rmimage, snapshot).

import { dirname, join, resolve } from "node:path";
import type { Context } from "../context.ts";
import { hostPathOf, installDir } from "../context.ts";
import { ConflictError, InvalidInputError } from "../errors.ts";
import { objectNameProblem } from "../definitions/object_names.ts";
import { isWithin } from "../paths.ts";
import { makeDirectories, removeEmptyDirectories } from "../tree/files.ts";
import { sweepImageMounts } from "./image_mounts.ts";

/** Name of the directory, under the install dir, that holds the images' lock files. */
export const LOCK_DIR_NAME = ".osimg-locks";

/** A held image lock; releasing it (or the process dying) lets the next verb in. */
export interface ImageLock extends AsyncDisposable {
  /** Host path of the lock file. */
  readonly path: string;
  release(): Promise<void>;
}

/** Who holds a lock, as its file records it. */
export interface LockHolder {
  verb: string;
  pid: number;
}

/**
 * Takes image `name`'s lock for `verb`, under `<installdir>/.osimg-locks`, or fails at once with
 * ConflictError `image <name> is busy (<verb>, pid <pid>)` naming the verb that holds it. Once
 * held, mounts an interrupted genimage left in the image's root are removed (sweepImageMounts).
 * Use with `await using` around the verb's work.
 *
 * @example
 * ```ts
 * await using _lock = await lockImage(ctx, "rocky9-x86_64-netboot-compute", "packimage");
 * ```
 */
export async function lockImage(ctx: Context, name: string, verb: string): Promise<ImageLock> {
  // An invalid name is refused before the lock directory is made: a refusal changes nothing.
  const problem = objectNameProblem("osimage", name);
  if (problem !== undefined) throw new InvalidInputError(problem);
  const dir = hostPathOf(ctx, `${await installDir(await ctx.store())}/${LOCK_DIR_NAME}`);
  const lock = await acquireImageLock(dir, name, verb);
  try {
    // Whatever a killed genimage left mounted in the root goes before this verb touches it.
    await sweepImageMounts(ctx, name);
  } catch (error) {
    await lock.release();
    throw error;
  }
  return lock;
}

/**
 * The lock is an flock(2) on `<dir>/<name>.lock` (Deno's FsFile.tryLock): the kernel drops it
 * when the holder exits or is killed, so a lock file a `kill -9` left behind is only a name, and
 * the next verb takes it. The file says who holds it (`<verb> <pid>`) for the busy message. It
 * is removed on release, and the directory with it when empty, so a verb that changed nothing
 * leaves nothing behind; a verb that opened the file just before it was removed sees that its
 * inode is no longer the one at the name and starts over.
 */
export async function acquireImageLock(
  dir: string,
  name: string,
  verb: string,
): Promise<ImageLock> {
  const path = join(dir, `${name}.lock`);
  // The name becomes a file name: it must not climb out of the lock directory or into a
  // subdirectory of it, whatever the caller validated.
  if (name === "" || !isWithin(dir, path) || dirname(path) !== resolve(dir)) {
    throw new InvalidInputError(`The image name '${name}' cannot be used as a lock file name.`);
  }
  // A releasing verb may remove the directory (or the file) between our mkdir, open and lock:
  // start over then. Each round is a few system calls; 100 rounds only under a pathological race.
  for (let attempt = 0; attempt < 100; attempt++) {
    const created = await makeDirectories(dir);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o644 });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      await removeEmptyDirectories([dir, ...created]);
      throw error;
    }
    let locked = false;
    try {
      if (!await file.tryLock(true)) {
        const holder = await readHolder(file);
        throw new ConflictError(
          `image ${name} is busy (${holder?.verb ?? "another verb"}, pid ${holder?.pid ?? "?"})`,
        );
      }
      const mine = await file.stat();
      const current = await Deno.stat(path).catch(() => undefined);
      if (current?.ino !== mine.ino || current?.dev !== mine.dev) continue;
      // Written over the start of the file, then cut: a reader never sees it empty, and the
      // first line is whole once the write returns.
      const record = new TextEncoder().encode(`${verb} ${Deno.pid}\n`);
      await file.seek(0, Deno.SeekMode.Start);
      let written = 0;
      while (written < record.length) written += await file.write(record.subarray(written));
      await file.truncate(record.length);
      locked = true;
    } finally {
      if (!locked) {
        file.close();
        await removeEmptyDirectories([dir, ...created]);
      }
    }
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      // Removed while still locked: nobody can take a lock on this inode and believe it guards
      // the name (the inode check above sends them round again).
      await Deno.remove(path).catch(() => {});
      file.close();
      await removeEmptyDirectories([dir, ...created]);
    };
    return { path, release, [Symbol.asyncDispose]: release };
  }
  throw new ConflictError(`image ${name} is busy: its lock file ${path} keeps being replaced`);
}

/**
 * Removes the lock files in `dir` that no process holds (what a verb killed with -9 leaves; they
 * block nobody, but they are litter), then `dir` itself if it is empty. Run by the recovery every
 * image verb does first.
 */
export async function removeStaleLocks(dir: string): Promise<void> {
  let names: string[];
  try {
    names = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name);
  } catch {
    return;
  }
  for (const name of names.filter((name) => name.endsWith(".lock"))) {
    const path = `${dir}/${name}`;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch {
      continue;
    }
    try {
      // Held (by a live verb, or by this process's own verb): leave it.
      if (!await file.tryLock(true)) continue;
      const mine = await file.stat();
      const current = await Deno.stat(path).catch(() => undefined);
      // Removed while locked, as a release does, so no one can believe it still guards the name.
      if (current?.ino === mine.ino && current.dev === mine.dev) await Deno.remove(path);
    } catch {
      // Someone else's cleanup got there first.
    } finally {
      file.close();
    }
  }
  await removeEmptyDirectories([dir]);
}

/**
 * The holder recorded in a lock file another process holds. It writes the record just after
 * taking the lock, and an earlier holder killed with -9 left its own: wait a little for a record
 * whose process is alive.
 */
async function readHolder(file: Deno.FsFile): Promise<LockHolder | undefined> {
  let holder: LockHolder | undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    holder = await readRecord(file);
    if (holder !== undefined && await isAlive(holder.pid)) return holder;
    await new Promise((done) => setTimeout(done, 10));
  }
  return holder;
}

async function readRecord(file: Deno.FsFile): Promise<LockHolder | undefined> {
  const buffer = new Uint8Array(256);
  await file.seek(0, Deno.SeekMode.Start);
  let length = 0;
  while (length < buffer.length) {
    const count = await file.read(buffer.subarray(length));
    if (count === null) break;
    length += count;
  }
  const match = /^(\S+) (\d+)\n/.exec(new TextDecoder().decode(buffer.subarray(0, length)));
  return match ? { verb: match[1]!, pid: Number(match[2]) } : undefined;
}

async function isAlive(pid: number): Promise<boolean> {
  return await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
}
