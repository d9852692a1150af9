// ISO 9660 on-disc structures, decoded without I/O: volume descriptors (ECMA-119 §8), directory
// records (§9.1), their dates, and the System Use entries of SUSP with the Rock Ridge (RRIP) ones.

/** Volume descriptors sit in 2048-byte sectors from sector 16, whatever the logical block size. */
export const SECTOR = 2048;
export const FIRST_DESCRIPTOR_SECTOR = 16;

/** A structural defect, before the walker knows which path it belongs to. */
export class IsoProblem extends Error {
  constructor(readonly rule: string) {
    super(rule);
  }
}

const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf16 = new TextDecoder("utf-16be", { fatal: true });

function u16le(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

function u32le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)) + bytes[at + 3]! * 0x1000000;
}

/** A text field padded with spaces (a-characters / d-characters), trimmed. */
function padded(bytes: Uint8Array, at: number, length: number): string {
  return latin1.decode(bytes.subarray(at, at + length)).replace(/[\s\0]+$/, "");
}

/** A primary or supplementary volume descriptor: where its tree is and how it is named. */
export interface VolumeInfo {
  type: "primary" | "supplementary";
  /** Joliet level 1..3 when this supplementary descriptor is Joliet's (UCS-2 names). */
  joliet: number | undefined;
  systemId: string;
  volumeId: string;
  /** Logical blocks in the volume (the image may be padded beyond). */
  volumeBlocks: number;
  blockSize: number;
  /** The root directory's record (34 bytes). */
  root: DirectoryRecord;
}

/** One volume descriptor of the set that starts at sector 16. */
export type VolumeDescriptor =
  | { type: "terminator" }
  | { type: "boot" | "partition" | "other" }
  | VolumeInfo;

/** Decodes one 2048-byte descriptor sector; throws IsoProblem when it is not one. */
export function parseVolumeDescriptor(sector: Uint8Array): VolumeDescriptor {
  // ECMA-119 §8.1: type byte, "CD001", version 1.
  if (latin1.decode(sector.subarray(1, 6)) !== "CD001") {
    throw new IsoProblem('has no ISO 9660 volume descriptor (no "CD001" signature)');
  }
  const type = sector[0]!;
  if (type === 255) return { type: "terminator" };
  if (type === 0) return { type: "boot" };
  if (type === 3) return { type: "partition" };
  if (type !== 1 && type !== 2) return { type: "other" };
  // §8.5: escape sequences at 88; Joliet marks its descriptor with "%/@", "%/C" or "%/E".
  const escapes = latin1.decode(sector.subarray(88, 91));
  const joliet = type === 2
    ? ({ "%/@": 1, "%/C": 2, "%/E": 3 } as Record<string, number>)[escapes]
    : undefined;
  const blockSize = u16le(sector, 128);
  if (blockSize !== 512 && blockSize !== 1024 && blockSize !== 2048) {
    throw new IsoProblem(`has a logical block size of ${blockSize} bytes (512, 1024 or 2048)`);
  }
  return {
    type: type === 1 ? "primary" : "supplementary",
    joliet,
    systemId: padded(sector, 8, 32),
    volumeId: type === 2 && joliet !== undefined
      ? decodeUcs2(sector.subarray(40, 72)).replace(/[\s\0]+$/, "")
      : padded(sector, 40, 32),
    volumeBlocks: u32le(sector, 80),
    blockSize,
    root: parseDirectoryRecord(sector, 156, sector[156]!),
  };
}

/** ECMA-119 §9.1.6 file flags. */
export const FLAG_HIDDEN = 0x01;
export const FLAG_DIRECTORY = 0x02;
export const FLAG_ASSOCIATED = 0x04;
export const FLAG_MULTI_EXTENT = 0x80;

/** One directory record (§9.1). `systemUse` is a view into the directory's bytes. */
export interface DirectoryRecord {
  length: number;
  /** Blocks of extended attribute record before the data (§9.1.2). */
  xattrBlocks: number;
  extent: number;
  size: number;
  /** Recording date in seconds since the epoch. */
  recorded: number;
  flags: number;
  /** Interleaving (§9.1.7/8): non-zero means the data is not contiguous. */
  unitSize: number;
  gapSize: number;
  identifier: Uint8Array;
  systemUse: Uint8Array;
}

/** The record at `at` of `length` bytes (the caller has checked it lies inside `bytes`). */
export function parseDirectoryRecord(
  bytes: Uint8Array,
  at: number,
  length: number,
): DirectoryRecord {
  if (length < 34) throw new IsoProblem(`has a directory record of ${length} bytes (at least 34)`);
  const identifierLength = bytes[at + 32]!;
  if (identifierLength === 0 || 33 + identifierLength > length) {
    throw new IsoProblem(`has a directory record whose name does not fit in it`);
  }
  // §9.1.12: a padding byte follows an identifier of even length.
  const systemUseStart = 33 + identifierLength + (identifierLength % 2 === 0 ? 1 : 0);
  return {
    length,
    xattrBlocks: bytes[at + 1]!,
    extent: u32le(bytes, at + 2),
    size: u32le(bytes, at + 10),
    recorded: recordDate(bytes, at + 18),
    flags: bytes[at + 25]!,
    unitSize: bytes[at + 26]!,
    gapSize: bytes[at + 27]!,
    identifier: bytes.subarray(at + 33, at + 33 + identifierLength),
    systemUse: bytes.subarray(at + Math.min(systemUseStart, length), at + length),
  };
}

/** §9.1.5: years since 1900, month, day, hour, minute, second, offset in 15-minute units. */
export function recordDate(bytes: Uint8Array, at: number): number {
  const month = bytes[at + 1]!;
  const day = bytes[at + 2]!;
  if (month < 1 || month > 12 || day < 1 || day > 31) return 0;
  const offset = (bytes[at + 6]! << 24) >> 24;
  const utc = Date.UTC(
    1900 + bytes[at]!,
    month - 1,
    day,
    bytes[at + 3]!,
    bytes[at + 4]!,
    bytes[at + 5]!,
  );
  return Math.floor(utc / 1000) - offset * 15 * 60;
}

/** §8.4.26.1: "YYYYMMDDHHMMSScc" in digits and an offset byte; all zero means "not specified". */
export function longDate(bytes: Uint8Array, at: number): number {
  const text = latin1.decode(bytes.subarray(at, at + 16));
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\d{2}$/.exec(text);
  if (!match) return 0;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as number[];
  if (month! < 1 || month! > 12 || day! < 1) return 0;
  const offset = (bytes[at + 16]! << 24) >> 24;
  const utc = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
  return Math.floor(utc / 1000) - offset * 15 * 60;
}

/** Joliet's UCS-2 (read as UTF-16 big-endian, so names beyond the BMP survive). */
export function decodeUcs2(bytes: Uint8Array): string {
  try {
    return utf16.decode(bytes.subarray(0, bytes.byteLength & ~1));
  } catch {
    throw new IsoProblem("has a Joliet name that is not valid UCS-2");
  }
}

/** A Rock Ridge name or link component: Linux names are bytes, osimg takes them as UTF-8. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  // Most names are ASCII: building the string here is much cheaper than a decoder call (a
  // plain loop: a callback per byte, or spreading the bytes as arguments, costs more than it).
  if (bytes.byteLength <= 255) {
    let text = "";
    let ascii = true;
    for (let index = 0; index < bytes.byteLength; index++) {
      const byte = bytes[index]!;
      if (byte >= 0x80) {
        ascii = false;
        break;
      }
      text += String.fromCharCode(byte);
    }
    if (ascii) return text;
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new IsoProblem(`has a ${what} that is not UTF-8`);
  }
}

/** The name of an ISO 9660 identifier without its ";1" version and trailing dot (§7.5.1). */
export function isoName(identifier: Uint8Array): string {
  let end = identifier.byteLength;
  // ";" and the version digits, then one trailing "." (a name without an extension).
  for (let index = end - 1; index >= 0; index--) {
    const byte = identifier[index]!;
    if (byte === 0x3b) {
      end = index;
      break;
    }
    if (byte < 0x30 || byte > 0x39) break;
  }
  if (end > 0 && identifier[end - 1] === 0x2e) end--;
  let text = "";
  for (let index = 0; index < end; index++) text += String.fromCharCode(identifier[index]!);
  return text;
}

/** A Joliet identifier without its ";1" version. */
export function jolietName(identifier: Uint8Array): string {
  return decodeUcs2(identifier).replace(/;\d*$/, "");
}

/** Where a SUSP continuation area (CE, SUSP §5.1) is: block, byte offset in it, length. */
export interface Continuation {
  block: number;
  offset: number;
  length: number;
}

/** One System Use entry: two-letter signature, version, data after the 4-byte header. */
export interface SuspEntry {
  signature: string;
  version: number;
  data: Uint8Array;
}

/**
 * The entries of one System Use area (or continuation area), in order, and the continuation it
 * names. Stops at ST (SUSP §5.4) or at trailing padding (fewer than 4 bytes, or a zero byte
 * where a signature would start, as some writers leave).
 */
export function parseSuspArea(area: Uint8Array): {
  entries: SuspEntry[];
  continuation: Continuation | undefined;
} {
  const entries: SuspEntry[] = [];
  let continuation: Continuation | undefined;
  let at = 0;
  while (at + 4 <= area.byteLength && area[at] !== 0) {
    const length = area[at + 2]!;
    if (length < 4 || at + length > area.byteLength) {
      throw new IsoProblem("has a malformed Rock Ridge (SUSP) entry");
    }
    const signature = String.fromCharCode(area[at]!, area[at + 1]!);
    const data = area.subarray(at + 4, at + length);
    at += length;
    if (signature === "ST") break;
    if (signature === "CE") {
      if (data.byteLength < 24) throw new IsoProblem("has a malformed Rock Ridge CE entry");
      if (continuation) throw new IsoProblem("has two Rock Ridge continuation (CE) entries");
      continuation = { block: u32le(data, 0), offset: u32le(data, 8), length: u32le(data, 16) };
      continue;
    }
    entries.push({ signature, version: area[at - length + 3]!, data });
  }
  return { entries, continuation };
}

/** POSIX file types in a PX mode (RRIP §4.1.1). */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** What the Rock Ridge entries of one directory record say, once all of them are read. */
export interface RockRidgeFields {
  /** NM, assembled across continued entries; undefined without NM. */
  name: string | undefined;
  /** PX: full mode with type bits, owners. */
  mode: number | undefined;
  uid: number;
  gid: number;
  /** SL, assembled across components and entries; undefined without SL. */
  symlink: string | undefined;
  /** TF modification time in seconds. */
  mtime: number | undefined;
  /** CL: the block of a relocated directory this placeholder stands for. */
  childLink: number | undefined;
  /** RE: this directory is the relocated one, listed in its real parent by a CL placeholder. */
  relocated: boolean;
  /** Present for entries osimg does not copy: PN (device), SF (sparse), ZF (zisofs). */
  unsupported: string | undefined;
}

/** Rock Ridge caps (a name is one Linux path component; a link target fits PATH_MAX). */
export const MAX_NAME_BYTES = 255;
export const MAX_LINK_BYTES = 4095;

/**
 * Folds the SUSP entries of one directory record, across its continuation areas, into the
 * Rock Ridge fields. NM and SL pieces are joined as RRIP §4.1.3/§4.1.4 say: a component (or
 * name piece) flagged CONTINUE goes on without a separator; otherwise the next component of the
 * link — in the same SL entry or the next one — is preceded by "/". (bsdtar drops that "/"
 * between SL entries; this does not.)
 */
export class RockRidgeAccumulator {
  #nameParts: Uint8Array[] = [];
  #nameBytes = 0;
  #nameDone = false;
  #link = "";
  #linkBytes = 0;
  #linkStarted = false;
  #linkDone = false;
  /** Whether the next link component needs a "/" before it. */
  #separator = false;
  /** Whether the last component was flagged CONTINUE (its text goes on in the next). */
  #componentContinues = false;
  readonly fields: RockRidgeFields = {
    name: undefined,
    mode: undefined,
    uid: 0,
    gid: 0,
    symlink: undefined,
    mtime: undefined,
    childLink: undefined,
    relocated: false,
    unsupported: undefined,
  };

  add(entry: SuspEntry): void {
    const { data } = entry;
    switch (entry.signature) {
      case "PX":
        if (data.byteLength < 32) throw new IsoProblem("has a malformed Rock Ridge PX entry");
        this.fields.mode = u32le(data, 0);
        this.fields.uid = u32le(data, 16);
        this.fields.gid = u32le(data, 24);
        break;
      case "NM":
        this.#addName(data);
        break;
      case "SL":
        this.#addLink(data);
        break;
      case "TF":
        this.#addTimes(data);
        break;
      case "CL":
        if (data.byteLength < 8) throw new IsoProblem("has a malformed Rock Ridge CL entry");
        this.fields.childLink = u32le(data, 0);
        break;
      case "RE":
        this.fields.relocated = true;
        break;
      case "PN":
        this.fields.unsupported = "is a device node (Rock Ridge PN), which media may not contain";
        break;
      case "SF":
        this.fields.unsupported = "is a Rock Ridge sparse file (SF), which osimg does not read";
        break;
      case "ZF":
        this.fields.unsupported = "is a zisofs-compressed file (ZF), which osimg does not read";
        break;
      default:
        // SP, ER, ES, PD, RR, PL, AL, AA, ... carry nothing a copy needs.
        break;
    }
  }

  #addName(data: Uint8Array): void {
    if (data.byteLength < 1) throw new IsoProblem("has a malformed Rock Ridge NM entry");
    if (this.#nameDone) throw new IsoProblem("has a Rock Ridge name (NM) after its last piece");
    const flags = data[0]!;
    // RRIP §4.1.4: CURRENT and PARENT name "." and ".."; a file may not be called either.
    if (flags & 0x06) throw new IsoProblem('has a Rock Ridge name that is "." or ".."');
    const piece = data.subarray(1);
    this.#nameBytes += piece.byteLength;
    if (this.#nameBytes > MAX_NAME_BYTES) {
      throw new IsoProblem(`has a Rock Ridge name longer than ${MAX_NAME_BYTES} bytes`);
    }
    this.#nameParts.push(piece);
    if (!(flags & 0x01)) this.#nameDone = true;
  }

  #addLink(data: Uint8Array): void {
    if (data.byteLength < 1) throw new IsoProblem("has a malformed Rock Ridge SL entry");
    if (this.#linkDone) throw new IsoProblem("has a Rock Ridge link (SL) after its last entry");
    this.#linkStarted = true;
    let at = 1;
    while (at < data.byteLength) {
      if (at + 2 > data.byteLength || at + 2 + data[at + 1]! > data.byteLength) {
        throw new IsoProblem("has a malformed Rock Ridge SL component");
      }
      const flags = data[at]!;
      const content = data.subarray(at + 2, at + 2 + data[at + 1]!);
      at += 2 + content.byteLength;
      let text: string;
      if (flags & 0x02) text = ".";
      else if (flags & 0x04) text = "..";
      else if (flags & 0x08) {
        // ROOT: the target is absolute; only as its first component does that make sense.
        if (this.#link !== "" || this.#componentContinues) {
          throw new IsoProblem("has a Rock Ridge link with a root component in its middle");
        }
        this.#link = "/";
        this.#separator = false;
        this.#componentContinues = false;
        continue;
      } else if (flags & 0x30) {
        throw new IsoProblem("has a Rock Ridge link to the volume root or host (SL flags)");
      } else text = decodeUtf8(content, "Rock Ridge link component");
      if (text.includes("/") || text.includes("\0")) {
        throw new IsoProblem('has a Rock Ridge link component containing "/" or NUL');
      }
      const piece = (this.#separator && !this.#componentContinues ? "/" : "") + text;
      this.#linkBytes += encoder.encode(piece).byteLength;
      if (this.#linkBytes > MAX_LINK_BYTES) {
        throw new IsoProblem(`has a Rock Ridge link target longer than ${MAX_LINK_BYTES} bytes`);
      }
      this.#link += piece;
      this.#componentContinues = (flags & 0x01) !== 0;
      this.#separator = true;
    }
    if (!(data[0]! & 0x01)) this.#linkDone = true;
  }

  #addTimes(data: Uint8Array): void {
    if (data.byteLength < 1) throw new IsoProblem("has a malformed Rock Ridge TF entry");
    const flags = data[0]!;
    const width = flags & 0x80 ? 17 : 7;
    // RRIP §4.1.6: the recorded stamps follow in flag order (creation, modify, access, ...).
    let at = 1;
    for (let bit = 0; bit < 7; bit++) {
      if (!(flags & (1 << bit))) continue;
      if (at + width > data.byteLength) throw new IsoProblem("has a malformed Rock Ridge TF entry");
      if (bit === 1) this.fields.mtime = width === 17 ? longDate(data, at) : recordDate(data, at);
      at += width;
    }
  }

  /** The fields, with the name and link assembled. */
  finish(): RockRidgeFields {
    if (this.#nameParts.length > 0) {
      const name = new Uint8Array(this.#nameBytes);
      let at = 0;
      for (const part of this.#nameParts) {
        name.set(part, at);
        at += part.byteLength;
      }
      this.fields.name = decodeUtf8(name, "Rock Ridge name");
    }
    if (this.#linkStarted) this.fields.symlink = this.#link;
    return this.fields;
  }
}

/** Whether an ER entry (SUSP §5.5) names the Rock Ridge extension, in any of its spellings. */
export function isRockRidgeExtension(entry: SuspEntry): boolean {
  if (entry.signature !== "ER" || entry.data.byteLength < 4) return false;
  const idLength = entry.data[0]!;
  const id = latin1.decode(entry.data.subarray(4, 4 + idLength));
  return id === "RRIP_1991A" || id === "IEEE_P1282" || id === "IEEE_1282";
}
