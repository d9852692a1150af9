// ISO 9660 decoder: xorriso's images (Rock Ridge, Joliet, plain), short reads at every size,
// long links, relocation, multi-extent and hard links, cross-checked with bsdtar and xorriso.

import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { createHash } from "node:crypto";
import { bytesReader } from "./random_access_reader.ts";
import { type IsoEntry, type IsoImage, readIso9660 } from "./iso9660.ts";
import { collectBytes } from "../bytes.ts";
import {
  LONG_LINK_TARGET,
  LONG_NAME,
  makeIso,
  makeMediaTree,
  primaryRecords,
  recordOf,
  setBothEndian32,
} from "../../testdata/support/iso_fixture.ts";
import { run, sh } from "../../testdata/support/process.ts";
import { parseDirectoryRecord, SECTOR } from "./iso9660_records.ts";
import { InvalidInputError } from "../../core/errors.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** One line per entry: kind, path, mode, mtime, and content digest or link target. */
async function describeImage(image: IsoImage): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of image.entries) lines.push(await describeEntry(entry, image));
  return lines.sort();
}

async function describeEntry(entry: IsoEntry, image: IsoImage): Promise<string> {
  const head = `${entry.path} mode=${entry.mode.toString(8)} mtime=${entry.mtime}`;
  switch (entry.kind) {
    case "dir":
      return `${head} dir`;
    case "symlink":
      return `${head} symlink->${entry.target}`;
    case "file":
      return `${head} file ${entry.content.size} ${
        sha256(await collectBytes(entry.content.open()))
      }`;
    case "hardlink": {
      const target = image.entries.find((other) => other.path === entry.target);
      ok(target?.kind === "file");
      return `${head} file ${target.content.size} ${
        sha256(await collectBytes(target.content.open()))
      }`;
    }
  }
}

/** The same lines for a tree on disk (root excluded). */
async function describeSource(dir: string, options: { symlinks: boolean } = { symlinks: true }) {
  const lines: string[] = [];
  const walk = async (rel: string) => {
    for await (const item of Deno.readDir(rel === "" ? dir : `${dir}/${rel}`)) {
      const path = rel === "" ? item.name : `${rel}/${item.name}`;
      const full = `${dir}/${path}`;
      const info = await Deno.lstat(full);
      const head = `${path} mode=${((info.mode ?? 0) & 0o7777).toString(8)} mtime=${
        Math.floor(info.mtime!.getTime() / 1000)
      }`;
      if (info.isSymlink) {
        if (options.symlinks) lines.push(`${head} symlink->${await Deno.readLink(full)}`);
      } else if (info.isDirectory) {
        lines.push(`${head} dir`);
        await walk(path);
      } else {
        const bytes = await Deno.readFile(full);
        lines.push(`${head} file ${bytes.byteLength} ${sha256(bytes)}`);
      }
    }
  };
  await walk("");
  return lines.sort();
}

/** A temporary directory with the media tree in `src` and an image of it made with `flags`. */
async function fixture(flags: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "osimg-iso-" });
  await makeMediaTree(`${dir}/src`);
  await makeIso(`${dir}/src`, `${dir}/media.iso`, flags);
  const bytes = await Deno.readFile(`${dir}/media.iso`);
  return {
    dir,
    bytes,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

const decode = (bytes: Uint8Array, piece = Infinity) =>
  readIso9660(bytesReader(bytes, piece), { source: "media.iso" });

Deno.test("ISO 9660: a Rock Ridge image by xorriso decodes to exactly its source tree", async () => {
  await using media = await fixture(["-R", "-J", "-joliet-long", "--hardlinks"]);
  const image = await decode(media.bytes);
  assertEquals(image.naming, "rockridge");
  assertEquals(await describeImage(image), await describeSource(`${media.dir}/src`));
  const long = image.entries.find((entry) => entry.path === "longlink");
  ok(long?.kind === "symlink");
  assertEquals(long.target, LONG_LINK_TARGET);
  ok(image.entries.some((entry) => entry.path === LONG_NAME));
  // The root carries the tree's own mode and time.
  assertEquals([image.root.mode, image.root.mtime], [0o755, Date.UTC(2023, 4, 6, 7, 8, 9) / 1000]);
});

Deno.test("ISO 9660: entries come directories first, then links, then files in extent order", async () => {
  await using media = await fixture(["-R", "--hardlinks"]);
  const image = await decode(media.bytes);
  const kinds = image.entries.map((entry) => entry.kind === "hardlink" ? "file" : entry.kind);
  const firstLink = kinds.indexOf("symlink");
  const firstFile = kinds.indexOf("file");
  ok(kinds.lastIndexOf("dir") < firstLink && kinds.lastIndexOf("symlink") < firstFile);
  const offsets = image.entries.flatMap((entry) =>
    entry.kind === "file" && entry.content.extents.length > 0
      ? [entry.content.extents[0]!.offset]
      : []
  );
  assertEquals(offsets, [...offsets].sort((a, b) => a - b));
  // Parents before children.
  const seen = new Set([""]);
  for (const entry of image.entries) {
    ok(seen.has(entry.path.split("/").slice(0, -1).join("/")), entry.path);
    seen.add(entry.path);
  }
});

Deno.test("ISO 9660 decoder works one byte at a time and at every read size 1..1025", async () => {
  await using media = await fixture(["-R", "-J", "--hardlinks"]);
  const expected = await describeImage(await decode(media.bytes));
  for (let piece = 1; piece <= 1025; piece++) {
    assertEquals(await describeImage(await decode(media.bytes, piece)), expected, `piece ${piece}`);
  }
});

Deno.test("ISO 9660: a 363-byte link split across SL entries keeps every '/' (bsdtar loses one)", async () => {
  await using media = await fixture(["-R"]);
  const image = await decode(media.bytes);
  const link = image.entries.find((entry) => entry.path === "longlink");
  ok(link?.kind === "symlink");
  assertEquals(link.target, LONG_LINK_TARGET);
  assertEquals(link.target.length, 363);
  // xorriso, which wrote it, reads back the same target.
  await run([
    "xorriso",
    "-osirrox",
    "on",
    "-indev",
    `${media.dir}/media.iso`,
    "-extract",
    "/longlink",
    `${media.dir}/xorriso-link`,
  ]);
  assertEquals(await Deno.readLink(`${media.dir}/xorriso-link`), link.target);
});

Deno.test("ISO 9660: without Rock Ridge the Joliet names are used, read-only modes", async () => {
  await using media = await fixture(["--norock", "-J", "-joliet-long"]);
  const image = await decode(media.bytes);
  assertEquals(image.naming, "joliet");
  const names = image.entries.map((entry) => `${entry.kind === "dir" ? "d" : "f"} ${entry.path}`);
  const source = (await describeSource(`${media.dir}/src`, { symlinks: false })).map((line) =>
    `${line.endsWith(" dir") ? "d" : "f"} ${line.split(" mode=")[0]}`
  );
  // Joliet-long keeps 103 UCS-2 characters; the 255-byte name is the one name it shortens.
  assertEquals(
    names.filter((name) => !name.includes("lll")).sort(),
    source.filter((name) => !name.includes("lll")).sort(),
  );
  for (const entry of image.entries) {
    assertEquals(entry.mode, entry.kind === "dir" ? 0o555 : 0o444, entry.path);
  }
  const discinfo = image.entries.find((entry) => entry.path === ".discinfo");
  ok(discinfo?.kind === "file");
  assertEquals(
    new TextDecoder().decode(await collectBytes(discinfo.content.open())),
    await Deno.readTextFile(`${media.dir}/src/.discinfo`),
  );
});

Deno.test("ISO 9660: plain level-1 names lose ';1' and a trailing dot, as bsdtar lists them", async () => {
  await using media = await fixture(["--norock"]);
  const image = await decode(media.bytes);
  assertEquals(image.naming, "iso9660");
  const listed = (await sh(["bsdtar", "-tf", `${media.dir}/media.iso`])).split("\n")
    .filter((line) => line !== "" && line !== ".").map((line) => line.replace(/\/$/, ""));
  assertEquals(image.entries.map((entry) => entry.path).sort(), listed.sort());
  ok(image.entries.some((entry) => entry.path === "HELLO"), "HELLO.;1 becomes HELLO");
});

Deno.test("ISO 9660: relocated deep directories (RE/CL/PL) come back at their real place", async () => {
  await using media = await fixture(["-R"]);
  const relocated = `${media.dir}/relocated.iso`;
  await run([
    "xorriso",
    "-outdev",
    relocated,
    "-compliance",
    "deep_paths_off",
    "-rr_reloc_dir",
    "RR_MOVED",
    "-map",
    `${media.dir}/src`,
    "/",
  ], {});
  const bytes = await Deno.readFile(relocated);
  // The image really relocated something: a CL placeholder and the RR_MOVED directory.
  const records = primaryRecords(bytes);
  ok(records.some((record) => record.path === "RR_MOVED"));
  const image = await decode(bytes);
  assertEquals(await describeImage(image), await describeSource(`${media.dir}/src`));
});

Deno.test("ISO 9660: a file in several extents (multi-extent) is read whole, as bsdtar reads it", async () => {
  await using media = await fixture(["-R"]);
  const bytes = media.bytes;
  // Split repodata/primary.xml.gz (70000 bytes) into three records of one directory: ECMA-119
  // §6.5.1 — every record but the last has the multi-extent flag, same name, following extents.
  const located = recordOf(bytes, "repodata/primary.xml.gz");
  const directory = recordOf(bytes, "repodata").record;
  const start = directory.extent * SECTOR;
  const records: Uint8Array[] = [];
  for (let at = 0; at < directory.size;) {
    const length = bytes[start + at]!;
    if (length === 0) break;
    const raw = bytes.slice(start + at, start + at + length);
    if (start + at === located.at) {
      const sizes = [20480, 20480, 70000 - 40960];
      sizes.forEach((size, index) => {
        const part = raw.slice();
        setBothEndian32(part, 2, located.record.extent + index * 10);
        setBothEndian32(part, 10, size);
        part[25] = index < 2 ? 0x80 : 0;
        records.push(part);
      });
    } else records.push(raw);
    at += length;
  }
  const total = records.reduce((sum, record) => sum + record.byteLength, 0);
  ok(total <= SECTOR, "the records still fit in one block");
  const block = new Uint8Array(SECTOR);
  let at = 0;
  for (const record of records) {
    block.set(record, at);
    at += record.byteLength;
  }
  bytes.set(block, start);
  const crafted = `${media.dir}/multi.iso`;
  await Deno.writeFile(crafted, bytes);
  const image = await decode(bytes);
  const file = image.entries.find((entry) => entry.path === "repodata/primary.xml.gz");
  ok(file?.kind === "file");
  assertEquals(file.content.extents.length, 3);
  const content = await collectBytes(file.content.open());
  assertEquals(content, await Deno.readFile(`${media.dir}/src/repodata/primary.xml.gz`));
  assertEquals(content, await run(["bsdtar", "-xOf", crafted, "repodata/primary.xml.gz"]));
  ok(parseDirectoryRecord(bytes, start, bytes[start]!).size > 0);
});

Deno.test("ISO 9660: files sharing one extent (xorriso --hardlinks) become one file and hard links", async () => {
  await using media = await fixture(["-R", "--hardlinks"]);
  const image = await decode(media.bytes);
  const one = image.entries.find((entry) => entry.path === "one");
  const two = image.entries.find((entry) => entry.path === "repodata/two");
  ok(one?.kind === "file" && one.links === 2);
  ok(two?.kind === "hardlink" && two.target === "one");
  assertEquals(image.totalBytes, await sourceBytes(`${media.dir}/src`) - 5);
});

async function sourceBytes(dir: string): Promise<number> {
  let total = 0;
  const walk = async (path: string) => {
    for await (const item of Deno.readDir(path)) {
      if (item.isDirectory) await walk(`${path}/${item.name}`);
      else if (item.isFile) total += (await Deno.stat(`${path}/${item.name}`)).size;
    }
  };
  await walk(dir);
  return total;
}

Deno.test("ISO 9660: whatever is in the system area (hybrid MBR/GPT) is skipped", async () => {
  await using media = await fixture(["-R", "-J"]);
  const expected = await describeImage(await decode(media.bytes));
  const hybrid = media.bytes.slice();
  // The 32 KiB system area before sector 16, where MBR, GPT and boot code live.
  hybrid.set(crypto.getRandomValues(new Uint8Array(16 * SECTOR)), 0);
  assertEquals(await describeImage(await decode(hybrid)), expected);
});

Deno.test("ISO 9660: bytes that are no ISO image are refused with one clear error", async () => {
  await rejects(
    decode(new Uint8Array(100)),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      error.message ===
        'Cannot read ISO image "media.iso": the image is too small to be an ISO 9660 image',
  );
  await rejects(
    decode(new Uint8Array(40 * SECTOR)),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      error.message ===
        'Cannot read ISO image "media.iso": the image has no ISO 9660 volume descriptor (no "CD001" signature)',
  );
});
