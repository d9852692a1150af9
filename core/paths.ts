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

/**
 * Why `path`, a management path taken from a table value (linuximage.rootimgdir, site.tftpdir),
 * cannot be used as a directory below `parent`, or undefined. Table values come from mkdef, from
 * a tabrestore of another site, from a bundle: before anything is removed or written under such
 * a path it must be absolute, free of `.` and `..` parts (string-built paths below it must mean
 * what they say) and strictly below `parent` — never `parent` itself, never `/`.
 */
export function belowProblem(parent: string, path: string): string | undefined {
  if (!isAbsolute(path)) return "it is not an absolute path";
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path)) return "it contains a control character";
  if (path.split("/").some((part) => part === "." || part === "..")) {
    return "it has '.' or '..' parts";
  }
  if (!isWithin(parent, path) || resolve(parent) === resolve(path)) {
    return `it is not below '${parent}'`;
  }
  return undefined;
}

/**
 * Why `dir`, a site directory (installdir, tftpdir), cannot hold osimg's files, or undefined:
 * everything osimg removes is confined below these, so `/` or a relative path would confine
 * nothing.
 */
export function siteDirectoryProblem(dir: string): string | undefined {
  if (!isAbsolute(dir)) return "it is not an absolute path";
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(dir)) return "it contains a control character";
  if (dir.split("/").some((part) => part === "." || part === "..")) {
    return "it has '.' or '..' parts";
  }
  if (normalize(dir) === "/") return "it is the root directory";
  return undefined;
}
