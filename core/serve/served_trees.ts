// The trees `osimg serve` publishes (installdir at /install, tftpdir at /tftpboot) and the one
// way a request becomes an open file: confined to its tree after every symlink is resolved.

import { join } from "node:path";
import { isWithin } from "../paths.ts";
import { type Beneath, beneath, type KernelStat } from "./beneath.ts";

/** One published directory: requests whose path starts with `prefix` are served from `dir`. */
export interface ServedTree {
  /** The URL path segments the tree is published under: ["install"] for /install. */
  prefix: readonly string[];
  /** The directory on this machine (under --root). */
  dir: string;
}

/** A file opened for one request: the handle and what fstat said about that very handle. */
export interface OpenedFile {
  file: Deno.FsFile;
  info: Deno.FileInfo;
  /** The path it was opened by (for messages). */
  path: string;
}

/** Why a request names nothing that is served (every one is a 404 to the client). */
export type NotServed = "no-tree" | "missing" | "escapes" | "not-a-file";

/** A regular file a request names, resolved and confined but not opened. */
export interface ResolvedFile {
  /**
   * A path that opens this very file: `/proc/self/fd/N` of the O_PATH handle the kernel
   * confined (no second lookup that a swapped symlink could redirect), or the checked realpath.
   */
  path: string;
  /** Device and inode: the same file however it was reached. */
  key: string;
  /** Size, mtime and ctime at the finest resolution there is: another version, another value. */
  version: string;
  ino: number;
  size: number;
  /** When the file last changed (the later of mtime and ctime), in ms since the epoch. */
  changedMs: number;
  /** The version as it is now (after a read: unchanged means the read saw one version). */
  currentVersion(): string | undefined;
  /** Gives back the handle behind `path`; call it once `path` is opened or no longer needed. */
  release(): void;
}

/**
 * Resolves the regular file `segments` names, or says why not, confined to the real directory
 * of its tree (looked up again on every call, so a tree or a directory swapped for a symlink is
 * seen at once). Where openat2(2) can be had, the kernel resolves the path below the tree with
 * RESOLVE_BENEATH: a `..`, an absolute symlink or a symlink climbing out is refused atomically,
 * and the handle is what gets served. A path the kernel refuses, or every path where there is
 * no openat2, is resolved with realpath, whose result must lie inside the tree's real path: an
 * absolute symlink that points back into the tree is still followed, one that points out serves
 * nothing. Directories are not listed and special files (a FIFO would block the reader, a device
 * is not published content) are refused.
 *
 * `kernel` is the openat2 lookup to use (undefined: realpath only, as where there is none).
 *
 * The calls are synchronous on purpose: on a served tree they are answered from the kernel's
 * dentry and inode caches in microseconds, while each hop to Deno's blocking thread pool costs
 * more than the call itself (nginx makes the same blocking calls in its event loop).
 *
 * @example
 * ```ts
 * const resolved = resolveServedFile(trees, ["tftpboot", "xcat", "xnba", "nodes", "cn01"]);
 * if (typeof resolved !== "string") resolved.release();
 * ```
 */
export function resolveServedFile(
  trees: readonly ServedTree[],
  segments: readonly string[],
  kernel: Beneath | undefined = beneath(),
): ResolvedFile | NotServed {
  const tree = treeOf(trees, segments);
  if (!tree) return "no-tree";
  const rest = segments.slice(tree.prefix.length);
  if (kernel && rest.length > 0) {
    const fd = kernel.openBelow(tree.dir, rest.join("/"));
    if (fd >= 0) return resolvedHandle(kernel, fd);
    // Not there. Anything else (EXDEV: it would leave the tree, perhaps only through an
    // absolute symlink that comes back in) is decided by realpath below.
    if (fd === -ENOENT || fd === -ENOTDIR) return "missing";
  }
  let realTree: string;
  let realPath: string;
  try {
    realTree = Deno.realPathSync(tree.dir);
    realPath = Deno.realPathSync(rest.length === 0 ? tree.dir : join(tree.dir, ...rest));
  } catch {
    return "missing";
  }
  if (!isWithin(realTree, realPath)) return "escapes";
  if (kernel) {
    const fd = kernel.openPath(realPath);
    return fd < 0 ? "missing" : resolvedHandle(kernel, fd);
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(realPath);
  } catch {
    return "missing";
  }
  if (!info.isFile) return "not-a-file";
  const version = (stat: Deno.FileInfo) =>
    `${stat.size}:${stat.mtime?.getTime()}:${stat.ctime?.getTime()}`;
  return {
    path: realPath,
    key: `${info.dev}:${info.ino}`,
    version: version(info),
    ino: info.ino ?? 0,
    size: info.size,
    // Deno gives ctime in whole seconds: the change may have been up to a second later.
    changedMs: Math.max(
      info.mtime?.getTime() ?? Infinity,
      (info.ctime?.getTime() ?? Infinity) + 999,
    ),
    currentVersion() {
      try {
        return version(Deno.statSync(realPath));
      } catch {
        return undefined;
      }
    },
    release() {},
  };
}

const ENOENT = 2;
const ENOTDIR = 20;

/** A held O_PATH handle as a ResolvedFile, or why it is not served (the handle then closed). */
function resolvedHandle(kernel: Beneath, fd: number): ResolvedFile | NotServed {
  const stat = kernel.stat(fd);
  if (!stat?.isFile) {
    kernel.close(fd);
    return stat ? "not-a-file" : "missing";
  }
  const version = (now: KernelStat) => `${now.size}:${now.mtimeNs}:${now.ctimeNs}`;
  let held = true;
  return {
    path: `/proc/self/fd/${fd}`,
    key: `${stat.dev}:${stat.ino}`,
    version: version(stat),
    ino: stat.ino,
    size: stat.size,
    changedMs: Number((stat.mtimeNs > stat.ctimeNs ? stat.mtimeNs : stat.ctimeNs) / 1_000_000n),
    currentVersion() {
      const now = held ? kernel.stat(fd) : undefined;
      return now ? version(now) : undefined;
    },
    release() {
      if (held) kernel.close(fd);
      held = false;
    },
  };
}

/**
 * Opens the regular file `segments` names (resolved and confined by resolveServedFile), or says
 * why not. The file is opened once and its size, inode and times come from the handle: a file
 * renamed over while it is served keeps being read from the old inode, whole.
 *
 * @example
 * ```ts
 * const opened = await openServedFile(trees, ["install", "netboot", "rootimg.cpio.gz"]);
 * if (typeof opened !== "string") opened.file.close();
 * ```
 */
export async function openServedFile(
  trees: readonly ServedTree[],
  segments: readonly string[],
): Promise<OpenedFile | NotServed> {
  const resolved = resolveServedFile(trees, segments);
  if (typeof resolved === "string") return resolved;
  return await openResolved(resolved);
}

/** Opens a resolved file (and releases it); the handle's own fstat is what it is served by. */
export async function openResolved(resolved: ResolvedFile): Promise<OpenedFile | NotServed> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(resolved.path, { read: true });
  } catch {
    return "missing";
  } finally {
    resolved.release();
  }
  const info = await file.stat();
  if (!info.isFile) {
    file.close();
    return "not-a-file";
  }
  return { file, info, path: resolved.path };
}

/** The tree with the longest prefix the segments start with. */
function treeOf(trees: readonly ServedTree[], segments: readonly string[]): ServedTree | undefined {
  let best: ServedTree | undefined;
  for (const tree of trees) {
    if (tree.prefix.length > segments.length) continue;
    if (!tree.prefix.every((part, index) => segments[index] === part)) continue;
    if (!best || tree.prefix.length > best.prefix.length) best = tree;
  }
  return best;
}

/** A strong validator from the handle's identity: inode, size and modification time. */
export function entityTag(info: Deno.FileInfo): string {
  const mtime = info.mtime?.getTime() ?? 0;
  return `"${(info.ino ?? 0).toString(16)}-${info.size.toString(16)}-${mtime.toString(16)}"`;
}
