// tar reader: chunk sizes, skipped content, hostile and broken input, real tools' archives.

import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { IntegrityError } from "../../core/errors.ts";
import type { Entry } from "./entry.ts";
import { readTar } from "./tar_reader.ts";
import { tarStream } from "./tar_writer.ts";
import {
  chunked,
  describeEntries,
  entriesFromTree,
  makeFeatureTree,
} from "../../testdata/support/tree_fixture.ts";
import { collectBytes } from "../bytes.ts";
import { run } from "../../testdata/support/process.ts";
import {
  expectedAfterTar,
  forge,
  forgeHeader,
  paxData,
  sampleEntries,
  withChecksum,
} from "../../testdata/support/tar_fixture.ts";

const encoder = new TextEncoder();

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

Deno.test("tar reader works one byte at a time and at every chunk size 1..1025", async () => {
  const bytes = await collectBytes(tarStream(sampleEntries()));
  const expected = await describeEntries(readTar(chunked(bytes, bytes.byteLength)));
  for (let size = 1; size <= 1025; size++) {
    assertEquals(
      await describeEntries(readTar(chunked(bytes, size))),
      expected,
      `chunk size ${size}`,
    );
  }
});

Deno.test("tar reader: skipped content is skipped, late reads are refused", async () => {
  const bytes = await collectBytes(tarStream(sampleEntries()));
  let kept: Entry | undefined;
  let count = 0;
  for await (const entry of readTar(chunked(bytes, 333))) {
    count++;
    if (entry.path === "bin/su") kept = entry;
  }
  assertEquals(count, sampleEntries().length);
  ok(kept?.kind === "file");
  await rejects(collectBytes(kept.content.open()), /can be read once, before the next entry/);
});

Deno.test("tar reader: hostile and broken input gives IntegrityError", async (t) => {
  const good = await collectBytes(tarStream(sampleEntries().slice(0, 4)));
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
