import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { IntegrityError, InvalidInputError } from "../core/errors.ts";
import { baseMeta, bytesContent, type Entry } from "./entry.ts";
import { readTar, tarStream } from "./tar.ts";
import {
  CAPABILITY_SETUID_SETGID,
  chunked,
  collect,
  describeEntries,
  describeTree,
  entriesFromTree,
  fileContent,
  makeFeatureTree,
  NAME_255,
  run,
} from "../testdata/archives/tree_fixture.ts";

const encoder = new TextEncoder();
const text = (value: string) => bytesContent(encoder.encode(value));
/** cap_setuid,cap_setgid+ep as the kernel stores it: bytes >= 0x80 that UTF-8 would mangle. */
const CAPABILITY = Uint8Array.from([
  0x01,
  0x00,
  0x00,
  0x02,
  0xc0,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
]);

/** A 4096-byte path made of 255-byte components. */
function name4096(): string {
  const path = `${"p".repeat(255)}/`.repeat(15) + "q".repeat(4096 - 256 * 15);
  if (encoder.encode(path).byteLength !== 4096) throw new Error("bad fixture");
  return path;
}

/** Every entry kind and every value that needs ustar's split, pax or base-256. */
function sampleEntries(): Entry[] {
  return [
    { ...baseMeta(".", 0o755), kind: "dir", mtime: 1_700_000_000 },
    { ...baseMeta("bin", 0o755), kind: "dir" },
    {
      ...baseMeta("bin/su", 0o4755),
      kind: "file",
      content: text("su\n"),
      xattrs: new Map([["security.capability", CAPABILITY]]),
    },
    {
      ...baseMeta("bin/wall", 0o2755),
      kind: "file",
      content: text("wall\n"),
      gid: 5,
      gname: "tty",
    },
    { ...baseMeta("tmp", 0o1777), kind: "dir" },
    {
      ...baseMeta("etc/empty", 0o644),
      kind: "file",
      content: text(""),
      xattrs: new Map([
        ["user.z", new Uint8Array([0, 255, 10, 61, 32])],
        ["user.a", encoder.encode("plain")],
        ["user.ünï", encoder.encode("ok")],
      ]),
    },
    {
      ...baseMeta("etc/big-ids", 0o640),
      kind: "file",
      content: text("x"),
      uid: 4_000_000_000,
      gid: 2_097_152,
      uname: "ädmin",
      gname: "a-group-name-that-is-longer-than-32-bytes",
      mtime: 2 ** 34,
    },
    { ...baseMeta("etc/old", 0o644), kind: "file", content: text("1969"), mtime: -86400 },
    { ...baseMeta("usr/bin/perl", 0o755), kind: "file", content: text("perl!\n"), links: 2 },
    { ...baseMeta("usr/bin/perl5.36", 0o755), kind: "hardlink", target: "usr/bin/perl" },
    { ...baseMeta("bin/awk", 0o777), kind: "symlink", target: "/etc/alternatives/awk" },
    { ...baseMeta("bin/far", 0o777), kind: "symlink", target: "x/".repeat(80) + "target" },
    { ...baseMeta("bin/snow", 0o777), kind: "symlink", target: "☃" },
    { ...baseMeta("dev/null", 0o666), kind: "chardev", devmajor: 1, devminor: 3 },
    { ...baseMeta("dev/nvme", 0o660), kind: "blockdev", devmajor: 259, devminor: 65536 },
    { ...baseMeta("dev/initctl", 0o600), kind: "fifo" },
    { ...baseMeta("ünïcødé ☃", 0o644), kind: "file", content: text("snow\n") },
    { ...baseMeta("n".repeat(100), 0o644), kind: "file", content: text("100") },
    {
      ...baseMeta(`${"d".repeat(150)}/${"n".repeat(100)}`, 0o644),
      kind: "file",
      content: text("split"),
    },
    { ...baseMeta("d".repeat(101), 0o755), kind: "dir" },
    { ...baseMeta(NAME_255, 0o644), kind: "file", content: text("255") },
    { ...baseMeta(name4096(), 0o644), kind: "file", content: text("4096") },
    { ...baseMeta(`${"h".repeat(200)}/link`, 0o755), kind: "hardlink", target: name4096() },
  ];
}

/** What the reader gives back: entries as written ("links" is not stored in tar). */
function expectedAfterTar(entries: Entry[]): Promise<string[]> {
  return describeEntries(
    (async function* () {
      for (const entry of entries) {
        yield (entry.kind === "file" ? { ...entry, links: undefined } : entry) as Entry;
      }
    })(),
  );
}

Deno.test("tar round trip keeps every entry kind, mode, owner, name, link and binary xattr", async () => {
  const bytes = await collect(tarStream(sampleEntries()));
  assertEquals(bytes.byteLength % 10240, 0);
  assertEquals(
    await describeEntries(readTar(chunked(bytes, bytes.byteLength))),
    await expectedAfterTar(sampleEntries()),
  );
});

Deno.test("tar writer is deterministic and matches the golden archive", async () => {
  const first = await collect(tarStream(sampleEntries()));
  assertEquals(first, await collect(tarStream(sampleEntries())));
  const golden = new URL("../testdata/archives/sample.tar", import.meta.url);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeFile(golden, first);
  assertEquals(first, await Deno.readFile(golden), "differs from testdata/archives/sample.tar");
});

Deno.test("tar writer: ustar split, pax only where needed, raw xattr bytes, base-256", async () => {
  const bytes = await collect(tarStream(sampleEntries()));
  const headers: { name: string; prefix: string; type: string; block: Uint8Array; at: number }[] =
    [];
  const latin1 = (view: Uint8Array) => String.fromCharCode(...view).replace(/\0.*$/s, "");
  for (let at = 0; at < bytes.byteLength;) {
    const block = bytes.subarray(at, at + 512);
    if (block.every((byte) => byte === 0)) break;
    const size = block[124]! & 0x80 ? 0 : parseInt(latin1(block.subarray(124, 136)) || "0", 8);
    headers.push({
      name: latin1(block.subarray(0, 100)),
      prefix: latin1(block.subarray(345, 500)),
      type: String.fromCharCode(block[156]!),
      block,
      at,
    });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  const paxBefore = (name: string) => {
    const index = headers.findIndex((header) => header.name === name);
    ok(index > 0, `no header named ${name}`);
    const pax = headers[index - 1]!;
    return pax.type === "x" ? bytes.subarray(pax.at + 512, pax.at + 1024) : undefined;
  };
  // Plain entries get no pax header; the root is "./"; directories end in "/".
  assertEquals(headers[0]!.name, "./");
  assertEquals(headers[1]!.name, "bin/");
  assertEquals(paxBefore("bin/wall"), undefined);
  assertEquals(paxBefore("n".repeat(100)), undefined);
  // 150 + 100 bytes fit ustar's prefix/name split.
  assertEquals(paxBefore("n".repeat(100)), undefined);
  const split = headers.find((header) => header.prefix === "d".repeat(150))!;
  assertEquals(split.name, "n".repeat(100));
  // A 101-byte directory name cannot be split (no "/" before the end): pax path.
  ok(latin1(paxBefore("d".repeat(100))!).includes(`path=${"d".repeat(101)}/\n`));
  // The capability bytes are stored raw, not as UTF-8.
  const suPax = paxBefore("bin/su")!;
  const record = encoder.encode("security.capability=");
  const at = suPax.findIndex((_, i) => record.every((byte, j) => suPax[i + j] === byte));
  assertEquals(suPax.subarray(at + record.byteLength, at + record.byteLength + 20), CAPABILITY);
  // Large ids: pax records and base-256 in the header; long/non-ASCII names in pax only.
  const ids = latin1(paxBefore("etc/big-ids")!);
  ok(ids.includes("uid=4000000000\n") && ids.includes("gid=2097152\n"), ids);
  ok(ids.includes(`mtime=${2 ** 34}\n`) && ids.includes("gname=a-group-name"), ids);
  const bigIds = headers.find((header) => header.name === "etc/big-ids")!.block;
  assertEquals(bigIds[108], 0x80);
  assertEquals(latin1(bigIds.subarray(265, 297)), "");
  // Negative mtime: pax and two's complement base-256.
  ok(latin1(paxBefore("etc/old")!).includes("mtime=-86400\n"));
  // Pax header names are deterministic.
  assertEquals(headers.find((header) => header.type === "x")!.name, "PaxHeader/su");
});

Deno.test("tar writer: a file of 8 GiB gets a pax size and a base-256 header size", async () => {
  const size = 8 * 2 ** 30;
  const huge: Entry = {
    ...baseMeta("var/huge.img", 0o644),
    kind: "file",
    content: {
      size,
      async *open() {
        // Endless zeros: the test stops reading after the headers.
        while (true) yield new Uint8Array(1 << 20);
      },
    },
  };
  const stream = tarStream([huge])[Symbol.asyncIterator]();
  const first = (await stream.next()).value as Uint8Array;
  await stream.return?.(undefined);
  const pax = new TextDecoder().decode(first.subarray(512, 1024));
  ok(pax.includes(`size=${size}\n`), pax);
  assertEquals(first[1024 + 124], 0x80);
  // Our reader takes the size from pax (and then finds the archive truncated, as it is).
  const entries: Entry[] = [];
  await rejects(
    (async () => {
      for await (const entry of readTar(chunked(first, 4096))) entries.push(entry);
    })(),
    IntegrityError,
  );
  assertEquals(entries.length, 1);
  assertEquals(entries[0]!.kind === "file" && entries[0]!.content.size, size);
});

Deno.test("tar reader works one byte at a time and at every chunk size 1..1025", async () => {
  const bytes = await collect(tarStream(sampleEntries()));
  const expected = await describeEntries(readTar(chunked(bytes, bytes.byteLength)));
  for (let size = 1; size <= 1025; size++) {
    assertEquals(
      await describeEntries(readTar(chunked(bytes, size))),
      expected,
      `chunk size ${size}`,
    );
  }
});

Deno.test("tar writer batches output into large chunks", async () => {
  const many: Entry[] = [];
  for (let i = 0; i < 4000; i++) {
    many.push({ ...baseMeta(`f${i}`, 0o644), kind: "file", content: text("data") });
  }
  const sizes: number[] = [];
  for await (const chunk of tarStream(many)) sizes.push(chunk.byteLength);
  ok(sizes.length <= 5, `expected a few ~1 MiB chunks, got ${sizes.length}`);
  ok(sizes[0]! >= (1 << 20) - 1024, `first chunk only ${sizes[0]} bytes`);
});

Deno.test("tar writer catches content that does not match its declared size", async () => {
  const short: Entry = {
    ...baseMeta("shrank", 0o644),
    kind: "file",
    content: { ...text("abc"), size: 9 },
  };
  await rejects(
    collect(tarStream([short])),
    (error: unknown) => error instanceof IntegrityError && /"shrank".*3 of/.test(error.message),
  );
});

Deno.test("tar reader: skipped content is skipped, late reads are refused", async () => {
  const bytes = await collect(tarStream(sampleEntries()));
  let kept: Entry | undefined;
  let count = 0;
  for await (const entry of readTar(chunked(bytes, 333))) {
    count++;
    if (entry.path === "bin/su") kept = entry;
  }
  assertEquals(count, sampleEntries().length);
  ok(kept?.kind === "file");
  await rejects(collect(kept.content.open()), /can be read once, before the next entry/);
});

/** A ustar header block with a correct checksum, for inputs our writer would never produce. */
function forgeHeader(
  fields: {
    name: string;
    type?: string;
    size?: number | string;
    linkname?: string;
    magic?: string;
  },
): Uint8Array {
  const block = new Uint8Array(512);
  const put = (at: number, value: string) =>
    block.set(Uint8Array.from(value, (c) => c.charCodeAt(0)), at);
  put(0, fields.name);
  put(100, "0000644\0");
  put(108, "0000000\0");
  put(116, "0000000\0");
  put(
    124,
    typeof fields.size === "string"
      ? fields.size
      : (fields.size ?? 0).toString(8).padStart(11, "0") + "\0",
  );
  put(136, "00000000000\0");
  put(156, fields.type ?? "0");
  put(157, fields.linkname ?? "");
  put(257, fields.magic ?? "ustar\u000000");
  return withChecksum(block);
}

function withChecksum(block: Uint8Array): Uint8Array {
  block.fill(0x20, 148, 156);
  const sum = block.reduce((total, byte) => total + byte, 0);
  block.set(Uint8Array.from(sum.toString(8).padStart(6, "0") + "\0 ", (c) => c.charCodeAt(0)), 148);
  return block;
}

function forge(...members: (Uint8Array | string)[]): Uint8Array {
  const parts = members.map((member) => {
    if (typeof member !== "string") return member;
    const data = encoder.encode(member);
    const padded = new Uint8Array(Math.ceil(data.byteLength / 512) * 512);
    padded.set(data);
    return padded;
  });
  return new Uint8Array([...parts.flatMap((part) => [...part]), ...new Uint8Array(1024)]);
}

function paxData(records: [string, string][]): string {
  return records.map(([key, value]) => {
    const rest = encoder.encode(`${key}=${value}`).byteLength + 2;
    let length = rest + 1;
    while (String(length).length + rest !== length) length = String(length).length + rest;
    return `${length} ${key}=${value}\n`;
  }).join("");
}

Deno.test("tar reader: hostile and broken input gives IntegrityError", async (t) => {
  const good = await collect(tarStream(sampleEntries().slice(0, 4)));
  const read = (bytes: Uint8Array) => describeEntries(readTar(chunked(bytes, 100)));
  const integrity = (pattern: RegExp) => (error: unknown) => {
    ok(error instanceof IntegrityError, String(error));
    ok(pattern.test(error.message), error.message);
    return true;
  };
  await t.step("empty input", () => rejects(read(new Uint8Array(0)), integrity(/empty/)));
  await t.step(
    "truncated in a header",
    () => rejects(read(good.slice(0, 700)), integrity(/header at offset 512 is cut short/)),
  );
  await t.step("truncated in a member", async () => {
    const at = new TextDecoder().decode(good).indexOf("su\n");
    await rejects(read(good.slice(0, at + 2)), integrity(/Truncated.*"bin\/su".*2 of 3/));
  });
  await t.step("truncated in padding", async () => {
    const at = new TextDecoder().decode(good).indexOf("su\n");
    await rejects(read(good.slice(0, at + 100)), integrity(/padding after.*bin\/su/));
  });
  await t.step("no end-of-archive marker", async () => {
    const at = new TextDecoder().decode(good).indexOf("wall\n");
    await rejects(read(good.slice(0, at + 512)), integrity(/without the end-of-archive marker/));
  });
  await t.step("bad checksum", async () => {
    const bad = good.slice();
    bad[5] = bad[5]! ^ 1;
    await rejects(read(bad), integrity(/Bad tar header checksum at offset 0/));
  });
  await t.step("malformed numeric field", async () => {
    const bad = good.slice(0, 512);
    bad.set(encoder.encode("07x0755\0"), 100);
    await rejects(
      read(forge(withChecksum(bad))),
      integrity(/mode field of "\.\/" at offset 0 is "07x0755/),
    );
  });
  await t.step("trailing garbage after the end marker", async () => {
    const bad = new Uint8Array(good.byteLength + 1024);
    bad.set(good);
    bad[good.byteLength + 3] = 0x41;
    await rejects(read(bad), integrity(/Trailing garbage.*non-zero byte at offset \d+/));
    const padded = new Uint8Array(good.byteLength + 1024);
    padded.set(good);
    assertEquals((await read(padded)).length, 4);
  });
  await t.step("pax size that disagrees with the header", async () => {
    const pax = paxData([["size", "3"]]);
    const bytes = forge(
      forgeHeader({ name: "PaxHeader/x", type: "x", size: pax.length }),
      pax,
      forgeHeader({ name: "x", size: 600 }),
      "y".repeat(600),
    );
    await rejects(read(bytes), integrity(/pax size 3 disagrees with header size 600/));
  });
  await t.step("pax size pointing past the data", async () => {
    const pax = paxData([["size", "5000"]]);
    const bytes = forge(
      forgeHeader({ name: "PaxHeader/x", type: "x", size: pax.length }),
      pax,
      forgeHeader({ name: "x", size: 0 }),
      "y".repeat(600),
    );
    await rejects(
      read(bytes),
      integrity(/Truncated archive: member "x" at offset 1024 ends after 2048 of 5000 bytes/),
    );
  });
  await t.step("malformed pax record", async () => {
    const pax = "99 path=x\n";
    const bytes = forge(
      forgeHeader({ name: "P", type: "x", size: pax.length }),
      pax,
      forgeHeader({ name: "x" }),
    );
    await rejects(read(bytes), integrity(/Malformed pax header at offset 0: bad record/));
  });
  await t.step("pax number that is not a number", async () => {
    const pax = paxData([["uid", "12a"]]);
    const bytes = forge(
      forgeHeader({ name: "P", type: "x", size: pax.length }),
      pax,
      forgeHeader({ name: "x" }),
    );
    await rejects(read(bytes), integrity(/uid="12a" is not a number/));
  });
  await t.step("oversized GNU long name", async () => {
    const bytes = forge(forgeHeader({ name: "././@LongLink", type: "L", size: 2 ** 21 }));
    await rejects(read(bytes), integrity(/GNU long name at offset 0 is 2097152 bytes/));
  });
  await t.step("name that is not UTF-8", async () => {
    const bytes = forge(forgeHeader({ name: "caf\xe9" }));
    await rejects(read(bytes), integrity(/name at offset 0 is not valid UTF-8/));
  });
  await t.step("pax path with a NUL inside", async () => {
    const pax = paxData([["path", "etc/passwd\0.txt"]]);
    const bytes = forge(
      forgeHeader({ name: "P", type: "x", size: pax.length }),
      pax,
      forgeHeader({ name: "x" }),
    );
    await rejects(read(bytes), integrity(/empty or holds a NUL/));
  });
  await t.step("unknown member type", async () => {
    await rejects(read(forge(forgeHeader({ name: "q", type: "Q" }))), integrity(/type "Q"/));
  });
  await t.step("GNU sparse map that does not match the data", async () => {
    const sparse = (records: [string, string][], stored: string) => {
      const pax = paxData(records);
      return forge(
        forgeHeader({ name: "P", type: "x", size: pax.length }),
        pax,
        forgeHeader({ name: "s", size: stored.length }),
        stored,
      );
    };
    const size = ["GNU.sparse.size", "100"] as [string, string];
    await rejects(
      read(sparse([size, ["GNU.sparse.map", "10,5"]], "abc")),
      integrity(
        /sparse map of member "s" at offset 1024 covers 5 bytes up to 15, but 3 bytes are stored/,
      ),
    );
    await rejects(
      read(sparse([size, ["GNU.sparse.map", "50,5,10,5"]], "abcdefghij")),
      integrity(/not in order/),
    );
    await rejects(
      read(sparse([size, ["GNU.sparse.map", "90,20"]], "a".repeat(20))),
      integrity(/up to 110.*file of 100/),
    );
    // 1.0: the map leads the data; a map that never ends is refused.
    await rejects(
      read(sparse([["GNU.sparse.major", "1"], ["GNU.sparse.realsize", "10"]], "9\n1\n")),
      integrity(/sparse map of member "s".*cut short|too long/),
    );
    // Old GNU 'S': a declared real size smaller than the map.
    const header = forgeHeader({ name: "s", type: "S", size: 4, magic: "ustar  \0" });
    header.set(encoder.encode("00000000010\x0000000000004\0"), 386);
    header.set(encoder.encode("00000000005\0"), 483);
    await rejects(read(forge(withChecksum(header), "abcd")), integrity(/file of 5/));
  });
});

Deno.test("tar reader keeps hostile names verbatim and normalises ./", async () => {
  const bytes = forge(
    forgeHeader({ name: "./", type: "5" }),
    forgeHeader({ name: "./etc/", type: "5" }),
    forgeHeader({ name: "../escape" }),
    forgeHeader({ name: "/abs/path" }),
    forgeHeader({ name: "a/../../b" }),
    forgeHeader({ name: "./hl", type: "1", linkname: "./etc/passwd" }),
    forgeHeader({ name: "sl", type: "2", linkname: "./../../x" }),
  );
  const got = (await describeEntries(readTar(chunked(bytes, 512)))).map((line) => {
    const { kind, path } = JSON.parse(line.slice(0, line.indexOf("}") + 1));
    const target = / target=(.*)$/.exec(line)?.[1];
    return `${kind} ${path}${target === undefined ? "" : ` -> ${target}`}`;
  });
  assertEquals(got, [
    "dir .",
    "dir etc",
    "file ../escape",
    "file /abs/path",
    "file a/../../b",
    "hardlink hl -> etc/passwd",
    "symlink sl -> ./../../x",
  ]);
});

Deno.test("tar reader: pax global headers apply to later members; empty values delete", async () => {
  const global = paxData([["uname", "globaluser"], ["SCHILY.xattr.user.g", "G"]]);
  const local = paxData([["uname", ""], ["path", "renamed"]]);
  const bytes = forge(
    forgeHeader({ name: "G", type: "g", size: global.length }),
    global,
    forgeHeader({ name: "a" }),
    forgeHeader({ name: "X", type: "x", size: local.length }),
    local,
    forgeHeader({ name: "b" }),
  );
  const entries: Entry[] = [];
  for await (const entry of readTar(chunked(bytes, 512))) entries.push(entry);
  assertEquals(entries.map((entry) => [entry.path, entry.uname, [...entry.xattrs.keys()]]), [
    ["a", "globaluser", ["user.g"]],
    ["renamed", "globaluser", ["user.g"]],
  ]);
});

/** GNU tar and bsdtar archives of the feature tree, made by the real tools. */
async function realToolArchives(src: string): Promise<[string, Uint8Array][]> {
  const tar = (format: string, extra: string[] = []) =>
    run(["tar", `--format=${format}`, "--sort=name", ...extra, "-cf", "-", "."], { cwd: src });
  return [
    ["GNU tar --format=gnu", await tar("gnu")],
    ["GNU tar --format=oldgnu", await tar("oldgnu")],
    ["GNU tar --format=posix --xattrs", await tar("posix", ["--xattrs", "--xattrs-include=*"])],
    ["bsdtar (pax)", await run(["bsdtar", "--format", "pax", "-cf", "-", "."], { cwd: src })],
    ["bsdtar (default)", await run(["bsdtar", "-cf", "-", "."], { cwd: src })],
  ];
}

Deno.test("tar reader reads GNU tar (gnu, oldgnu, posix) and bsdtar archives at every chunk size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-tar-" });
  try {
    await makeFeatureTree(`${dir}/src`);
    const source = await entriesFromTree(`${dir}/src`);
    const sourceLines = new Map(
      (await expectedAfterTar(await entriesFromTree(`${dir}/src`))).map((line) => [
        JSON.parse(line.slice(0, line.indexOf("}") + 1)).path as string,
        line,
      ]),
    );
    for (const [tool, archive] of await realToolArchives(`${dir}/src`)) {
      const expected = await describeEntries(readTar(chunked(archive, archive.byteLength)));
      const byPath = new Map(
        expected.map((
          line,
        ) => [JSON.parse(line.slice(0, line.indexOf("}") + 1)).path as string, line]),
      );
      assertEquals([...byPath.keys()].sort(), source.map((entry) => entry.path).sort(), tool);
      const withXattrs = !tool.includes("gnu"); // GNU tar stores xattrs only in pax
      for (const [path, line] of byPath) {
        // GNU tar names no owner for ids without a passwd entry; the tools and we agree on the rest.
        let want = sourceLines.get(path)!.replace(/"uname":"[^"]*","gname":"[^"]*",/, "");
        let got = line.replace(/"uname":"[^"]*","gname":"[^"]*",/, "");
        if (!withXattrs) want = want.replace(/ [a-z]+\.[a-z.]+=[0-9a-f]*/g, "");
        if (path === ".") {
          [want, got] = [want.replace(/"mode":\d+/, ""), got.replace(/"mode":\d+/, "")];
        }
        // Which name of a hard-linked set carries the data is the tool's choice.
        if (
          /kind":"(hardlink|file)".*"path":"(bin\/random|bin\/random-link|etc\/deep\/random-link2|etc\/e1|etc\/e2)"/
            .test(line)
        ) continue;
        assertEquals(got, want, `${tool}: ${path}`);
      }
      // Every size for the formats the tests must cover; a sample for variants of the same code.
      const sizes = tool.includes("oldgnu") || tool.includes("default")
        ? [1, 2, 3, 511, 512, 513, 1024, 1025]
        : Array.from({ length: 1025 }, (_, i) => i + 1);
      for (const size of sizes) {
        assertEquals(
          await describeEntries(readTar(chunked(archive, size))),
          expected,
          `${tool} chunk ${size}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tar cross-check: GNU tar --xattrs restores our archive of a real tree; bsdtar lists it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-tar-" });
  try {
    await makeFeatureTree(`${dir}/src`);
    const entries = await entriesFromTree(`${dir}/src`);
    const archive = await collect(tarStream(entries));
    assertEquals(
      archive,
      await collect(tarStream(await entriesFromTree(`${dir}/src`))),
      "deterministic",
    );
    await Deno.writeFile(`${dir}/a.tar`, archive);
    await Deno.mkdir(`${dir}/out`);
    await run([
      "tar",
      "--xattrs",
      "--xattrs-include=*",
      "-xpf",
      `${dir}/a.tar`,
      "-C",
      `${dir}/out`,
    ]);
    const want = await describeTree(`${dir}/src`, { xattrs: true });
    assertEquals(await describeTree(`${dir}/out`, { xattrs: true }), want);
    ok(
      want.some((line) =>
        line.startsWith("bin/su ") && line.includes("security.capability=01000002c0")
      ),
      "binary capability in the fixture",
    );
    const caps = new TextDecoder().decode(await run(["getcap", `${dir}/out/bin/su`]));
    ok(caps.includes(CAPABILITY_SETUID_SETGID.split("+")[0]!.split(",")[0]!), caps);
    const listing = new TextDecoder().decode(await run(["bsdtar", "-tvf", `${dir}/a.tar`]));
    assertEquals(listing.trim().split("\n").length, entries.length);
    ok(/^c.* 259,65536 .*dev\/big$/m.test(listing), listing);
    ok(/^h.*bin\/random-link link to bin\/random$/m.test(listing), listing);
    assertEquals(
      await describeEntries(readTar(chunked(archive, 4093))),
      await expectedAfterTar(await entriesFromTree(`${dir}/src`)),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tar: a sparse 5 GB file streams in constant memory and GNU tar reads it back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-tar-sparse-" });
  try {
    const path = `${dir}/sparse.img`;
    const size = 5 * 10 ** 9;
    await run(["truncate", "-s", String(size), path]);
    // Markers at the start, past 4 GiB and at the very end, to check offsets after unpacking.
    const markers = new Map<number, string>([[0, "START"], [2 ** 32 + 12345, "PAST4G"], [
      size - 3,
      "END",
    ]]);
    {
      using file = await Deno.open(path, { write: true });
      for (const [offset, marker] of markers) {
        await file.seek(offset, Deno.SeekMode.Start);
        await file.write(encoder.encode(marker));
      }
    }
    const entry: Entry = {
      ...baseMeta("var/sparse.img", 0o600),
      kind: "file",
      content: fileContent(path, size),
    };
    const child = new Deno.Command("tar", {
      args: ["-xOf", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const rssBefore = Deno.memoryUsage().rss;
    let peakRss = rssBefore;
    const writing = (async () => {
      const writer = child.stdin.getWriter();
      let chunks = 0;
      for await (const chunk of tarStream([entry])) {
        await writer.write(chunk);
        if (++chunks % 256 === 0) peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
      }
      await writer.close();
    })();
    let received = 0;
    const found = new Map<number, string>();
    for await (const chunk of child.stdout) {
      for (const [offset, marker] of markers) {
        if (offset >= received && offset < received + chunk.byteLength) {
          // Markers are short; a chunk boundary inside one would only shorten what we see.
          found.set(
            offset,
            new TextDecoder().decode(
              chunk.subarray(offset - received, offset - received + marker.length),
            ),
          );
        }
      }
      received += chunk.byteLength;
    }
    await writing;
    const status = await child.status;
    ok(status.success, "GNU tar failed");
    assertEquals(received, size);
    for (const [offset, marker] of markers) {
      ok(marker.startsWith(found.get(offset) ?? "?"), `marker at ${offset}`);
    }
    ok(
      peakRss - rssBefore < 256 * 2 ** 20,
      `memory grew by ${(peakRss - rssBefore) / 2 ** 20} MiB`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GNU tar and bsdtar list our archive exactly: long, unicode and pax-held values", async () => {
  const archive = await collect(tarStream(sampleEntries()));
  const memberName = (entry: Entry) =>
    entry.path === "." ? "./" : entry.kind === "dir" ? `${entry.path}/` : entry.path;
  const names = sampleEntries().map(memberName);
  for (const argv of [["tar", "-tf", "-"], ["bsdtar", "-tf", "-"]]) {
    const listing = new TextDecoder().decode(await run(argv, { stdin: archive }));
    assertEquals(listing.split("\n").slice(0, -1), names, argv[0]);
  }
  const verbose = new TextDecoder().decode(
    await run(["tar", "--numeric-owner", "--full-time", "-tvf", "-"], { stdin: archive }),
  );
  ok(
    /^-rw-r----- 4000000000\/2097152 +1 2514-05-30 01:53:04 etc\/big-ids$/m.test(verbose),
    verbose,
  );
  ok(/^-rw-r--r-- 0\/0 +4 1969-12-31 00:00:00 etc\/old$/m.test(verbose), verbose);
  ok(/^brw-rw---- 0\/0 +259,65536 .* dev\/nvme$/m.test(verbose), verbose);
  const bsd = new TextDecoder().decode(await run(["bsdtar", "-tvf", "-"], { stdin: archive }));
  ok(/ ädmin +a-group-name-that-is-longer-than-32-bytes +1 .* etc\/big-ids$/m.test(bsd), bsd);
});

Deno.test("tar writer refuses names and link targets that are empty or hold a NUL", async () => {
  for (
    const entry of [
      { ...baseMeta("a\0b", 0o644), kind: "fifo" },
      { ...baseMeta("", 0o644), kind: "fifo" },
      { ...baseMeta("h", 0o644), kind: "hardlink", target: "" },
    ] as Entry[]
  ) {
    await rejects(
      collect(tarStream([entry])),
      (error: unknown) =>
        error instanceof InvalidInputError && /empty or holds a NUL/.test(error.message),
    );
  }
});

Deno.test("tar reader expands GNU sparse files: old GNU 'S' and pax 0.0, 0.1, 1.0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-tar-sparse-" });
  try {
    const file = `${dir}/src/holes.img`;
    await Deno.mkdir(`${dir}/src`);
    await run(["truncate", "-s", "3000000", file]);
    // 30 islands of data: more than the 4 map entries an old GNU header holds.
    {
      using handle = await Deno.open(file, { write: true });
      for (let i = 0; i < 30; i++) {
        await handle.seek(i * 97_000 + 13, Deno.SeekMode.Start);
        await handle.write(encoder.encode(`island ${i} `.repeat(50)));
      }
    }
    const want = await describeEntries(
      readTar(chunked(await run(["tar", "-cf", "-", "holes.img"], { cwd: `${dir}/src` }), 4096)),
    );
    ok(want[0]!.includes("size=3000000/3000000"), want[0]);
    const archives: [string, string[]][] = [
      ["gnu", ["--format=gnu"]],
      ["0.0", ["--format=posix", "--sparse-version=0.0"]],
      ["0.1", ["--format=posix", "--sparse-version=0.1"]],
      ["1.0", ["--format=posix", "--sparse-version=1.0"]],
    ];
    for (const [label, flags] of archives) {
      const archive = await run(["tar", ...flags, "--sparse", "-cf", "-", "holes.img"], {
        cwd: `${dir}/src`,
      });
      ok(archive.byteLength < 400_000, `${label}: stored sparse (${archive.byteLength} bytes)`);
      for (const size of [1, 511, 512, 4096, archive.byteLength]) {
        const got = (await describeEntries(readTar(chunked(archive, size))))
          .map((line) => line.replace(/"uname":"[^"]*","gname":"[^"]*",/, ""));
        assertEquals(
          got,
          want.map((line) => line.replace(/"uname":"[^"]*","gname":"[^"]*",/, "")),
          `${label} chunk ${size}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tar writer yields ~1 MiB batches or big content chunks, never crumbs", async () => {
  const big = (n: number) => bytesContent(new Uint8Array(n).fill(1));
  const entries: Entry[] = [];
  for (let i = 0; i < 40; i++) {
    entries.push({ ...baseMeta(`small${i}`, 0o644), kind: "file", content: text("tiny") });
    // Large files arrive as one chunk each (as the walker reads files up to 1 MiB whole).
    entries.push({ ...baseMeta(`large${i}`, 0o644), kind: "file", content: big(200_000 + i) });
  }
  const sizes: number[] = [];
  const parts: Uint8Array[] = [];
  for await (const chunk of tarStream(entries)) {
    sizes.push(chunk.byteLength);
    parts.push(chunk.slice());
  }
  ok(sizes.slice(0, -1).every((size) => size >= 64 << 10), `crumbs: ${sizes}`);
  // Same bytes as one big in-memory pass through the reader.
  const whole = await collect((async function* () {
    yield* parts;
  })());
  assertEquals((await describeEntries(readTar(chunked(whole, 65536)))).length, 80);
});
