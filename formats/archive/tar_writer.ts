// tar writer: entries as a deterministic POSIX tar stream (ustar headers, pax where ustar
// cannot hold a value).

import type { Entry } from "./entry.ts";
import { checkEntryNames, OutputBatcher, utf8, writeContent } from "./archive_stream.ts";
import {
  BLOCK,
  GID,
  isAscii,
  LINKNAME,
  MTIME,
  NAME,
  octalMax,
  padTo512,
  RECORD,
  SIZE,
  splitUstarName,
  truncateUtf8,
  typeflagOf,
  UID,
  UNAME,
  writeHeader,
} from "./tar_header.ts";
import { paxRecord } from "./tar_pax.ts";

const encoder = new TextEncoder();

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
