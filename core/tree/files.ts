// File-system helpers the core modules share: existence, directory fsync, making directories
// (and removing the ones made), and reading a file in chunks.

import { dirname } from "node:path";
import { NotFoundError } from "../errors.ts";

/**
 * Whether anything (a symlink too, not followed) is at `path`. Only "it is not there" is false: a
 * missing path or a parent that is not a directory. Any other failure (permissions, I/O) throws,
 * so that a path that cannot be looked at is never taken for a free one.
 *
 * @example
 * ```ts
 * if (!await exists(`${dir}/kernel`)) throw new NotFoundError(`No kernel in ${dir}`);
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

/**
 * Flushes a directory (the names in it) to disk, so that a rename into it survives a crash.
 * `onError` says what a failure means for the caller: the commit journal must know its journal is
 * durable ("throw"); a pack's rename is atomic without it, and some file systems refuse to fsync
 * a directory at all ("ignore").
 *
 * @example
 * ```ts
 * await Deno.rename(temporary, path);
 * await syncDirectory(dirname(path), { onError: "throw" });
 * ```
 */
export async function syncDirectory(
  dir: string,
  options: { onError: "throw" | "ignore" },
): Promise<void> {
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch (error) {
    if (options.onError === "throw") throw error;
  }
}

/**
 * Creates `dir` and its missing parents (mode 0755 by default, as an install dir is) and returns
 * the directories it created, deepest first: what removeEmptyDirectories takes to undo it. One
 * that another process creates meanwhile is not counted.
 *
 * @example
 * ```ts
 * const created = await makeDirectories("/install/netboot/x");
 * try { ... } catch (error) { await removeEmptyDirectories(created); throw error; }
 * ```
 */
export async function makeDirectories(dir: string, mode = 0o755): Promise<string[]> {
  const created: string[] = [];
  const missing: string[] = [];
  for (let at = dir; !await exists(at); at = dirname(at)) missing.unshift(at);
  for (const path of missing) {
    try {
      await Deno.mkdir(path, { mode });
      created.unshift(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
  return created;
}

/**
 * Removes each directory, in the order given (deepest first), if it is empty. One that is not
 * (something else has put files there since) stays, and so do its parents, which hold it.
 */
export async function removeEmptyDirectories(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) await Deno.remove(dir).catch(() => {});
}

/** How many bytes fileChunks reads at a time. */
const FILE_CHUNK = 1 << 20;

/**
 * A file's bytes in fresh 1 MiB chunks (a consumer may keep views of earlier chunks). A missing
 * file is a NotFoundError naming it.
 *
 * @example
 * ```ts
 * for await (const chunk of fileChunks("x.tgz")) hash.update(chunk);
 * ```
 */
export async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new NotFoundError(`Cannot find ${path}`);
    throw error;
  }
  try {
    while (true) {
      const buffer = new Uint8Array(FILE_CHUNK);
      const count = await file.read(buffer);
      if (count === null) return;
      yield count === FILE_CHUNK ? buffer : buffer.subarray(0, count);
    }
  } finally {
    file.close();
  }
}
