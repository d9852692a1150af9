import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { IntegrityError, InvalidInputError } from "../../core/errors.ts";
import { baseMeta, bytesContent, type Entry } from "./entry.ts";
import { CpioLimitError, cpioStream, readCpio } from "./cpio_newc.ts";
import {
  chunked,
  describeEntries,
  describeTree,
  entriesFromTree,
  makeFeatureTree,
  NAME_255,
} from "../../testdata/support/tree_fixture.ts";
import { collectBytes } from "../bytes.ts";
import { run } from "../../testdata/support/process.ts";

const encoder = new TextEncoder();
const text = (value: string) => bytesContent(encoder.encode(value));

/** Every entry kind and the metadata cpio must keep. */
function sampleEntries(): Entry[] {
  return [
    { ...baseMeta(".", 0o755), kind: "dir", mtime: 1_700_000_000 },
    { ...baseMeta("bin", 0o755), kind: "dir" },
    { ...baseMeta("bin/su", 0o4755), kind: "file", content: text("su\n"), uid: 0, gid: 0 },
    { ...baseMeta("bin/wall", 0o2755), kind: "file", content: text("wall\n"), gid: 5 },
    { ...baseMeta("tmp", 0o1777), kind: "dir" },
    { ...baseMeta("etc/empty", 0o644), kind: "file", content: text("") },
    {
      ...baseMeta("etc/owned", 0o640),
      kind: "file",
      content: text("x"),
      uid: 4_000_000_000,
      gid: 123_456,
      mtime: 4_000_000_000,
    },
    { ...baseMeta("usr/bin/perl", 0o755), kind: "file", content: text("perl!\n"), links: 3 },
    { ...baseMeta("usr/bin/perl5.36", 0o755), kind: "hardlink", target: "usr/bin/perl" },
    { ...baseMeta("usr/bin/perl-again", 0o755), kind: "hardlink", target: "usr/bin/perl" },
    { ...baseMeta("empty-linked", 0o600), kind: "file", content: text(""), links: 2 },
    { ...baseMeta("empty-linked2", 0o600), kind: "hardlink", target: "empty-linked" },
    { ...baseMeta("bin/awk", 0o777), kind: "symlink", target: "/etc/alternatives/awk" },
    { ...baseMeta("bin/rel", 0o777), kind: "symlink", target: "../etc/empty" },
    { ...baseMeta("dev/null", 0o666), kind: "chardev", devmajor: 1, devminor: 3 },
    { ...baseMeta("dev/nvme", 0o660), kind: "blockdev", devmajor: 259, devminor: 65536 },
    { ...baseMeta("dev/initctl", 0o600), kind: "fifo" },
    { ...baseMeta("ünïcødé ☃", 0o644), kind: "file", content: text("snow\n") },
    { ...baseMeta("n".repeat(100), 0o644), kind: "file", content: text("100") },
    { ...baseMeta(NAME_255, 0o644), kind: "file", content: text("255") },
    { ...baseMeta(name4096(), 0o644), kind: "file", content: text("4096") },
  ];
}

/** A 4096-byte path made of 255-byte components. */
function name4096(): string {
  const parts: string[] = [];
  let length = 0;
  while (length + 256 < 4096) {
    parts.push("p".repeat(255));
    length += 256;
  }
  parts.push("q".repeat(4096 - length));
  const path = parts.join("/");
  if (encoder.encode(path).byteLength !== 4096) throw new Error("bad fixture");
  return path;
}

/** What the reader should give back for `entries` (cpio keeps no owner names or xattrs). */
async function expectedAfterCpio(entries: Entry[]): Promise<string[]> {
  // Hard-linked sets of empty files come last: with no data, the reader cannot tell the name
  // that GNU cpio (data on the last link) would put first until the archive ends.
  const emptyLinked = new Set<string>();
  for (const entry of entries) {
    if (entry.kind === "file" && (entry.links ?? 1) >= 2 && entry.content.size === 0) {
      emptyLinked.add(entry.path);
    }
    if (entry.kind === "hardlink" && emptyLinked.has(entry.target)) emptyLinked.add(entry.path);
  }
  const ordered = [
    ...entries.filter((entry) => !emptyLinked.has(entry.path)),
    ...entries.filter((entry) => emptyLinked.has(entry.path)),
  ];
  return await describeEntries(
    (async function* () {
      for (const entry of ordered) {
        yield { ...entry, uname: "", gname: "", xattrs: new Map() } as Entry;
      }
    })(),
  );
}

Deno.test("cpio round trip keeps every entry kind, mode, owner, link and name", async () => {
  const entries = sampleEntries();
  const bytes = await collectBytes(cpioStream(entries));
  assertEquals(bytes.byteLength % 512, 0);
  assertEquals(
    await describeEntries(readCpio(chunked(bytes, bytes.byteLength))),
    await expectedAfterCpio(entries),
  );
});

Deno.test("cpio writer is deterministic and matches the golden archive", async () => {
  const first = await collectBytes(cpioStream(sampleEntries()));
  const second = await collectBytes(cpioStream(sampleEntries()));
  assertEquals(first, second);
  const golden = new URL("../../testdata/archives/sample.cpio", import.meta.url);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeFile(golden, first);
  assertEquals(first, await Deno.readFile(golden), "differs from testdata/archives/sample.cpio");
});

Deno.test("cpio header layout: magic, renumbered inodes, hard links share ino and nlink", async () => {
  const bytes = await collectBytes(cpioStream(sampleEntries()));
  const ascii = new TextDecoder().decode(bytes);
  const headers = [...ascii.matchAll(/070701([0-9A-F]{104})/g)].map((match) => {
    const fields = match[1]!.match(/.{8}/g)!.map((field) => parseInt(field, 16));
    const nameSize = fields[11]!;
    const nameAt = match.index! + 110;
    return {
      ino: fields[0]!,
      nlink: fields[4]!,
      size: fields[6]!,
      name: ascii.slice(nameAt, nameAt + nameSize - 1),
    };
  });
  const byName = new Map(headers.map((header) => [header.name, header]));
  assertEquals(byName.get(".")!.ino, 1);
  assertEquals(byName.get("bin")!.ino, 2);
  const perl = byName.get("usr/bin/perl")!;
  assertEquals([perl.nlink, perl.size], [3, 6]);
  assertEquals(byName.get("usr/bin/perl5.36"), {
    ino: perl.ino,
    nlink: 3,
    size: 0,
    name: "usr/bin/perl5.36",
  });
  assertEquals(byName.get("usr/bin/perl-again")!.ino, perl.ino);
  assertEquals(headers.at(-1)!.name, "TRAILER!!!");
});

Deno.test("cpio reader works one byte at a time and at every chunk size 1..1025", async () => {
  const entries = sampleEntries();
  const bytes = await collectBytes(cpioStream(entries));
  const expected = await describeEntries(readCpio(chunked(bytes, bytes.byteLength)));
  for (let size = 1; size <= 1025; size++) {
    assertEquals(
      await describeEntries(readCpio(chunked(bytes, size))),
      expected,
      `chunk size ${size}`,
    );
  }
});

Deno.test("cpio writer batches output into large chunks", async () => {
  const many: Entry[] = [];
  for (let i = 0; i < 20_000; i++) {
    many.push({
      ...baseMeta(`f${String(i).padStart(5, "0")}`, 0o644),
      kind: "file",
      content: text("data"),
    });
  }
  const sizes: number[] = [];
  for await (const chunk of cpioStream(many)) sizes.push(chunk.byteLength);
  ok(sizes.length <= 4, `expected a few ~1 MiB chunks, got ${sizes.length}`);
  ok(sizes[0]! >= (1 << 20) - 4096, `first chunk only ${sizes[0]} bytes`);
});

Deno.test("cpio writer reports the xattrs it drops", async () => {
  const dropped: string[] = [];
  const entry: Entry = {
    ...baseMeta("bin/ping", 0o755),
    kind: "file",
    content: text("ping"),
    xattrs: new Map([["user.b", new Uint8Array([1])], [
      "security.capability",
      new Uint8Array([2]),
    ]]),
  };
  await collectBytes(
    cpioStream([entry], { onDroppedXattrs: (path, names) => dropped.push(`${path}: ${names}`) }),
  );
  assertEquals(dropped, ["bin/ping: security.capability,user.b"]);
});

Deno.test("cpio writer refuses a file of 4 GiB from its header, naming the path", async () => {
  const huge: Entry = {
    ...baseMeta("var/lib/huge.img", 0o644),
    kind: "file",
    content: {
      size: 2 ** 32,
      open() {
        throw new Error("the writer must refuse before reading any content");
      },
    },
  };
  const ok4g: Entry = {
    ...huge,
    path: "ok",
    content: { size: 2 ** 32 - 1, open: huge.content.open },
  };
  await rejects(collectBytes(cpioStream([huge])), (error: unknown) => {
    ok(error instanceof CpioLimitError);
    ok(
      error.message.includes('"var/lib/huge.img"') && error.message.includes("4294967296"),
      error.message,
    );
    return true;
  });
  // 4 GiB - 1 fits the header: the writer goes on to read the content.
  await rejects(collectBytes(cpioStream([ok4g])), /must refuse before reading/);
});

Deno.test("cpio writer rejects a hard link whose target was not written as a linked file", async () => {
  await rejects(
    collectBytes(cpioStream([{ ...baseMeta("b", 0o644), kind: "hardlink", target: "a" }])),
    (error: unknown) => error instanceof InvalidInputError && error.message.includes('"a"'),
  );
});

Deno.test("cpio writer catches content that does not match its declared size", async () => {
  const short: Entry = {
    ...baseMeta("grew", 0o644),
    kind: "file",
    content: { ...text("abc"), size: 5 },
  };
  await rejects(
    collectBytes(cpioStream([short])),
    (error: unknown) => error instanceof IntegrityError && /"grew".*3 of/.test(error.message),
  );
  const long: Entry = {
    ...baseMeta("grew", 0o644),
    kind: "file",
    content: { ...text("abcdef"), size: 5 },
  };
  await rejects(
    collectBytes(cpioStream([long])),
    (error: unknown) => error instanceof IntegrityError && /larger than/.test(error.message),
  );
});

Deno.test("cpio reader: skipped content is skipped, late reads are refused", async () => {
  const bytes = await collectBytes(cpioStream(sampleEntries()));
  const paths: string[] = [];
  let kept: Entry | undefined;
  for await (const entry of readCpio(chunked(bytes, 7))) {
    paths.push(entry.path);
    if (entry.path === "bin/su") kept = entry;
  }
  assertEquals(paths.length, sampleEntries().length);
  ok(kept?.kind === "file");
  await rejects(collectBytes(kept.content.open()), /can be read once, before the next entry/);
});

Deno.test("cpio reader: hostile and broken input gives IntegrityError", async (t) => {
  const good = await collectBytes(cpioStream(sampleEntries().slice(0, 5)));
  const read = (bytes: Uint8Array) => describeEntries(readCpio(chunked(bytes, 100)));
  const integrity = (pattern: RegExp) => (error: unknown) => {
    ok(error instanceof IntegrityError, String(error));
    ok(pattern.test(error.message), error.message);
    return true;
  };
  await t.step("empty input", () => rejects(read(new Uint8Array(0)), integrity(/empty/)));
  await t.step(
    "truncated in a header",
    () => rejects(read(good.slice(0, 50)), integrity(/cut short/)),
  );
  await t.step("truncated in a member", async () => {
    const at = new TextDecoder().decode(good).indexOf("su\n");
    await rejects(read(good.slice(0, at + 1)), integrity(/Truncated.*bin\/su.*1 of 3/));
  });
  await t.step("no trailer", async () => {
    const at = new TextDecoder().decode(good).lastIndexOf("070701");
    await rejects(read(good.slice(0, at)), integrity(/without the TRAILER!!! entry/));
  });
  await t.step("bad magic", async () => {
    const bad = good.slice();
    bad[5] = 0x37;
    await rejects(read(bad), integrity(/bad magic "070707".*old portable/));
  });
  await t.step("malformed numeric field", async () => {
    const bad = good.slice();
    bad[6 + 8 * 6 + 3] = 0x47; // "G" in filesize
    await rejects(read(bad), integrity(/field filesize is "000G0000"/));
  });
  await t.step("trailing garbage", async () => {
    const bad = new Uint8Array(good.byteLength + 512);
    bad.set(good);
    bad[good.byteLength + 100] = 1;
    await rejects(read(bad), integrity(/Trailing garbage.*offset \d+ after TRAILER/));
    // Zero padding after the trailer is fine.
    const padded = new Uint8Array(good.byteLength + 512);
    padded.set(good);
    await read(padded);
  });
  await t.step("a directory with data", async () => {
    const forged = forge([{ mode: 0o040755, name: "d", data: "xxxx" }]);
    await rejects(read(forged), integrity(/not a regular file but has 4 bytes/));
  });
  await t.step("a name with a NUL inside", async () => {
    const forged = forge([{ mode: 0o100644, name: "etc/passwd\0.txt", data: "" }]);
    await rejects(read(forged), integrity(/not one NUL-terminated string/));
  });
  await t.step("a name that is not UTF-8", async () => {
    const forged = forge([{ mode: 0o100644, name: "\xff", data: "" }], true);
    await rejects(read(forged), integrity(/not valid UTF-8/));
  });
});

Deno.test("cpio reader keeps hostile names verbatim and normalises ./", async () => {
  const forged = forge([
    { mode: 0o040755, name: ".", data: "" },
    { mode: 0o040755, name: "./", data: "" },
    { mode: 0o100644, name: "./etc/passwd", data: "x" },
    { mode: 0o100644, name: "../escape", data: "y" },
    { mode: 0o100644, name: "/abs/path", data: "z" },
    { mode: 0o140755, name: "sock", data: "" },
  ]);
  const skipped: string[] = [];
  const paths: string[] = [];
  for await (
    const entry of readCpio(chunked(forged, 64), {
      onSkipped: (path, why) => skipped.push(`${path} ${why}`),
    })
  ) {
    paths.push(entry.path);
  }
  assertEquals(paths, [".", ".", "etc/passwd", "../escape", "/abs/path"]);
  assertEquals(skipped, ["sock socket"]);
});

Deno.test("cpio reader turns GNU cpio's data-on-the-last-link order into file + hardlinks", async () => {
  const forged = forge([
    { mode: 0o100644, name: "a", data: "", ino: 7, nlink: 3 },
    { mode: 0o100644, name: "b", data: "", ino: 7, nlink: 3 },
    { mode: 0o100644, name: "other", data: "o", ino: 8, nlink: 1 },
    { mode: 0o100644, name: "c", data: "shared", ino: 7, nlink: 3 },
    { mode: 0o100600, name: "e1", data: "", ino: 9, nlink: 2 },
    { mode: 0o100600, name: "e2", data: "", ino: 9, nlink: 2 },
  ]);
  const lines = (await describeEntries(readCpio(chunked(forged, 3)))).map((line) =>
    line.replace(/^\{"kind":"(\w+)","path":"([^"]*)".*?\}/, "$1 $2").replace(/ sha256=\w+/, "")
  );
  assertEquals(lines, [
    "file other size=1/1 links=1",
    "file c size=6/6 links=3",
    "hardlink a target=c",
    "hardlink b target=c",
    "file e1 size=0/0 links=2",
    "hardlink e2 target=e1",
  ]);
});

interface ForgedMember {
  mode: number;
  name: string;
  data: string;
  ino?: number;
  nlink?: number;
}

/** Builds a newc archive by hand, for inputs our writer would never produce. */
function forge(members: ForgedMember[], latin1Names = false): Uint8Array {
  const parts: number[] = [];
  const push = (bytes: Iterable<number>) => {
    for (const byte of bytes) parts.push(byte);
  };
  const pad = () => {
    while (parts.length % 4) parts.push(0);
  };
  const all = [...members, { mode: 0, name: "TRAILER!!!", data: "", ino: 0, nlink: 1 }];
  all.forEach((member, index) => {
    const name = latin1Names
      ? Array.from(member.name, (c) => c.charCodeAt(0))
      : encoder.encode(member.name);
    const data = encoder.encode(member.data);
    const fields = [
      member.ino ?? index + 1,
      member.mode,
      0,
      0,
      member.nlink ?? 1,
      0,
      data.byteLength,
      0,
      0,
      0,
      0,
      name.length + 1,
      0,
    ];
    push(
      encoder.encode(
        "070701" + fields.map((f) => f.toString(16).toUpperCase().padStart(8, "0")).join(""),
      ),
    );
    push(name);
    parts.push(0);
    pad();
    push(data);
    pad();
  });
  return Uint8Array.from(parts);
}

Deno.test("cpio cross-check: GNU cpio restores our archive of a real tree; bsdtar lists it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-cpio-" });
  try {
    await makeFeatureTree(`${dir}/src`);
    const dropped: string[] = [];
    const entries = await entriesFromTree(`${dir}/src`);
    const archive = await collectBytes(
      cpioStream(entries, { onDroppedXattrs: (path) => dropped.push(path) }),
    );
    assertEquals(dropped, ["bin/ping", "bin/su", "etc/empty", "etc/hello"]);
    ok(entries.some((entry) => entry.path === "etc/e2" && entry.kind === "hardlink"));
    await Deno.writeFile(`${dir}/a.cpio`, archive);
    await Deno.mkdir(`${dir}/out`);
    await run(["cpio", "-idm", "--no-absolute-filenames", "--quiet", "-F", `${dir}/a.cpio`], {
      cwd: `${dir}/out`,
    });
    assertEquals(
      // GNU cpio sets a directory's mtime before creating its children (even for its own
      // archives), so directory mtimes are compared through our reader below instead.
      await describeTree(`${dir}/out`, { xattrs: false, dirMtimes: false }),
      await describeTree(`${dir}/src`, { xattrs: false, dirMtimes: false }),
    );
    const listing = new TextDecoder().decode(await run(["bsdtar", "-tvf", `${dir}/a.cpio`]));
    assertEquals(listing.trim().split("\n").length, entries.length);
    ok(/crw-.*259,65536 .*dev\/big/.test(listing), listing);
    // Our reader gives back exactly what we wrote (minus owner names and xattrs).
    assertEquals(
      await describeEntries(readCpio(chunked(archive, 4093))),
      await expectedAfterCpio(await entriesFromTree(`${dir}/src`)),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cpio reader reads GNU cpio -H newc and bsdtar newc output at every chunk size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-cpio-" });
  try {
    await makeFeatureTree(`${dir}/src`);
    const list = new TextDecoder().decode(
      await run(["sh", "-c", "find . | LC_ALL=C sort"], { cwd: `${dir}/src` }),
    );
    const gnu = await run(["cpio", "-o", "-H", "newc", "--quiet"], {
      cwd: `${dir}/src`,
      stdin: encoder.encode(list),
    });
    const bsd = await run(["bsdtar", "--format", "newc", "-cf", "-", "-n", "-T", "-"], {
      cwd: `${dir}/src`,
      stdin: encoder.encode(list),
    });
    const source = await entriesFromTree(`${dir}/src`);
    for (const [tool, archive] of [["GNU cpio", gnu], ["bsdtar", bsd]] as const) {
      const expected = await describeEntries(readCpio(chunked(archive, archive.byteLength)));
      // Same files, contents, devices and links as the tree (hard links may come in another order).
      const paths = expected.map((line) => JSON.parse(line.slice(0, line.indexOf("}") + 1)).path)
        .sort();
      assertEquals(paths, source.map((entry) => entry.path).sort(), tool);
      const random = expected.find((line) =>
        line.includes('"path":"bin/random"') || line.includes("target=bin/random")
      );
      ok(random, `${tool}: bin/random missing`);
      const dataLine = expected.find((line) =>
        /"path":"(bin\/random|bin\/random-link|etc\/deep\/random-link2)".*size=5000/.test(line)
      );
      ok(dataLine, `${tool}: the hard-linked data is lost:\n${expected.join("\n")}`);
      assertEquals(
        expected.filter((line) => line.startsWith('{"kind":"hardlink"')).length,
        3,
        tool,
      );
      for (let size = 1; size <= 1025; size++) {
        assertEquals(
          await describeEntries(readCpio(chunked(archive, size))),
          expected,
          `${tool} chunk ${size}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GNU cpio and bsdtar list our archive exactly, 4096-byte name included", async () => {
  const archive = await collectBytes(cpioStream(sampleEntries()));
  const names = sampleEntries().map((entry) => entry.path);
  for (const argv of [["cpio", "-it", "--quiet"], ["bsdtar", "-tf", "-"]]) {
    const listing = new TextDecoder().decode(await run(argv, { stdin: archive }));
    assertEquals(listing.split("\n").slice(0, -1), names, argv[0]);
  }
});

Deno.test("cpio reader checks the data sums of GNU cpio -H crc archives", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-cpio-" });
  try {
    await makeFeatureTree(`${dir}/src`);
    const list = new TextDecoder().decode(
      await run(["sh", "-c", "find . | LC_ALL=C sort"], { cwd: `${dir}/src` }),
    );
    const crc = await run(["cpio", "-o", "-H", "crc", "--quiet"], {
      cwd: `${dir}/src`,
      stdin: encoder.encode(list),
    });
    const lines = await describeEntries(readCpio(chunked(crc, 1000)));
    ok(lines.some((line) => line.includes('"path":"etc/hello"') && line.includes("size=12/12")));
    const at = new TextDecoder("latin1").decode(crc).indexOf("hello world");
    const corrupt = crc.slice();
    corrupt[at] = 0x48; // "H"
    await rejects(
      describeEntries(readCpio(chunked(corrupt, 1000))),
      (error: unknown) =>
        error instanceof IntegrityError &&
        /Checksum mismatch.*"etc\/hello".*sums to \d+, header says \d+/.test(error.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cpio writer refuses names and link targets that are empty or hold a NUL", async () => {
  for (
    const entry of [
      { ...baseMeta("a\0b", 0o644), kind: "fifo" },
      { ...baseMeta("", 0o644), kind: "fifo" },
      { ...baseMeta("l", 0o777), kind: "symlink", target: "x\0y" },
    ] as Entry[]
  ) {
    await rejects(
      collectBytes(cpioStream([entry])),
      (error: unknown) =>
        error instanceof InvalidInputError && /empty or holds a NUL/.test(error.message),
    );
  }
});
