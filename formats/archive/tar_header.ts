// tar headers: the pure codec of one 512-byte ustar header block (field layout, octal and GNU
// base-256 numbers, the checksum, the 100 + 155 name split), as node-tar keeps its header apart.

import { IntegrityError } from "../../core/errors.ts";
import { assertNever, type Entry } from "./entry.ts";

export const BLOCK = 512;
/** GNU tar and bsdtar pad archives to 20-block records; so do we, for tools that expect it. */
export const RECORD = 20 * BLOCK;

// ustar header field offsets and lengths (POSIX.1-1988, kept in pax).
export const NAME = [0, 100] as const;
export const MODE = [100, 8] as const;
export const UID = [108, 8] as const;
export const GID = [116, 8] as const;
export const SIZE = [124, 12] as const;
export const MTIME = [136, 12] as const;
export const CHKSUM = [148, 8] as const;
export const TYPEFLAG = 156;
export const LINKNAME = [157, 100] as const;
export const MAGIC = [257, 6] as const;
export const VERSION = [263, 2] as const;
export const UNAME = [265, 32] as const;
export const GNAME = [297, 32] as const;
export const DEVMAJOR = [329, 8] as const;
export const DEVMINOR = [337, 8] as const;
export const PREFIX = [345, 155] as const;
export type Field = readonly [offset: number, length: number];

const encoder = new TextEncoder();
export const USTAR_MAGIC = encoder.encode("ustar\0");
const USTAR_VERSION = encoder.encode("00");

/** Largest value an octal field of `length` bytes holds (length - 1 digits and a NUL). */
export function octalMax(length: number): number {
  return 8 ** (length - 1) - 1;
}

/** Largest GNU long name or pax header read into memory; real ones are a few KiB. */
export const MAX_META_SIZE = 1 << 20;

/** What a header says about one member, after deciding what goes to pax. */
export interface HeaderSpec {
  name: Uint8Array;
  prefix: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Uint8Array;
  uname: Uint8Array;
  gname: Uint8Array;
  devmajor: number;
  devminor: number;
}

/** Writes a number as zero-padded octal + NUL, or base-256 (GNU) when octal cannot hold it. */
export function writeNumber(header: Uint8Array, [offset, length]: Field, value: number): void {
  if (value >= 0 && value <= octalMax(length)) {
    const digits = value.toString(8).padStart(length - 1, "0");
    for (let i = 0; i < length - 1; i++) header[offset + i] = digits.charCodeAt(i);
    header[offset + length - 1] = 0;
    return;
  }
  // Base-256: the top bit of the first byte marks it, the rest is big-endian two's complement.
  let big = BigInt(value);
  if (big < 0n) big += 1n << BigInt(8 * length);
  for (let i = length - 1; i >= 1; i--) {
    header[offset + i] = Number(big & 0xffn);
    big >>= 8n;
  }
  header[offset] = value < 0 ? 0xff : 0x80;
}

export function writeHeader(header: Uint8Array, spec: HeaderSpec): void {
  header.set(spec.name, NAME[0]);
  writeNumber(header, MODE, spec.mode);
  writeNumber(header, UID, spec.uid);
  writeNumber(header, GID, spec.gid);
  writeNumber(header, SIZE, spec.size);
  writeNumber(header, MTIME, spec.mtime);
  header[TYPEFLAG] = spec.typeflag.charCodeAt(0);
  header.set(spec.linkname, LINKNAME[0]);
  header.set(USTAR_MAGIC, MAGIC[0]);
  header.set(USTAR_VERSION, VERSION[0]);
  header.set(spec.uname, UNAME[0]);
  header.set(spec.gname, GNAME[0]);
  writeNumber(header, DEVMAJOR, spec.devmajor);
  writeNumber(header, DEVMINOR, spec.devminor);
  header.set(spec.prefix, PREFIX[0]);
  // Checksum: byte sum with the checksum field read as spaces; "%06o\0 " as GNU tar writes it.
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) sum += header[i]!;
  const digits = sum.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) header[CHKSUM[0] + i] = digits.charCodeAt(i);
  header[CHKSUM[0] + 6] = 0;
  header[CHKSUM[0] + 7] = 0x20;
}

export function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.byteLength; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Cuts UTF-8 bytes to at most `max` without splitting a character. */
export function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.byteLength <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Splits a name into ustar prefix (155) and name (100) at a "/", or returns undefined when it
 * cannot be split.
 */
export function splitUstarName(
  bytes: Uint8Array,
): { prefix: Uint8Array; name: Uint8Array } | undefined {
  if (bytes.byteLength <= NAME[1]) return { prefix: new Uint8Array(0), name: bytes };
  // The leftmost "/" that leaves at most 100 bytes after it gives the shortest prefix.
  for (let slash = bytes.byteLength - NAME[1] - 1; slash <= PREFIX[1]; slash++) {
    if (slash < 1) continue;
    if (bytes[slash] === 0x2f) {
      if (slash === bytes.byteLength - 1) return undefined; // nothing after the slash
      return { prefix: bytes.subarray(0, slash), name: bytes.subarray(slash + 1) };
    }
  }
  return undefined;
}

export function typeflagOf(entry: Entry): string {
  switch (entry.kind) {
    case "file":
      return "0";
    case "hardlink":
      return "1";
    case "symlink":
      return "2";
    case "chardev":
      return "3";
    case "blockdev":
      return "4";
    case "dir":
      return "5";
    case "fifo":
      return "6";
    default:
      return assertNever(entry);
  }
}

export function padTo512(length: number): number {
  return (BLOCK - (length % BLOCK)) % BLOCK;
}

export function fieldBytes(header: Uint8Array, [offset, length]: Field): Uint8Array {
  const view = header.subarray(offset, offset + length);
  const nul = view.indexOf(0);
  return nul < 0 ? view : view.subarray(0, nul);
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Parses a numeric header field: octal (leading spaces or zeros, ended by NUL or space) or
 * GNU base-256 (top bit of the first byte set). An all-empty field is 0.
 */
export function parseNumber(
  header: Uint8Array,
  [offset, length]: Field,
  what: () => string,
): number {
  const first = header[offset]!;
  if (first & 0x80) {
    const negative = (first & 0x40) !== 0;
    let big = BigInt(first & 0x7f);
    for (let i = 1; i < length; i++) big = (big << 8n) | BigInt(header[offset + i]!);
    if (negative) big -= 1n << BigInt(8 * length - 1);
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new IntegrityError(`Malformed tar header: ${what()} is out of range`);
    }
    return Number(big);
  }
  let i = offset;
  const end = offset + length;
  while (i < end && header[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = header[i]!;
    if (c >= 0x30 && c <= 0x37) {
      value = value * 8 + (c - 0x30);
      digits++;
    } else {
      break;
    }
  }
  for (; i < end; i++) {
    if (header[i] !== 0 && header[i] !== 0x20) {
      throw new IntegrityError(
        `Malformed tar header: ${what()} is ${
          JSON.stringify(String.fromCharCode(...header.subarray(offset, end)))
        }, not an octal number`,
      );
    }
  }
  return digits === 0 ? 0 : value;
}

export function checksumMatches(header: Uint8Array, at: number): void {
  const stored = parseNumber(header, CHKSUM, () => `the checksum field at offset ${at}`);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= CHKSUM[0] && i < CHKSUM[0] + CHKSUM[1] ? 0x20 : header[i]!;
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 0x100 : byte;
  }
  // Some old tars summed signed chars; both are accepted, as GNU tar does.
  if (stored !== unsigned && stored !== signed) {
    throw new IntegrityError(
      `Bad tar header checksum at offset ${at}: stored ${stored}, computed ${unsigned}` +
        " (corrupt or not a tar archive)",
    );
  }
}
