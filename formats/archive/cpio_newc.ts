// cpio "newc" (070701) archives, the kernel's initramfs format: a streaming writer and reader.

import { IntegrityError, InvalidInputError, OsimgError } from "../../core/errors.ts";
import { assertNever, type Entry, type EntryMeta } from "./entry.ts";
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

/** A value newc cannot represent: a file of 4 GiB or more, a uid beyond 32 bits. */
export class CpioLimitError extends OsimgError {}

/** newc header: "070701" then 13 fields of 8 hex digits (110 bytes); name and data pad to 4. */
const HEADER_SIZE = 110;
const MAGIC_NEWC = "070701";
/** The "crc" variant: same layout, `check` is the byte sum of the data. */
const MAGIC_CRC = "070702";
const MAX_FIELD = 0xffff_ffff;
const TRAILER = "TRAILER!!!";

// File type bits of the mode field (st_mode, as the kernel's unpacker reads them).
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;
const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;

const FIELDS = [
  "ino",
  "mode",
  "uid",
  "gid",
  "nlink",
  "mtime",
  "filesize",
  "devmajor",
  "devminor",
  "rdevmajor",
  "rdevminor",
  "namesize",
  "check",
] as const;
type HeaderFields = Record<(typeof FIELDS)[number], number>;

const encoder = new TextEncoder();
const HEX = encoder.encode("0123456789ABCDEF");
const MAGIC_BYTES = encoder.encode(MAGIC_NEWC);

/** Options of {@link cpioStream}. */
export interface CpioWriteOptions {
  /** Called for each entry whose xattrs were dropped (newc has no place for them). */
  onDroppedXattrs?: (path: string, names: string[]) => void;
}

function padTo4(length: number): number {
  return (4 - (length % 4)) % 4;
}

function writeHeader(target: Uint8Array, fields: HeaderFields, name: Uint8Array): void {
  target.set(MAGIC_BYTES, 0);
  let at = 6;
  for (const field of FIELDS) {
    let value = fields[field];
    for (let digit = 7; digit >= 0; digit--) {
      target[at + digit] = HEX[value & 0xf]!;
      value = Math.floor(value / 16);
    }
    at += 8;
  }
  target.set(name, HEADER_SIZE);
  // The rest (name NUL and padding) is already zero: the batcher hands out zeroed space.
}

function checkLimit(value: number, what: string, path: string): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) {
    throw new CpioLimitError(
      `Cannot write "${path}" as cpio newc: its ${what} ${value} does not fit newc's 32-bit field` +
        (what === "size" ? " (files of 4 GiB or more need --method tar or squashfs)" : ""),
    );
  }
  return value;
}

/**
 * Writes entries, in the order given, as a cpio newc stream in ~1 MiB chunks. Inode numbers are
 * renumbered from 1 and device numbers of the archive's own files are 0, so the same entries
 * always give the same bytes. A hard-linked file is written once with its data (the first name,
 * a `file` entry with `links >= 2`); each later `hardlink` name gets the same inode and nlink and
 * size 0, which both the kernel's unpacker and GNU cpio restore as links.
 *
 * @example
 * ```ts
 * const chunks = cpioStream([{ ...baseMeta(".", 0o755), kind: "dir" }]);
 * for await (const chunk of chunks) await out.write(chunk);
 * ```
 */
export async function* cpioStream(
  entries: AsyncIterable<Entry> | Iterable<Entry>,
  options: CpioWriteOptions = {},
): AsyncGenerator<Uint8Array> {
  const batcher = new OutputBatcher();
  /** First names of hard-linked files: their inode and nlink, for the later names. */
  const linkedInodes = new Map<string, { ino: number; nlink: number }>();
  let nextIno = 1;

  const header = (fields: Omit<HeaderFields, "namesize" | "check">, path: string) => {
    const name = utf8(path);
    const nameSize = name.byteLength + 1;
    const target = batcher.reserve(HEADER_SIZE + nameSize + padTo4(HEADER_SIZE + nameSize));
    writeHeader(target, { ...fields, namesize: nameSize, check: 0 }, name);
  };

  for await (const entry of entries) {
    checkEntryNames(entry, "cpio newc");
    const path = entry.path;
    if (entry.xattrs.size > 0) options.onDroppedXattrs?.(path, [...entry.xattrs.keys()].sort());
    const base = {
      uid: checkLimit(entry.uid, "uid", path),
      gid: checkLimit(entry.gid, "gid", path),
      // 32-bit unsigned seconds: clamp rather than wrap a pre-1970 or post-2106 time.
      mtime: Math.min(Math.max(Math.floor(entry.mtime), 0), MAX_FIELD),
      devmajor: 0,
      devminor: 0,
      rdevmajor: 0,
      rdevminor: 0,
    };
    const perms = entry.mode & 0o7777;
    switch (entry.kind) {
      case "file": {
        const size = checkLimit(entry.content.size, "size", path);
        const nlink = Math.max(1, entry.links ?? 1);
        const ino = nextIno++;
        if (nlink >= 2) linkedInodes.set(path, { ino, nlink });
        header({ ...base, ino, mode: S_IFREG | perms, nlink, filesize: size }, path);
        yield* writeContent(batcher, entry.content, path);
        batcher.reserve(padTo4(size));
        break;
      }
      case "hardlink": {
        const first = linkedInodes.get(entry.target);
        if (first === undefined) {
          throw new InvalidInputError(
            `Cannot write hard link "${path}" as cpio newc: its target "${entry.target}" was not ` +
              `written before it as a file with links >= 2`,
          );
        }
        header(
          { ...base, ino: first.ino, mode: S_IFREG | perms, nlink: first.nlink, filesize: 0 },
          path,
        );
        break;
      }
      case "symlink": {
        const target = utf8(entry.target);
        header(
          { ...base, ino: nextIno++, mode: S_IFLNK | perms, nlink: 1, filesize: target.byteLength },
          path,
        );
        batcher.reserve(target.byteLength + padTo4(target.byteLength)).set(target);
        break;
      }
      case "dir":
        header({ ...base, ino: nextIno++, mode: S_IFDIR | perms, nlink: 2, filesize: 0 }, path);
        break;
      case "chardev":
      case "blockdev":
        header(
          {
            ...base,
            ino: nextIno++,
            mode: (entry.kind === "chardev" ? S_IFCHR : S_IFBLK) | perms,
            nlink: 1,
            filesize: 0,
            rdevmajor: checkLimit(entry.devmajor, "device major", path),
            rdevminor: checkLimit(entry.devminor, "device minor", path),
          },
          path,
        );
        break;
      case "fifo":
        header({ ...base, ino: nextIno++, mode: S_IFIFO | perms, nlink: 1, filesize: 0 }, path);
        break;
      default:
        assertNever(entry);
    }
    if (batcher.hasReady) { for (const out of batcher.take()) yield out; }
  }

  const zero = { uid: 0, gid: 0, mtime: 0, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0 };
  header({ ...zero, ino: 0, mode: 0, nlink: 1, filesize: 0 }, TRAILER);
  // Pad the whole archive to 512 bytes as GNU cpio does (block-device friendly, still exact).
  batcher.reserve((512 - (batcher.total % 512)) % 512);
  for (const out of batcher.take(true)) yield out;
}

/** Options of {@link readCpio}. */
export interface CpioReadOptions {
  /** Called for members the Entry type cannot hold (sockets), which are skipped. */
  onSkipped?: (path: string, reason: string) => void;
}

function parseHeader(bytes: Uint8Array, offset: number): HeaderFields & { crc: boolean } {
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== MAGIC_NEWC && magic !== MAGIC_CRC) {
    const hint = magic === "070707" ? " (old portable format; only newc is read)" : "";
    throw new IntegrityError(
      `Not a cpio newc archive: bad magic ${JSON.stringify(magic)} at offset ${offset}${hint}`,
    );
  }
  const fields = {} as HeaderFields;
  let at = 6;
  for (const field of FIELDS) {
    let value = 0;
    for (let i = 0; i < 8; i++) {
      const c = bytes[at + i]!;
      const digit = c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x41 && c <= 0x46
        ? c - 0x37
        : c >= 0x61 && c <= 0x66
        ? c - 0x57
        : -1;
      if (digit < 0) {
        throw new IntegrityError(
          `Malformed cpio header at offset ${offset}: field ${field} is ${
            JSON.stringify(String.fromCharCode(...bytes.subarray(at, at + 8)))
          }, not 8 hex digits`,
        );
      }
      value = value * 16 + digit;
    }
    fields[field] = value;
    at += 8;
  }
  return { ...fields, crc: magic === MAGIC_CRC };
}

/** Longest name or symlink target read (the kernel's PATH_MAX is 4096; leave room). */
const MAX_NAME = 1 << 16;

interface PendingLink {
  meta: EntryMeta;
  nlink: number;
}

/**
 * Reads a cpio newc (or crc) stream into entries. A regular file's content must be read (or
 * skipped by asking for the next entry) before the next entry. Names "./x" become "x" and "."
 * stays "."; other names are kept verbatim for the extractor to judge. Files sharing an inode
 * come back as one `file` followed by `hardlink`s to it, whichever name carries the data (this
 * writer puts it on the first name, GNU cpio on the last).
 *
 * @example
 * ```ts
 * for await (const entry of readCpio(chunks)) console.log(entry.kind, entry.path);
 * ```
 */
export async function* readCpio(
  chunks: AsyncIterable<Uint8Array>,
  options: CpioReadOptions = {},
): AsyncGenerator<Entry> {
  const reader = new ChunkReader(chunks);
  /** Inode key -> the path yielded as the `file` for that inode. */
  const linkedFirst = new Map<string, string>();
  /** Inode key -> size-0 names seen before the name carrying the data (GNU cpio order). */
  const pending = new Map<string, PendingLink[]>();

  while (true) {
    const offset = reader.position;
    const head = await reader.read(HEADER_SIZE);
    if (head.byteLength < HEADER_SIZE) {
      throw new IntegrityError(
        head.byteLength === 0 && offset === 0
          ? "Truncated cpio archive: it is empty"
          : head.byteLength === 0
          ? `Truncated cpio archive: it ends at offset ${offset} without the ${TRAILER} entry`
          : `Truncated cpio archive: header at offset ${offset} is cut short`,
      );
    }
    const fields = parseHeader(head, offset);
    if (fields.namesize < 2 || fields.namesize > MAX_NAME) {
      throw new IntegrityError(
        `Malformed cpio header at offset ${offset}: name size ${fields.namesize} is out of range`,
      );
    }
    const nameBlock = await reader.read(fields.namesize + padTo4(HEADER_SIZE + fields.namesize));
    if (nameBlock.byteLength < fields.namesize + padTo4(HEADER_SIZE + fields.namesize)) {
      throw new IntegrityError(`Truncated cpio archive: name of the member at offset ${offset}`);
    }
    if (nameBlock.indexOf(0) !== fields.namesize - 1) {
      throw new IntegrityError(
        `Malformed cpio header at offset ${offset}: the name is not one NUL-terminated string`,
      );
    }
    const rawName = decodeUtf8(
      nameBlock.subarray(0, fields.namesize - 1),
      `cpio member name at offset ${offset}`,
    );
    const size = fields.filesize;
    const dataPad = padTo4(size);
    const describe = () => `member "${rawName}" at offset ${offset}`;

    if (rawName === TRAILER) {
      const skipped = await reader.skip(size + dataPad);
      if (skipped < size + dataPad) {
        throw new IntegrityError(`Truncated cpio archive: ${describe()}`);
      }
      for (const group of pending.values()) {
        const [first, ...rest] = group;
        if (first === undefined) continue;
        yield emptyFile(first);
        for (const link of rest) yield { ...link.meta, kind: "hardlink", target: first.meta.path };
      }
      const garbage = await reader.firstNonZeroInRest();
      if (garbage !== undefined) {
        throw new IntegrityError(
          `Trailing garbage in cpio archive: non-zero byte at offset ${garbage} after ${TRAILER}`,
        );
      }
      return;
    }

    const meta: EntryMeta = {
      path: normaliseMemberPath(rawName),
      mode: fields.mode & 0o7777,
      uid: fields.uid,
      gid: fields.gid,
      uname: "",
      gname: "",
      mtime: fields.mtime,
      xattrs: new Map(),
    };
    const type = fields.mode & S_IFMT;

    if (type === S_IFREG) {
      const body = new MemberBody(reader, size, describe);
      const key = `${fields.devmajor}:${fields.devminor}:${fields.ino}`;
      const first = fields.nlink >= 2 ? linkedFirst.get(key) : undefined;
      if (first !== undefined) {
        yield { ...meta, kind: "hardlink", target: first };
        await body.finish(); // a duplicate copy of the data, if a writer added one
      } else if (fields.nlink >= 2 && size === 0) {
        const group = pending.get(key) ?? [];
        group.push({ meta, nlink: fields.nlink });
        pending.set(key, group);
      } else {
        if (fields.crc) {
          yield* crcChecked(meta, fields, body, describe);
        } else {
          yield { ...meta, kind: "file", content: body.content, ...linksOf(fields.nlink) };
        }
        await body.finish();
        if (fields.nlink >= 2) {
          linkedFirst.set(key, meta.path);
          for (const link of pending.get(key) ?? []) {
            yield { ...link.meta, kind: "hardlink", target: meta.path };
          }
          pending.delete(key);
        }
      }
      if (await reader.skip(dataPad) < dataPad) {
        throw new IntegrityError(`Truncated cpio archive: padding after ${describe()}`);
      }
      continue;
    }

    if (type === S_IFLNK) {
      if (size > MAX_NAME) {
        throw new IntegrityError(
          `Malformed cpio archive: symlink target of ${describe()} is ${size} bytes`,
        );
      }
      const data = await reader.read(size + dataPad);
      if (data.byteLength < size + dataPad) {
        throw new IntegrityError(`Truncated cpio archive: symlink target of ${describe()}`);
      }
      const target = decodeUtf8(data.subarray(0, size), `symlink target of ${describe()}`);
      if (target.includes("\0")) {
        throw new IntegrityError(
          `Malformed cpio archive: symlink target of ${describe()} holds a NUL`,
        );
      }
      yield { ...meta, kind: "symlink", target };
      continue;
    }

    if (size !== 0) {
      throw new IntegrityError(
        `Malformed cpio archive: ${describe()} is not a regular file but has ${size} bytes of data`,
      );
    }
    switch (type) {
      case S_IFDIR:
        yield { ...meta, kind: "dir" };
        break;
      case S_IFCHR:
        yield { ...meta, kind: "chardev", devmajor: fields.rdevmajor, devminor: fields.rdevminor };
        break;
      case S_IFBLK:
        yield { ...meta, kind: "blockdev", devmajor: fields.rdevmajor, devminor: fields.rdevminor };
        break;
      case S_IFIFO:
        yield { ...meta, kind: "fifo" };
        break;
      case S_IFSOCK:
        options.onSkipped?.(meta.path, "socket");
        break;
      default:
        throw new IntegrityError(
          `Malformed cpio archive: ${describe()} has unknown file type 0o${type.toString(8)}`,
        );
    }
  }
}

function linksOf(nlink: number): { links?: number } {
  return nlink >= 2 ? { links: nlink } : {};
}

function emptyFile(link: PendingLink): Entry {
  return {
    ...link.meta,
    kind: "file",
    content: { size: 0, async *open() {} },
    ...linksOf(link.nlink),
  };
}

/** Yields the file entry of a "crc" member whose content is checked against its byte sum. */
async function* crcChecked(
  meta: EntryMeta,
  fields: HeaderFields,
  body: MemberBody,
  describe: () => string,
): AsyncGenerator<Entry> {
  const inner = body.content;
  yield {
    ...meta,
    kind: "file",
    ...linksOf(fields.nlink),
    content: {
      size: inner.size,
      async *open() {
        let sum = 0;
        let seen = 0;
        for await (const chunk of inner.open()) {
          for (let i = 0; i < chunk.byteLength; i++) sum = (sum + chunk[i]!) >>> 0;
          seen += chunk.byteLength;
          if (seen === inner.size && sum !== fields.check) {
            throw new IntegrityError(
              `Checksum mismatch in cpio crc archive: ${describe()} sums to ${sum}, header says ${fields.check}`,
            );
          }
          yield chunk;
        }
      },
    },
  };
}
