// SHA256SUMS files in GNU sha256sum's format, including its escaping of awkward file names.

import { IntegrityError } from "../../core/errors.ts";

/** One line of a SHA256SUMS file: a lowercase hex SHA-256 and the file's relative path. */
export interface ChecksumLine {
  digest: string;
  path: string;
}

const HEX_DIGEST = /^[0-9a-f]{64}$/;

/**
 * Writes `lines` as `sha256sum` prints them (text mode: digest, two spaces, name). A name with a
 * backslash, newline or carriage return is escaped (`\\`, `\n`, `\r`) and its line starts with
 * a backslash, exactly as GNU coreutils 8.x/9.x do, so `sha256sum -c` reads it back.
 *
 * @example
 * ```ts
 * serializeSha256Sums([{ digest: "ab…", path: "manifest.xml" }]); // "ab…  manifest.xml\n"
 * ```
 */
export function serializeSha256Sums(lines: Iterable<ChecksumLine>): string {
  let text = "";
  for (const { digest, path } of lines) {
    if (!HEX_DIGEST.test(digest)) {
      throw new IntegrityError(`Cannot write SHA256SUMS: '${digest}' is not a SHA-256 hex digest`);
    }
    if (path === "") throw new IntegrityError("Cannot write SHA256SUMS: empty file name");
    const escaped = path.replace(
      /[\\\n\r]/g,
      (char) => char === "\\" ? "\\\\" : char === "\n" ? "\\n" : "\\r",
    );
    text += `${escaped === path ? "" : "\\"}${digest}  ${escaped}\n`;
  }
  return text;
}

/**
 * Parses a SHA256SUMS file as `sha256sum -c` reads it: text (`  `) or binary (` *`) lines, escaped
 * names on lines starting with `\`, upper- or lowercase digests (returned lowercase). Unlike
 * `sha256sum -c`, which skips malformed lines with a warning, any malformed line, blank line or
 * name listed twice is an error here: this file is what a bundle is verified against.
 *
 * @example
 * ```ts
 * parseSha256Sums("ab…  kernel\n"); // [{ digest: "ab…", path: "kernel" }]
 * ```
 */
export function parseSha256Sums(text: string): ChecksumLine[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const seen = new Set<string>();
  return lines.map((line, index) => {
    const fail = (why: string) =>
      new IntegrityError(`Cannot read SHA256SUMS: line ${index + 1} ${why}`);
    const escaped = line.startsWith("\\");
    const body = escaped ? line.slice(1) : line;
    const digest = body.slice(0, 64).toLowerCase();
    const separator = body.slice(64, 66);
    if (!HEX_DIGEST.test(digest) || (separator !== "  " && separator !== " *")) {
      throw fail("is not '<sha256 hex>  <file name>'");
    }
    let path = body.slice(66);
    if (escaped) {
      path = path.replace(/\\(.?)/g, (_match, next: string) => {
        if (next === "\\") return "\\";
        if (next === "n") return "\n";
        if (next === "r") return "\r";
        throw fail(`has an unknown escape '\\${next}' in its file name`);
      });
    }
    if (path === "") throw fail("has no file name");
    if (seen.has(path)) throw fail(`lists '${path}' a second time`);
    seen.add(path);
    return { digest, path };
  });
}
