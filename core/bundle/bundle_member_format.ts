// Whether a bundle member is what its name says (gzip, zstd, xz, bzip2, squashfs, a packed root's cpio or tar), checked on its first bytes as it streams.

import { concatBytes } from "../../formats/bytes.ts";
import {
  type Compression,
  compressionOfName,
  decompress,
  detectCompression,
  MAGIC_LENGTH,
} from "../compress/compress.ts";
import type { ProcessRunner } from "../process.ts";

/** What a member's name promises about its bytes. */
export type MemberFormat =
  /** A packed root image (rootimg.cpio.gz, rootimg.tar.zst, rootimg.cpio, rootimgtree.gz). */
  | { kind: "packed"; compression: Compression; archive: "cpio" | "tar" }
  /** rootimg.sfs: a squashfs image. */
  | { kind: "squashfs" }
  /**
   * initrd-*.gz: an initramfs is a sequence of cpio archives, each compressed or not (the kernel's
   * early-userspace buffer format), and dracut puts an uncompressed early-microcode cpio first on
   * RHEL while keeping xCAT's ".gz" name; so its first bytes are cpio or any compression.
   */
  | { kind: "initramfs" }
  /** Any other file directly in the image directory named .gz, .zst, .xz or .bz2. */
  | { kind: "compressed"; compression: Exclude<Compression, "none"> };

/**
 * The format `path` (relative to its image directory) must have, or undefined when its name
 * promises nothing. Only the flat files the manifest names by role are checked: the extra/ and
 * kit directories hold the admin's own files, whose names the bundle does not define.
 *
 * @example
 * ```ts
 * memberFormat("rootimg.cpio.zst"); // { kind: "packed", compression: "zstd", archive: "cpio" }
 * ```
 */
export function memberFormat(path: string): MemberFormat | undefined {
  if (path.includes("/")) return undefined;
  // xCAT's legacy rootimg.gz and the statelite rootimgtree.gz are both gzip'd cpio newc.
  if (path === "rootimg.gz" || path === "rootimgtree.gz") {
    return { kind: "packed", compression: "gzip", archive: "cpio" };
  }
  const packed = /^rootimg\.(cpio|tar)(\.[a-z0-9]+)?$/.exec(path);
  if (packed) {
    const compression = packed[2] === undefined ? "none" : compressionOfName(path);
    if (compression !== undefined) {
      return { kind: "packed", compression, archive: packed[1] as "cpio" | "tar" };
    }
  }
  if (path === "rootimg.sfs") return { kind: "squashfs" };
  if (path.startsWith("initrd")) return { kind: "initramfs" };
  const compression = compressionOfName(path);
  return compression === undefined ? undefined : { kind: "compressed", compression };
}

/** squashfs's superblock magic, "hsqs" (little-endian 0x73717368). */
const SQUASHFS_MAGIC = [0x68, 0x73, 0x71, 0x73];
/** How much of a packed root is read to find its first archive header (bounded, never the whole member). */
const PACKED_HEAD_BYTES = 256 * 1024;
/** newc ("070701") and newc with CRC ("070702"), then 13 fields of 8 hex digits: 110 bytes. */
const CPIO_HEADER_BYTES = 110;
const TAR_HEADER_BYTES = 512;

/** The rule texts, as `member "<path>" <rule>` ends. */
export const FORMAT_RULES = {
  notCompressed: (compression: Compression) => `is not ${compression} data`,
  notSquashfs: "is not a squashfs image",
  notInitramfs: "is not an initramfs (neither a cpio archive nor compressed data)",
  corrupt: (compression: Compression, reason: string) =>
    `is not readable ${compression} data (${reason})`,
  notArchive: (archive: "cpio" | "tar") =>
    archive === "cpio"
      ? "does not hold a cpio archive: its first header is not cpio newc"
      : "does not hold a tar archive: its first header is not a valid tar header",
} as const;

/**
 * Checks one member against its name while it streams: `push` each chunk as it is read, `end`
 * when the member is complete. It keeps at most the first 256 KiB and stops looking once it has
 * decided; a problem is handed to `report` (which may throw to stop the read at once).
 *
 * @example
 * ```ts
 * const check = new MemberFormatCheck(ctx.runner, memberFormat("rootimg.cpio.gz")!, (rule) => { throw new Error(rule); });
 * for await (const chunk of content) await check.push(chunk);
 * await check.end();
 * ```
 */
export class MemberFormatCheck {
  readonly #runner: ProcessRunner;
  readonly #format: MemberFormat;
  readonly #report: (rule: string) => void;
  readonly #head: Uint8Array[] = [];
  #headBytes = 0;
  #magicChecked = false;
  #done = false;

  /** `runner` runs the decompressor a packed root's head is read through (zstd, xz, bzip2). */
  constructor(runner: ProcessRunner, format: MemberFormat, report: (rule: string) => void) {
    this.#runner = runner;
    this.#format = format;
    this.#report = report;
  }

  /** How many leading bytes decide the check. */
  #wanted(): number {
    const format = this.#format;
    if (format.kind !== "packed") return MAGIC_LENGTH;
    return format.compression === "none" ? TAR_HEADER_BYTES : PACKED_HEAD_BYTES;
  }

  async push(chunk: Uint8Array): Promise<void> {
    if (this.#done) return;
    const wanted = this.#wanted();
    // A copy: the reader may reuse the chunk's buffer once this returns.
    const take = chunk.subarray(0, Math.max(0, wanted - this.#headBytes));
    this.#head.push(take.slice());
    this.#headBytes += take.byteLength;
    if (!this.#magicChecked && this.#headBytes >= MAGIC_LENGTH) {
      this.#magicChecked = true;
      if (!this.#checkMagic(this.#bytes())) return;
    }
    if (this.#headBytes >= wanted) await this.#decide(false);
  }

  /** The member ended: decides on what was seen if that was less than the check wanted. */
  async end(): Promise<void> {
    if (this.#done) return;
    if (!this.#magicChecked && !this.#checkMagic(this.#bytes())) return;
    await this.#decide(true);
  }

  #bytes(): Uint8Array {
    if (this.#head.length === 1) return this.#head[0]!;
    const out = new Uint8Array(this.#headBytes);
    let offset = 0;
    for (const part of this.#head) {
      out.set(part, offset);
      offset += part.byteLength;
    }
    this.#head.splice(0, this.#head.length, out);
    return out;
  }

  #fail(rule: string): false {
    this.#done = true;
    this.#head.length = 0;
    this.#report(rule);
    return false;
  }

  /** The magic number the name promises; false (reported) when it is not there. */
  #checkMagic(head: Uint8Array): boolean {
    const format = this.#format;
    switch (format.kind) {
      case "squashfs":
        return startsWith(head, SQUASHFS_MAGIC) || this.#fail(FORMAT_RULES.notSquashfs);
      case "initramfs":
        return detectCompression(head) !== "none" || isCpioMagic(head) ||
          this.#fail(FORMAT_RULES.notInitramfs);
      case "compressed":
        return detectCompression(head) === format.compression ||
          this.#fail(FORMAT_RULES.notCompressed(format.compression));
      case "packed":
        // An uncompressed archive is judged by its header alone.
        if (format.compression === "none") return true;
        return detectCompression(head) === format.compression ||
          this.#fail(FORMAT_RULES.notCompressed(format.compression));
    }
  }

  /** The packed root's first archive header, from the (decompressed) head. */
  async #decide(complete: boolean): Promise<void> {
    const format = this.#format;
    this.#done = true;
    if (format.kind !== "packed") {
      this.#head.length = 0;
      return;
    }
    let archive: Uint8Array;
    try {
      archive = format.compression === "none"
        ? this.#bytes()
        : await decompressHead(this.#runner, this.#bytes(), complete);
    } catch (error) {
      this.#head.length = 0;
      this.#report(FORMAT_RULES.corrupt(format.compression, firstLine(error)));
      return;
    }
    this.#head.length = 0;
    const valid = format.archive === "cpio" ? isCpioHeader(archive) : isTarHeader(archive);
    if (!valid) this.#report(FORMAT_RULES.notArchive(format.archive));
  }
}

/**
 * The first decompressed bytes of `head` (a member's leading bytes, or all of it when
 * `complete`): enough for one tar header. The decompressor is stopped as soon as it has produced
 * them, so a head that inflates enormously costs one output chunk.
 */
async function decompressHead(
  runner: ProcessRunner,
  head: Uint8Array,
  complete: boolean,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const input = (async function* () {
    yield head;
  })();
  const output = decompress(runner, input);
  try {
    for await (const chunk of output) {
      parts.push(chunk.slice(0, TAR_HEADER_BYTES - size));
      size += Math.min(chunk.byteLength, TAR_HEADER_BYTES - size);
      if (size >= TAR_HEADER_BYTES) break;
    }
  } catch (error) {
    // A head cut from a longer member ends mid-stream; what it produced before that is enough.
    if (complete || size === 0) throw error;
  } finally {
    await output.return(undefined).catch(() => {});
  }
  return concatBytes(parts, size);
}

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((byte, index) => bytes[index] === byte);
}

function isCpioMagic(bytes: Uint8Array): boolean {
  // "07070": newc (070701), newc with CRC (070702) and the old portable format (070707).
  return startsWith(bytes, [0x30, 0x37, 0x30, 0x37, 0x30]);
}

/** A cpio newc header: the magic, then 13 fields of 8 hex digits. */
function isCpioHeader(bytes: Uint8Array): boolean {
  if (bytes.length < CPIO_HEADER_BYTES) return false;
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, CPIO_HEADER_BYTES));
  return /^07070[12][0-9A-Fa-f]{104}$/.test(text);
}

/**
 * A tar header whose checksum (offset 148, octal) equals the sum of its 512 bytes with the
 * checksum field read as spaces; POSIX sums unsigned bytes, some old tars signed: either is
 * accepted, as GNU tar does.
 */
function isTarHeader(bytes: Uint8Array): boolean {
  if (bytes.length < TAR_HEADER_BYTES) return false;
  const field = new TextDecoder("latin1").decode(bytes.subarray(148, 156));
  const match = /^ *([0-7]+)[ \0]*$/.exec(field);
  if (!match) return false;
  const stored = parseInt(match[1]!, 8);
  let unsigned = 0;
  let signed = 0;
  for (let index = 0; index < TAR_HEADER_BYTES; index++) {
    const byte = index >= 148 && index < 156 ? 0x20 : bytes[index]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

function firstLine(error: unknown): string {
  return ((error as Error)?.message ?? String(error)).split("\n")[0]!;
}
