// HTTP byte ranges (RFC 9110 §14): the Range header parsed against a file size, Content-Range
// values, and the multipart/byteranges framing with its exact length.

/** One satisfiable range, both ends inclusive, as RFC 9110 writes them. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What a Range header asks of a representation of `size` bytes:
 * - `none`: no header, another unit, or a header that does not parse (RFC 9110 §14.2: a server
 *   ignores a Range it cannot parse and answers 200 with the whole representation);
 * - `unsatisfiable`: every range lies past the end (416);
 * - `ranges`: the satisfiable ranges, in the order asked.
 */
export type RangeRequest =
  | { kind: "none" }
  | { kind: "unsatisfiable" }
  | { kind: "ranges"; ranges: ByteRange[] };

/**
 * The most ranges one request may ask for before the header is ignored (200, whole file): many
 * tiny or overlapping ranges are a known way to make a server do a lot of work for little
 * (CVE-2011-3192 against Apache).
 */
export const MAX_RANGES = 32;

const NUMBER = /^\d{1,15}$/;

/**
 * Parses a Range header against a representation of `size` bytes.
 *
 * @example
 * ```ts
 * parseRange("bytes=0-99,-100", 1000);
 * // { kind: "ranges", ranges: [{ start: 0, end: 99 }, { start: 900, end: 999 }] }
 * ```
 */
export function parseRange(header: string | null | undefined, size: number): RangeRequest {
  if (header === null || header === undefined) return { kind: "none" };
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match) return { kind: "none" };
  const specs = match[1]!.split(",").map((spec) => spec.trim()).filter((spec) => spec !== "");
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: "none" };
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const dash = spec.indexOf("-");
    if (dash < 0) return { kind: "none" };
    const first = spec.slice(0, dash).trim();
    const last = spec.slice(dash + 1).trim();
    if (first === "") {
      // A suffix range: the last N bytes.
      if (!NUMBER.test(last)) return { kind: "none" };
      const length = Number(last);
      if (length === 0 || size === 0) continue;
      ranges.push({ start: Math.max(0, size - length), end: size - 1 });
      continue;
    }
    if (!NUMBER.test(first) || (last !== "" && !NUMBER.test(last))) return { kind: "none" };
    const start = Number(first);
    // A last position before the first is a syntax error; an open range past the end is not.
    if (last !== "" && Number(last) < start) return { kind: "none" };
    const end = last === "" ? size - 1 : Number(last);
    if (start >= size) continue;
    ranges.push({ start, end: Math.min(end, size - 1) });
  }
  return ranges.length === 0 ? { kind: "unsatisfiable" } : { kind: "ranges", ranges };
}

/** The Content-Range value of one range: `bytes 0-99/1000`. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/** The Content-Range value of a 416: `bytes *\/1000`. */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}

/** One part of a multipart/byteranges body: its header block, then the range's bytes. */
export interface MultipartPart {
  range: ByteRange;
  /** The delimiter line and the part's headers, ending with the blank line. */
  head: string;
}

/** The framing of a multipart/byteranges body (RFC 9110 §14.6). */
export interface MultipartLayout {
  parts: MultipartPart[];
  /** The closing delimiter. */
  tail: string;
  /** The exact body length in bytes: Content-Length. */
  length: number;
}

/**
 * Lays out a multipart/byteranges body: each part's head text, the closing delimiter, and the
 * total length, so Content-Length is exact before the first byte is sent. The heads are ASCII
 * (the boundary and content type must be), so their byte length is their string length.
 *
 * @example
 * ```ts
 * const layout = multipartLayout(ranges, 1000, "application/octet-stream", "b0undary");
 * ```
 */
export function multipartLayout(
  ranges: readonly ByteRange[],
  size: number,
  contentType: string,
  boundary: string,
): MultipartLayout {
  let length = 0;
  const parts = ranges.map((range, index) => {
    // The CRLF before every delimiter but the first belongs to the delimiter (RFC 2046 §5.1.1).
    const head = `${index === 0 ? "" : "\r\n"}--${boundary}\r\nContent-Type: ${contentType}\r\n` +
      `Content-Range: ${contentRange(range, size)}\r\n\r\n`;
    length += head.length + (range.end - range.start + 1);
    return { range, head };
  });
  const tail = `\r\n--${boundary}--\r\n`;
  length += tail.length;
  return { parts, tail, length };
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** An IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function httpDate(date: Date): string {
  const two = (value: number) => String(value).padStart(2, "0");
  return `${DAYS[date.getUTCDay()]}, ${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ` +
    `${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:` +
    `${two(date.getUTCSeconds())} GMT`;
}

/** The time of an HTTP date in milliseconds, or undefined when it does not parse. */
export function parseHttpDate(text: string | null | undefined): number | undefined {
  if (!text) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : time;
}
