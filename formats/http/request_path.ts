// The path of an HTTP or TFTP request as safe segments: percent-decoding once, and every trick
// that could name something outside the served trees refused.

import { InvalidInputError } from "../../core/errors.ts";

/**
 * The segments of a request path, percent-decoded once. Refused (InvalidInputError naming
 * why): a malformed escape, a `.` or `..` segment (raw or encoded), and a segment that decodes
 * to a `/`, a backslash, a NUL or another control character — each is a way to make a path mean
 * something other than what a prefix check saw. Empty segments (`//install/x`, which xCAT's
 * imgurl has) are dropped. A query or fragment is cut off first.
 *
 * @example
 * ```ts
 * requestSegments("//install/netboot/rootimg.cpio.gz"); // ["install", "netboot", "rootimg.cpio.gz"]
 * requestSegments("/install/%2e%2e/etc");               // throws: a '..' segment
 * ```
 */
export function requestSegments(rawPath: string, options: { decode?: boolean } = {}): string[] {
  const decode = options.decode ?? true;
  let path = rawPath;
  if (decode) {
    const cut = path.search(/[?#]/);
    if (cut >= 0) path = path.slice(0, cut);
  }
  const segments: string[] = [];
  for (const raw of path.split("/")) {
    if (raw === "") continue;
    let segment = raw;
    if (decode) {
      try {
        segment = decodeURIComponent(raw);
      } catch {
        throw new InvalidInputError(`the path has a malformed percent escape in '${raw}'`);
      }
    }
    if (segment === "." || segment === "..") {
      throw new InvalidInputError(`the path has a '${segment}' segment`);
    }
    if (segment.includes("/")) throw new InvalidInputError(`the path has an encoded '/'`);
    if (segment.includes("\\")) throw new InvalidInputError(`the path has a backslash`);
    // deno-lint-ignore no-control-regex
    if (/[\x00-\x1f\x7f]/.test(segment)) {
      throw new InvalidInputError(`the path has a control character`);
    }
    segments.push(segment);
  }
  return segments;
}
