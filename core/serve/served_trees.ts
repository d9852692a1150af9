// The trees `osimg serve` publishes (installdir at /install, tftpdir at /tftpboot) and the one
// way a request becomes an open file: confined to its tree after every symlink is resolved.

import { join } from "node:path";
import { isWithin } from "../paths.ts";

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
  /** The resolved path on this machine (for messages). */
  path: string;
}

/** Why a request names nothing that is served (every one is a 404 to the client). */
export type NotServed = "no-tree" | "missing" | "escapes" | "not-a-file";

/**
 * Opens the regular file `segments` names, or says why not. The path is resolved with realpath
 * and must still lie inside the real path of its tree, so a symlink that points outside (or a
 * `..` that got this far) serves nothing. The file is opened once and its size, inode and
 * times come from the handle: a file renamed over while it is served keeps being read from the
 * old inode, whole.
 *
 * Directories are not listed and special files (a FIFO would block the reader, a device is not
 * published content) are not opened.
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
  const tree = treeOf(trees, segments);
  if (!tree) return "no-tree";
  const rest = segments.slice(tree.prefix.length);
  let realTree: string;
  let realPath: string;
  try {
    realTree = await Deno.realPath(tree.dir);
    realPath = await Deno.realPath(join(tree.dir, ...rest));
  } catch {
    return "missing";
  }
  if (!isWithin(realTree, realPath)) return "escapes";
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(realPath);
  } catch {
    return "missing";
  }
  if (!stat.isFile) return "not-a-file";
  let file: Deno.FsFile;
  try {
    file = await Deno.open(realPath, { read: true });
  } catch {
    return "missing";
  }
  const info = await file.stat();
  if (!info.isFile) {
    file.close();
    return "not-a-file";
  }
  return { file, info, path: realPath };
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
