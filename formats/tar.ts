// tar archives: a streaming ustar + pax writer and a reader for ustar, pax, GNU (sparse too), v7.

import { IntegrityError } from "../core/errors.ts";
import { assertNever, type Entry, type EntryMeta, type FileContent } from "./entry.ts";
import {
  checkEntryNames,
  ChunkReader,
  decodeUtf8,
  MemberBody,
  normaliseMemberPath,
  OutputBatcher,
  utf8,
  writeContent,
} from "./archive_stream.ts";

const BLOCK = 512;
/** GNU tar and bsdtar pad archives to 20-block records; so do we, for tools that expect it. */
const RECORD = 20 * BLOCK;

// ustar header field offsets and lengths (POSIX.1-1988, kept in pax).
const NAME = [0, 100] as const;
const MODE = [100, 8] as const;
const UID = [108, 8] as const;
const GID = [116, 8] as const;
const SIZE = [124, 12] as const;
const MTIME = [136, 12] as const;
const CHKSUM = [148, 8] as const;
const TYPEFLAG = 156;
const LINKNAME = [157, 100] as const;
const MAGIC = [257, 6] as const;
const VERSION = [263, 2] as const;
const UNAME = [265, 32] as const;
const GNAME = [297, 32] as const;
const DEVMAJOR = [329, 8] as const;
const DEVMINOR = [337, 8] as const;
const PREFIX = [345, 155] as const;
type Field = readonly [offset: number, length: number];

const encoder = new TextEncoder();
const USTAR_MAGIC = encoder.encode("ustar\0");
const USTAR_VERSION = encoder.encode("00");

/** Largest value an octal field of `length` bytes holds (length - 1 digits and a NUL). */
function octalMax(length: number): number {
  return 8 ** (length - 1) - 1;
}

// ---------------------------------------------------------------------------------------------
// Writer

/** What a header says about one member, after deciding what goes to pax. */
interface HeaderSpec {
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
function writeNumber(header: Uint8Array, [offset, length]: Field, value: number): void {
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

function writeHeader(header: Uint8Array, spec: HeaderSpec): void {
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

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.byteLength; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Cuts UTF-8 bytes to at most `max` without splitting a character. */
function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.byteLength <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Splits a name into ustar prefix (155) and name (100) at a "/", or returns undefined when it
 * cannot be split.
 */
function splitUstarName(bytes: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | undefined {
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

/** One pax record: "<length> <key>=<value>\n", where length counts the whole record. */
function paxRecord(key: string, value: Uint8Array): Uint8Array {
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

function typeflagOf(entry: Entry): string {
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

/**
 * Writes entries, in the order given, as a POSIX tar stream (ustar headers, pax extended headers
 * where ustar cannot hold a value) in ~1 MiB chunks. Pax is used for names and link targets
 * that do not fit ustar's 100 + 155 split or are not ASCII, sizes of 8 GiB or more, uid/gid and
 * mtimes beyond the octal fields, non-ASCII or long owner names, and xattrs
 * (`SCHILY.xattr.<name>` with the raw bytes, sorted by name). Nothing depends on the time, the
 * host or the process, so the same entries always give the same bytes. The root is "./".
 *
 * @example
 * ```ts
 * const chunks = tarStream([{ ...baseMeta("etc", 0o755), kind: "dir" }]);
 * for await (const chunk of chunks) await out.write(chunk);
 * ```
 */
export async function* tarStream(
  entries: AsyncIterable<Entry> | Iterable<Entry>,
): AsyncGenerator<Uint8Array> {
  const batcher = new OutputBatcher();
  for await (const entry of entries) {
    checkEntryNames(entry, "tar");
    const records: Uint8Array[] = [];
    const memberName = entry.path === "."
      ? "./"
      : entry.kind === "dir"
      ? `${entry.path}/`
      : entry.path;
    const nameBytes = utf8(memberName);
    let split = isAscii(nameBytes) ? splitUstarName(nameBytes) : undefined;
    if (split === undefined) {
      records.push(paxRecord("path", nameBytes));
      split = splitUstarName(nameBytes) ??
        { prefix: new Uint8Array(0), name: truncateUtf8(nameBytes, NAME[1]) };
    }

    let linkname: Uint8Array = new Uint8Array(0);
    if (entry.kind === "symlink" || entry.kind === "hardlink") {
      linkname = utf8(entry.target);
      if (linkname.byteLength > LINKNAME[1] || !isAscii(linkname)) {
        records.push(paxRecord("linkpath", linkname));
        linkname = truncateUtf8(linkname, LINKNAME[1]);
      }
    }

    const size = entry.kind === "file" ? entry.content.size : 0;
    if (size > octalMax(SIZE[1])) records.push(paxRecord("size", encoder.encode(String(size))));
    for (const [key, value, field] of [["uid", entry.uid, UID], ["gid", entry.gid, GID]] as const) {
      if (value > octalMax(field[1])) records.push(paxRecord(key, encoder.encode(String(value))));
    }
    const mtime = Math.floor(entry.mtime);
    if (mtime < 0 || mtime > octalMax(MTIME[1])) {
      records.push(paxRecord("mtime", encoder.encode(String(mtime))));
    }
    const owner = (key: "uname" | "gname", value: string) => {
      const bytes = utf8(value);
      if (bytes.byteLength < UNAME[1] && isAscii(bytes)) return bytes;
      records.push(paxRecord(key, bytes));
      return new Uint8Array(0);
    };
    const uname = owner("uname", entry.uname);
    const gname = owner("gname", entry.gname);
    for (const name of [...entry.xattrs.keys()].sort()) {
      records.push(paxRecord(`SCHILY.xattr.${name}`, entry.xattrs.get(name)!));
    }

    if (records.length > 0) {
      let paxSize = 0;
      for (const record of records) paxSize += record.byteLength;
      // A deterministic pax header name (GNU tar's default embeds the process id).
      const base = entry.path === "." ? "." : entry.path.slice(entry.path.lastIndexOf("/") + 1);
      writeHeader(batcher.reserve(BLOCK), {
        name: truncateUtf8(encoder.encode(`PaxHeader/${base}`), NAME[1]),
        prefix: new Uint8Array(0),
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: paxSize,
        mtime: Math.min(Math.max(mtime, 0), octalMax(MTIME[1])),
        typeflag: "x",
        linkname: new Uint8Array(0),
        uname: new Uint8Array(0),
        gname: new Uint8Array(0),
        devmajor: 0,
        devminor: 0,
      });
      const body = batcher.reserve(paxSize + padTo512(paxSize));
      let at = 0;
      for (const record of records) {
        body.set(record, at);
        at += record.byteLength;
      }
    }

    const device = entry.kind === "chardev" || entry.kind === "blockdev";
    writeHeader(batcher.reserve(BLOCK), {
      name: split.name,
      prefix: split.prefix,
      mode: entry.mode & 0o7777,
      uid: entry.uid,
      gid: entry.gid,
      size,
      mtime,
      typeflag: typeflagOf(entry),
      linkname,
      uname,
      gname,
      devmajor: device ? entry.devmajor : 0,
      devminor: device ? entry.devminor : 0,
    });
    if (entry.kind === "file") {
      yield* writeContent(batcher, entry.content, entry.path);
      batcher.reserve(padTo512(size));
    }
    if (batcher.hasReady) { for (const out of batcher.take()) yield out; }
  }
  // End of archive: two zero blocks, then zeros up to a whole record.
  batcher.reserve(2 * BLOCK);
  batcher.reserve((RECORD - (batcher.total % RECORD)) % RECORD);
  for (const out of batcher.take(true)) yield out;
}

function padTo512(length: number): number {
  return (BLOCK - (length % BLOCK)) % BLOCK;
}

// ---------------------------------------------------------------------------------------------
// Reader

/** Largest GNU long name or pax header read into memory; real ones are a few KiB. */
const MAX_META_SIZE = 1 << 20;

/** The pax keys this reader applies; others (atime, ctime, comment, ...) are ignored. */
interface PaxValues {
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

interface PaxSparse {
  major?: number;
  name?: string;
  realSize?: number;
  /** offset, length pairs as listed (0.0: repeated keys; 0.1: GNU.sparse.map). */
  map: number[];
}

/** Where the data segments of a sparse file lie; everything else reads as zeros. */
interface SparseMap {
  realSize: number;
  segments: { offset: number; length: number }[];
}

function fieldBytes(header: Uint8Array, [offset, length]: Field): Uint8Array {
  const view = header.subarray(offset, offset + length);
  const nul = view.indexOf(0);
  return nul < 0 ? view : view.subarray(0, nul);
}

function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Parses a numeric header field: octal (leading spaces or zeros, ended by NUL or space) or
 * GNU base-256 (top bit of the first byte set). An all-empty field is 0.
 */
function parseNumber(header: Uint8Array, [offset, length]: Field, what: () => string): number {
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

function checksumMatches(header: Uint8Array, at: number): void {
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

const DECIMAL = /^[0-9]+$/;
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
function parsePax(data: Uint8Array, into: PaxValues, at: number): void {
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

/**
 * Reads a tar stream (POSIX ustar and pax, GNU including long names 'L'/'K', base-256 numbers
 * and sparse files in all four GNU encodings, old GNU, v7) into entries. A sparse file comes
 * back as a plain `file` whose content yields its holes as zeros. A regular file's content must be read (or skipped by
 * asking for the next entry) before the next entry. Names "./x" become "x" and "./" becomes
 * "."; other names are kept verbatim for the extractor to judge. Throws IntegrityError for a
 * truncated archive, a bad checksum, a malformed field, a missing end marker or non-zero bytes
 * after it.
 *
 * @example
 * ```ts
 * for await (const entry of readTar(chunks)) console.log(entry.kind, entry.path);
 * ```
 */
export async function* readTar(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Entry> {
  const reader = new ChunkReader(chunks);
  const global: PaxValues = { xattrs: new Map() };
  let local: PaxValues = { xattrs: new Map() };
  let gnuLongName: string | undefined;
  let gnuLongLink: string | undefined;
  let members = 0;

  const readMeta = async (size: number, at: number, what: string): Promise<Uint8Array> => {
    if (size > MAX_META_SIZE) {
      throw new IntegrityError(`Malformed tar archive: ${what} at offset ${at} is ${size} bytes`);
    }
    const data = await reader.read(size + padTo512(size));
    if (data.byteLength < size + padTo512(size)) {
      throw new IntegrityError(`Truncated tar archive: ${what} at offset ${at} is cut short`);
    }
    return data.subarray(0, size);
  };
  const nameOf = (bytes: Uint8Array, what: string) => {
    const nul = bytes.indexOf(0);
    return decodeUtf8(nul < 0 ? bytes : bytes.subarray(0, nul), what);
  };

  while (true) {
    const at = reader.position;
    const header = await reader.read(BLOCK);
    if (header.byteLength < BLOCK) {
      throw new IntegrityError(
        header.byteLength > 0
          ? `Truncated tar archive: header at offset ${at} is cut short`
          : members === 0 && at === 0
          ? "Truncated tar archive: it is empty"
          : `Truncated tar archive: it ends at offset ${at} without the end-of-archive marker`,
      );
    }
    if (isZeroBlock(header)) {
      // End of archive. GNU tar and bsdtar write a second zero block and pad to a record;
      // anything non-zero after the first zero block is not part of the archive.
      const garbage = await reader.firstNonZeroInRest();
      if (garbage !== undefined) {
        throw new IntegrityError(
          `Trailing garbage in tar archive: non-zero byte at offset ${garbage} after the end-of-archive marker`,
        );
      }
      return;
    }
    checksumMatches(header, at);
    members++;

    const typeflag = String.fromCharCode(header[TYPEFLAG]!);
    const headerSize = () => parseNumber(header, SIZE, () => `the size field at offset ${at}`);

    // Metadata members that apply to the next real member.
    if (typeflag === "x" || typeflag === "g") {
      const data = await readMeta(headerSize(), at, "pax header");
      parsePax(data, typeflag === "x" ? local : global, at);
      continue;
    }
    if (typeflag === "L" || typeflag === "K") {
      const data = await readMeta(headerSize(), at, "GNU long name");
      const text = nameOf(data, `GNU long name at offset ${at}`);
      if (typeflag === "L") gnuLongName = text;
      else gnuLongLink = text;
      continue;
    }
    if (typeflag === "V") {
      // GNU volume label: not a file.
      await readMeta(headerSize(), at, "volume label");
      continue;
    }

    const magic = header.subarray(MAGIC[0], MAGIC[0] + MAGIC[1]);
    const posix = magic.every((byte, i) => byte === USTAR_MAGIC[i]);
    const headerName = nameOf(fieldBytes(header, NAME), `tar member name at offset ${at}`);
    // Only POSIX ustar has a prefix; old GNU keeps atime/ctime/sparse data in that space.
    const prefix = posix
      ? nameOf(fieldBytes(header, PREFIX), `tar name prefix at offset ${at}`)
      : "";
    const pax: PaxValues = {
      ...global,
      ...Object.fromEntries(Object.entries(local).filter(([, value]) => value !== undefined)),
      xattrs: new Map([...global.xattrs, ...local.xattrs]),
      sparse: local.sparse, // a property of one file, never global
    };
    const name = pax.path ?? gnuLongName ?? (prefix ? `${prefix}/${headerName}` : headerName);
    const linkTarget = pax.linkpath ?? gnuLongLink ??
      nameOf(fieldBytes(header, LINKNAME), `tar link name at offset ${at}`);
    if (name === "" || name.includes("\0") || linkTarget.includes("\0")) {
      throw new IntegrityError(
        `Malformed tar member at offset ${at}: name ${JSON.stringify(name)} or link target ${
          JSON.stringify(linkTarget)
        } is empty or holds a NUL`,
      );
    }
    local = { xattrs: new Map() };
    gnuLongName = undefined;
    gnuLongLink = undefined;

    let size = headerSize();
    if (pax.size !== undefined) {
      // A pax size overrides the header; a header size that holds a different real value means
      // the two disagree about where the next header is.
      if (header[SIZE[0]]! < 0x80 && size !== 0 && size !== pax.size) {
        throw new IntegrityError(
          `Malformed tar member "${name}" at offset ${at}: pax size ${pax.size} disagrees with header size ${size}`,
        );
      }
      size = pax.size;
    }
    const field = (f: Field, label: string) =>
      parseNumber(header, f, () => `the ${label} field of "${name}" at offset ${at}`);
    const meta: EntryMeta = {
      path: normaliseMemberPath(name),
      mode: field(MODE, "mode") & 0o7777,
      uid: pax.uid ?? field(UID, "uid"),
      gid: pax.gid ?? field(GID, "gid"),
      uname: pax.uname ?? nameOf(fieldBytes(header, UNAME), `uname at offset ${at}`),
      gname: pax.gname ?? nameOf(fieldBytes(header, GNAME), `gname at offset ${at}`),
      mtime: pax.mtime ?? field(MTIME, "mtime"),
      xattrs: pax.xattrs,
    };
    if (pax.sparse?.name !== undefined) meta.path = normaliseMemberPath(pax.sparse.name);
    const shownName = pax.sparse?.name ?? name; // as the archive has it, for messages
    const describe = () => `member "${shownName}" at offset ${at}`;
    // A GNU sparse file: its map comes from the pax header (0.0, 0.1), the start of its data
    // (1.0) or the old GNU header and its extension blocks ('S'); the data holds the segments.
    let sparseMap: SparseMap | undefined;
    let mapBytes = 0;
    if (typeflag === "S") {
      sparseMap = await readOldGnuSparseMap(reader, header, describe);
    } else if (pax.sparse !== undefined && (typeflag === "0" || typeflag === "\0")) {
      if (pax.sparse.major === 1) {
        const read = await readSparseMapFromData(reader, size, describe);
        mapBytes = read.bytes;
        sparseMap = { realSize: pax.sparse.realSize ?? NaN, segments: read.segments };
      } else {
        sparseMap = { realSize: pax.sparse.realSize ?? NaN, segments: pairs(pax.sparse.map) };
      }
    }
    const body = new MemberBody(reader, size - mapBytes, describe);
    const content = sparseMap === undefined
      ? body.content
      : sparseContent(body.content, checkSparseMap(sparseMap, size - mapBytes, describe), describe);

    switch (typeflag) {
      case "0":
      case "\0":
      case "7": // contiguous file: a regular file everywhere but on a few old Unixes
      case "S":
        if (name.endsWith("/") && typeflag === "\0") {
          yield { ...meta, kind: "dir" }; // v7 tar marked directories by a trailing slash
        } else {
          yield { ...meta, kind: "file", content };
        }
        break;
      case "1":
        yield { ...meta, kind: "hardlink", target: normaliseMemberPath(linkTarget) };
        break;
      case "2":
        yield { ...meta, kind: "symlink", target: linkTarget };
        break;
      case "3":
      case "4": {
        const devmajor = pax.devmajor ?? field(DEVMAJOR, "devmajor");
        const devminor = pax.devminor ?? field(DEVMINOR, "devminor");
        yield { ...meta, kind: typeflag === "3" ? "chardev" : "blockdev", devmajor, devminor };
        break;
      }
      case "5":
      case "D": // GNU dumpdir: a directory whose data lists its contents; the data is skipped
        yield { ...meta, kind: "dir" };
        break;
      case "6":
        yield { ...meta, kind: "fifo" };
        break;
      default:
        throw new IntegrityError(
          `Unsupported tar member ${describe()}: type ${JSON.stringify(typeflag)}`,
        );
    }
    // Data a non-file member carries (a pax hard link with data, a dumpdir) is skipped here too.
    await body.finish();
    const pad = padTo512(size);
    if (await reader.skip(pad) < pad) {
      throw new IntegrityError(`Truncated tar archive: padding after ${describe()}`);
    }
  }
}

function pairs(numbers: number[]): { offset: number; length: number }[] {
  const segments: { offset: number; length: number }[] = [];
  for (let i = 0; i + 1 < numbers.length; i += 2) {
    segments.push({ offset: numbers[i]!, length: numbers[i + 1]! });
  }
  if (numbers.length % 2 !== 0) segments.push({ offset: NaN, length: NaN });
  return segments;
}

/** Old GNU sparse ('S'): 4 map entries in the header, 21 per extension block after it. */
async function readOldGnuSparseMap(
  reader: ChunkReader,
  header: Uint8Array,
  describe: () => string,
): Promise<SparseMap> {
  const segments: { offset: number; length: number }[] = [];
  const collect = (block: Uint8Array, start: number, count: number) => {
    for (let i = 0; i < count; i++) {
      const at = start + 24 * i;
      if (block[at] === 0) return;
      const what = () => `the sparse map of ${describe()}`;
      segments.push({
        offset: parseNumber(block, [at, 12], what),
        length: parseNumber(block, [at + 12, 12], what),
      });
    }
  };
  collect(header, 386, 4);
  const realSize = parseNumber(header, [483, 12], () => `the real size of ${describe()}`);
  let extended = header[482] !== 0;
  while (extended) {
    const block = await reader.read(BLOCK);
    if (block.byteLength < BLOCK) {
      throw new IntegrityError(`Truncated tar archive: sparse map of ${describe()} is cut short`);
    }
    collect(block, 0, 21);
    extended = block[504] !== 0;
    if (segments.length > 1_000_000) {
      throw new IntegrityError(`Malformed tar archive: sparse map of ${describe()} is too long`);
    }
  }
  return { realSize, segments };
}

/**
 * GNU sparse 1.0: the data starts with the map in decimal lines (count, then offset and length
 * pairs), padded to a block. Returns the segments and how many bytes the map took.
 */
async function readSparseMapFromData(
  reader: ChunkReader,
  size: number,
  describe: () => string,
): Promise<{ segments: { offset: number; length: number }[]; bytes: number }> {
  const numbers: number[] = [];
  let line = "";
  let bytes = 0;
  let wanted = Infinity;
  while (numbers.length < wanted) {
    if (bytes + BLOCK > Math.min(size, MAX_META_SIZE)) {
      throw new IntegrityError(`Malformed tar archive: sparse map of ${describe()} is too long`);
    }
    const block = await reader.read(BLOCK);
    if (block.byteLength < BLOCK) {
      throw new IntegrityError(`Truncated tar archive: sparse map of ${describe()} is cut short`);
    }
    bytes += BLOCK;
    for (let i = 0; i < BLOCK && numbers.length < wanted; i++) {
      const c = block[i]!;
      if (c === 0x0a) {
        if (!DECIMAL.test(line)) {
          throw new IntegrityError(
            `Malformed tar archive: sparse map of ${describe()} holds ${JSON.stringify(line)}`,
          );
        }
        numbers.push(Number(line));
        if (numbers.length === 1) wanted = 1 + 2 * numbers[0]!;
        line = "";
      } else {
        line += String.fromCharCode(c);
        if (line.length > 20) {
          throw new IntegrityError(`Malformed tar archive: sparse map of ${describe()}`);
        }
      }
    }
  }
  return { segments: pairs(numbers.slice(1)), bytes };
}

/** Segments must be in order, inside the file, and add up to the data stored. */
function checkSparseMap(map: SparseMap, stored: number, describe: () => string): SparseMap {
  let end = 0;
  let total = 0;
  for (const { offset, length } of map.segments) {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < end) {
      throw new IntegrityError(
        `Malformed tar archive: sparse map of ${describe()} is not in order`,
      );
    }
    end = offset + length;
    total += length;
  }
  if (!Number.isSafeInteger(map.realSize) || end > map.realSize || total !== stored) {
    throw new IntegrityError(
      `Malformed tar archive: sparse map of ${describe()} covers ${total} bytes up to ${end}, ` +
        `but ${stored} bytes are stored for a file of ${map.realSize}`,
    );
  }
  return map;
}

/** Zeros for the holes, the stored bytes for the segments. */
function sparseContent(
  stored: FileContent,
  map: SparseMap,
  describe: () => string,
): FileContent {
  return {
    size: map.realSize,
    async *open() {
      const data = stored.open()[Symbol.asyncIterator]();
      let pending: Uint8Array = new Uint8Array(0);
      let position = 0;
      const zeros = function* (count: number) {
        // Fresh buffers: a consumer may keep or transfer what it is given.
        for (let left = count; left > 0; left -= 1 << 20) {
          yield new Uint8Array(Math.min(left, 1 << 20));
        }
      };
      for (const { offset, length } of map.segments) {
        yield* zeros(offset - position);
        position = offset;
        for (let left = length; left > 0;) {
          if (pending.byteLength === 0) {
            const next = await data.next();
            if (next.done) {
              throw new IntegrityError(`Truncated archive: sparse data of ${describe()}`);
            }
            pending = next.value;
          }
          const take = Math.min(left, pending.byteLength);
          yield pending.subarray(0, take);
          pending = pending.subarray(take);
          left -= take;
          position += take;
        }
      }
      yield* zeros(map.realSize - position);
    },
  };
}
