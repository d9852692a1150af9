// pax extended headers (POSIX.1-2001): writing one record, and reading records into the values
// a member's header is overridden with (path, sizes, ids, times, xattrs, GNU sparse keys).

import { IntegrityError } from "../../core/errors.ts";
import { decodeUtf8 } from "./archive_stream.ts";

const encoder = new TextEncoder();

/** One pax record: "<length> <key>=<value>\n", where length counts the whole record. */
export function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const keyBytes = encoder.encode(key);
  const rest = keyBytes.byteLength + value.byteLength + 3; // " ", "=", "\n"
  let length = rest + 1;
  while (String(length).length + rest !== length) length = String(length).length + rest;
  const prefix = encoder.encode(`${length} `);
  const record = new Uint8Array(length);
  record.set(prefix, 0);
  record.set(keyBytes, prefix.byteLength);
  record[prefix.byteLength + keyBytes.byteLength] = 0x3d; // "="
  record.set(value, prefix.byteLength + keyBytes.byteLength + 1);
  record[length - 1] = 0x0a;
  return record;
}

/** The pax keys this reader applies; others (atime, ctime, comment, ...) are ignored. */
export interface PaxValues {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  devmajor?: number;
  devminor?: number;
  /** Raw xattr values (SCHILY.xattr.*, or LIBARCHIVE.xattr.* when no SCHILY one exists). */
  xattrs: Map<string, Uint8Array>;
  /** GNU sparse file in pax form (versions 0.0, 0.1 and 1.0). */
  sparse?: PaxSparse;
}

export interface PaxSparse {
  major?: number;
  name?: string;
  realSize?: number;
  /** offset, length pairs as listed (0.0: repeated keys; 0.1: GNU.sparse.map). */
  map: number[];
}

export const DECIMAL = /^[0-9]+$/;
const SIGNED_TIME = /^-?[0-9]+(\.[0-9]*)?$/;

function paxNumber(value: string, key: string, at: number, pattern = DECIMAL): number {
  const number = pattern.test(value) ? Math.floor(Number(value)) : NaN;
  if (!Number.isSafeInteger(number)) {
    throw new IntegrityError(
      `Malformed pax header at offset ${at}: ${key}=${JSON.stringify(value)} is not a number`,
    );
  }
  return number;
}

function decodeBase64(text: string): Uint8Array {
  // atob is forgiving-base64: libarchive omits the "=" padding, which it accepts.
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Applies pax records (raw bytes) onto `into`; `at` is the header offset, for messages. */
export function parsePax(data: Uint8Array, into: PaxValues, at: number): void {
  const libarchiveXattrs = new Map<string, Uint8Array>();
  let pos = 0;
  while (pos < data.byteLength) {
    if (data[pos] === 0) {
      // Some writers pad the pax body with NULs; nothing may follow them.
      if (data.subarray(pos).some((byte) => byte !== 0)) break;
      return finishPax(into, libarchiveXattrs);
    }
    const space = data.indexOf(0x20, pos);
    const lengthText = space < 0 ? "" : String.fromCharCode(...data.subarray(pos, space));
    const length = DECIMAL.test(lengthText) ? Number(lengthText) : NaN;
    const end = pos + length;
    if (!(length > 0) || end > data.byteLength || data[end - 1] !== 0x0a) break;
    const equals = data.indexOf(0x3d, space + 1);
    if (equals < 0 || equals >= end) break;
    const key = decodeUtf8(data.subarray(space + 1, equals), `pax key at offset ${at}`);
    const raw = data.slice(equals + 1, end - 1);
    const text = () => decodeUtf8(raw, `pax ${key} at offset ${at}`);
    // POSIX: an empty value removes the keyword, so the header's own field applies again.
    const number = (pattern?: RegExp) =>
      raw.byteLength === 0 ? undefined : paxNumber(text(), key, at, pattern);
    const string = () => raw.byteLength === 0 ? undefined : text();
    pos = end;
    if (key.startsWith("SCHILY.xattr.")) {
      into.xattrs.set(key.slice("SCHILY.xattr.".length), raw);
      continue;
    }
    if (key.startsWith("LIBARCHIVE.xattr.")) {
      const name = decodeURIComponent(key.slice("LIBARCHIVE.xattr.".length));
      try {
        libarchiveXattrs.set(name, decodeBase64(text()));
      } catch {
        throw new IntegrityError(`Malformed pax header at offset ${at}: ${key} is not base64`);
      }
      continue;
    }
    if (key.startsWith("GNU.sparse.")) {
      const sparse = into.sparse ??= { map: [] };
      switch (key) {
        case "GNU.sparse.major":
          sparse.major = number();
          break;
        case "GNU.sparse.name":
          sparse.name = string();
          break;
        case "GNU.sparse.size":
        case "GNU.sparse.realsize":
          sparse.realSize = number();
          break;
        case "GNU.sparse.offset":
        case "GNU.sparse.numbytes":
          sparse.map.push(number() ?? NaN);
          break;
        case "GNU.sparse.map":
          for (const item of text().split(",")) sparse.map.push(paxNumber(item, key, at));
          break;
        case "GNU.sparse.minor":
        case "GNU.sparse.numblocks":
          break;
        default:
          throw new IntegrityError(`Unsupported tar member at offset ${at}: pax ${key}`);
      }
      continue;
    }
    switch (key) {
      case "path":
        into.path = string();
        break;
      case "linkpath":
        into.linkpath = string();
        break;
      case "uname":
        into.uname = string();
        break;
      case "gname":
        into.gname = string();
        break;
      case "size":
        into.size = number();
        break;
      case "uid":
        into.uid = number();
        break;
      case "gid":
        into.gid = number();
        break;
      case "mtime":
        into.mtime = number(SIGNED_TIME);
        break;
      case "SCHILY.devmajor":
        into.devmajor = number();
        break;
      case "SCHILY.devminor":
        into.devminor = number();
        break;
    }
  }
  if (pos !== data.byteLength) {
    throw new IntegrityError(`Malformed pax header at offset ${at}: bad record at byte ${pos}`);
  }
  finishPax(into, libarchiveXattrs);
}

function finishPax(into: PaxValues, libarchiveXattrs: Map<string, Uint8Array>): void {
  for (const [name, value] of libarchiveXattrs) {
    if (!into.xattrs.has(name)) into.xattrs.set(name, value);
  }
}
