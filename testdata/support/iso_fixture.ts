// Test support for the ISO 9660 tests: a media tree with every feature, images made from it by
// xorriso, and a byte-level view of an image's directory records for crafting hostile variants.

import { run } from "./process.ts";
import {
  type DirectoryRecord,
  parseDirectoryRecord,
  parseSuspArea,
  SECTOR,
} from "../../formats/media/iso9660_records.ts";

/** A symbolic link target longer than 255 bytes: Rock Ridge splits it across SL entries. */
export const LONG_LINK_TARGET = Array.from(
  { length: 28 },
  (_, index) => `component${String(index).padStart(3, "0")}`,
).join("/");

/** A 255-byte file name (the Linux limit), which Rock Ridge carries in continued NM entries. */
export const LONG_NAME = "l".repeat(251) + ".txt";

/**
 * Builds the media tree: deep directories, long names, relative symlinks (a long one, one to
 * ".", one through another link), zero-length files, hard links, a directory spanning several
 * blocks, odd modes and fixed mtimes.
 */
export async function makeMediaTree(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const deep = "d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11";
  await run([
    "sh",
    "-euc",
    `
    mkdir -p ${deep} many repodata "sp ace" private
    printf 'deep\\n' > ${deep}/file.txt
    printf '1700000000.123456\\nRed Hat Enterprise Linux 9.2\\nx86_64\\n' > .discinfo
    printf 'hello\\n' > hello
    : > empty
    : > repodata/empty2
    head -c 70000 /dev/urandom > repodata/primary.xml.gz
    head -c 5000 /dev/urandom > ${LONG_NAME}
    printf 'same\\n' > one && ln one repodata/two
    for i in $(seq 1 60); do printf "$i" > "many/package-name-that-is-long-$i.noarch.rpm"; done
    printf 'x' > "sp ace/ünïcødé"
    printf 'secret\\n' > private/key && chmod 600 private/key && chmod 750 private
    printf '#!/bin/sh\\n' > run.sh && chmod 755 run.sh
    chmod 444 hello
    ln -s . debian
    ln -s ${LONG_LINK_TARGET} longlink
    ln -s ../hello repodata/up
    ln -s repodata/up viaup
    ln -s d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/file.txt deeplink
    find . -depth -exec touch -h -d '2023-05-06 07:08:09 UTC' {} +
    touch -d '2021-01-02 03:04:05 UTC' hello
  `,
  ], { cwd: dir });
}

/** Runs xorriso's mkisofs emulation on `src`, writing `iso`. */
export async function makeIso(src: string, iso: string, flags: string[]): Promise<void> {
  await run(["xorriso", "-as", "mkisofs", "-quiet", ...flags, "-o", iso, src]);
}

/** A directory record of the primary tree and where it sits in the image. */
export interface LocatedRecord {
  /** Byte offset of the record in the image. */
  at: number;
  record: DirectoryRecord;
  /** The Rock Ridge name (NM) when there is one, else the ISO identifier. */
  name: string;
  /** Path in the primary tree ("repodata/up"). */
  path: string;
}

function u32le(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
}

/** Lists every record of the primary tree (without "." and ".."), parents before children. */
export function primaryRecords(image: Uint8Array): LocatedRecord[] {
  const pvd = 16 * SECTOR;
  const root = parseDirectoryRecord(image, pvd + 156, image[pvd + 156]!);
  const out: LocatedRecord[] = [];
  const walk = (extent: number, size: number, parent: string) => {
    const start = extent * SECTOR;
    let at = 0;
    while (at < size) {
      const length = image[start + at]!;
      if (length === 0) {
        at = (Math.floor(at / SECTOR) + 1) * SECTOR;
        continue;
      }
      const record = parseDirectoryRecord(image, start + at, length);
      const id = record.identifier;
      if (!(id.byteLength === 1 && id[0]! <= 1)) {
        const nm = parseSuspArea(record.systemUse).entries.find((e) => e.signature === "NM");
        const name = nm
          ? new TextDecoder().decode(nm.data.subarray(1))
          : new TextDecoder("latin1").decode(id);
        const path = parent === "" ? name : `${parent}/${name}`;
        out.push({ at: start + at, record, name, path });
        if (record.flags & 2) walk(record.extent, record.size, path);
      }
      at += length;
    }
  };
  walk(root.extent, root.size, "");
  return out;
}

/** The record of `path` in the primary tree. */
export function recordOf(image: Uint8Array, path: string): LocatedRecord {
  const found = primaryRecords(image).find((record) => record.path === path);
  if (!found) throw new Error(`no record for ${path}`);
  return found;
}

/** Writes a both-endian 32-bit field (ECMA-119 §7.3.3) at `at`. */
export function setBothEndian32(image: Uint8Array, at: number, value: number): void {
  const view = new DataView(image.buffer, image.byteOffset);
  view.setUint32(at, value, true);
  view.setUint32(at + 4, value, false);
}

/** Byte offset in the image of the SUSP entry `signature` of a located record. */
export function suspEntryOffset(
  image: Uint8Array,
  located: LocatedRecord,
  signature: string,
): number {
  const area = located.record.systemUse;
  const base = area.byteOffset - image.byteOffset;
  let at = 0;
  while (at + 4 <= area.byteLength) {
    if (String.fromCharCode(area[at]!, area[at + 1]!) === signature) return base + at;
    at += area[at + 2]!;
  }
  throw new Error(`no ${signature} entry in ${located.path}`);
}

/** The root directory's extent (block) in the primary tree. */
export function rootExtent(image: Uint8Array): number {
  return u32le(image, 16 * SECTOR + 156 + 2);
}
