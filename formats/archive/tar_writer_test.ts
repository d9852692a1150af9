// tar writer: determinism, the golden archive, where pax and base-256 are used, batching.

import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { IntegrityError, InvalidInputError } from "../../core/errors.ts";
import { baseMeta, bytesContent, type Entry } from "./entry.ts";
import { tarStream } from "./tar_writer.ts";
import { readTar } from "./tar_reader.ts";
import { chunked, describeEntries, fileContent } from "../../testdata/support/tree_fixture.ts";
import { collectBytes } from "../bytes.ts";
import { run } from "../../testdata/support/process.ts";
import { CAPABILITY, sampleEntries } from "../../testdata/support/tar_fixture.ts";

const encoder = new TextEncoder();
const text = (value: string) => bytesContent(encoder.encode(value));

Deno.test("tar writer is deterministic and matches the golden archive", async () => {
  const first = await collectBytes(tarStream(sampleEntries()));
  assertEquals(first, await collectBytes(tarStream(sampleEntries())));
  const golden = new URL("../../testdata/archives/sample.tar", import.meta.url);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeFile(golden, first);
  assertEquals(first, await Deno.readFile(golden), "differs from testdata/archives/sample.tar");
});

Deno.test("tar writer: ustar split, pax only where needed, raw xattr bytes, base-256", async () => {
  const bytes = await collectBytes(tarStream(sampleEntries()));
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
    collectBytes(tarStream([short])),
    (error: unknown) => error instanceof IntegrityError && /"shrank".*3 of/.test(error.message),
  );
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
  const archive = await collectBytes(tarStream(sampleEntries()));
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
      collectBytes(tarStream([entry])),
      (error: unknown) =>
        error instanceof InvalidInputError && /empty or holds a NUL/.test(error.message),
    );
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
  const whole = await collectBytes((async function* () {
    yield* parts;
  })());
  assertEquals((await describeEntries(readTar(chunked(whole, 65536)))).length, 80);
});
