// Paths inside an image root: symbolic links followed as the image would see them, never out of it.

import { posix } from "node:path";
import { InvalidInputError } from "../errors.ts";

/** Linux's own limit on links followed while resolving one path (MAXSYMLINKS). */
const MAX_LINKS = 40;

/**
 * The host path of `path` (absolute, as seen inside the image) after following every symbolic
 * link as the image itself would: an absolute link target ("/usr/bin/busybox") is taken from
 * `root`, and ".." never climbs above it. Without this, a link in the image such as
 * `bin/busybox -> /usr/bin/busybox` would be read from the management node's own /usr. Returns
 * undefined when some component does not exist.
 *
 * @example
 * ```ts
 * await resolveInRoot("/install/netboot/debian12/x86_64/compute/rootimg", "/bin/busybox");
 * // ".../rootimg/usr/bin/busybox" on a merged-/usr Debian
 * ```
 */
export async function resolveInRoot(root: string, path: string): Promise<string | undefined> {
  const pending = path.split("/").filter((part) => part !== "" && part !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const host = posix.join(root, ...resolved, part);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(host);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return undefined;
      }
      throw error;
    }
    if (!info.isSymlink) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_LINKS) {
      throw new InvalidInputError(`Too many symbolic links while resolving ${path} in ${root}`);
    }
    const target = await Deno.readLink(host);
    if (target.startsWith("/")) resolved.length = 0;
    pending.unshift(...target.split("/").filter((piece) => piece !== "" && piece !== "."));
  }
  return posix.join(root, ...resolved);
}
