// tar reader: ustar, pax, GNU (long names, base-256, sparse) and v7 archives as entries.

import { IntegrityError } from "../../core/errors.ts";
import type { Entry, EntryMeta } from "./entry.ts";
import { ChunkReader, decodeUtf8, MemberBody, normaliseMemberPath } from "./archive_stream.ts";
import {
  BLOCK,
  checksumMatches,
  DEVMAJOR,
  DEVMINOR,
  type Field,
  fieldBytes,
  GID,
  GNAME,
  isZeroBlock,
  LINKNAME,
  MAGIC,
  MAX_META_SIZE,
  MODE,
  MTIME,
  NAME,
  padTo512,
  parseNumber,
  PREFIX,
  SIZE,
  TYPEFLAG,
  UID,
  UNAME,
  USTAR_MAGIC,
} from "./tar_header.ts";
import { parsePax, type PaxValues } from "./tar_pax.ts";
import {
  checkSparseMap,
  pairs,
  readOldGnuSparseMap,
  readSparseMapFromData,
  sparseContent,
  type SparseMap,
} from "./tar_sparse.ts";

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
