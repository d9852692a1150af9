// Management-node paths mapped under the global --root, and the site directories.

import { isAbsolute, join, normalize, relative, resolve } from "node:path";
import { InvalidInputError } from "./errors.ts";

/**
 * Maps a management-node path ("/install/netboot/...") to where it lives on this machine:
 * under `root`. The result never leaves `root`, whatever `..` the path holds.
 *
 * @example
 * ```ts
 * hostPath("/tmp/r", "/install/netboot") // "/tmp/r/install/netboot"
 * ```
 */
export function hostPath(root: string, managementPath: string): string {
  if (!isAbsolute(managementPath)) {
    throw new InvalidInputError(`The path '${managementPath}' must be absolute.`);
  }
  // Normalizing the rooted form first means "/../../etc" cannot climb above the root.
  const inside = normalize(join("/", managementPath));
  return inside === "/" ? resolve(root) : join(resolve(root), inside);
}

/** The management-node path of a host path under `root` (inverse of `hostPath`). */
export function managementPath(root: string, host: string): string {
  const rel = relative(resolve(root), resolve(host));
  if (rel.startsWith("..") || isAbsolute(rel)) {
    throw new InvalidInputError(`The path '${host}' is outside the root '${root}'.`);
  }
  return "/" + rel.split("\\").join("/").replace(/^\.$/, "");
}

/** True when `child` is `parent` or lies below it (both management paths or both host paths). */
export function isWithin(parent: string, child: string): boolean {
  const rel = relative(resolve(parent), resolve(child));
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}
