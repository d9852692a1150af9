// Tests for core/compress/compress.ts: round trips checked by the real tools, determinism, chunking,
// corrupt and truncated input, backpressure, and Workers inside a `deno bundle` file.

import { collectBytes } from "../../formats/bytes.ts";
import { deepStrictEqual as assertEquals, ok, rejects, throws } from "node:assert/strict";
import { createHash } from "node:crypto";
import { crc32, deflateRawSync, gunzipSync, gzipSync } from "node:zlib";
import {
  compress,
  type Compression,
  compressToFile,
  crc32Combine,
  decompress,
  detectCompression,
  fixedBlocks,
  GZIP_BLOCK_SIZE,
  startGzipWorkers,
} from "./compress.ts";
import { blockLevel } from "./compress_worker.ts";
import { ExternalCommandError, IntegrityError, InvalidInputError } from "../errors.ts";
import { systemRunner } from "../process.ts";

// ---------------------------------------------------------------------------------------------
// helpers and fixtures

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    yield bytes.subarray(offset, offset + size);
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Runs a tool with `stdin` bytes; returns its status, stdout and stderr. */
async function tool(
  argv: string[],
  stdin: Uint8Array,
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writing = (async () => {
    const writer = child.stdin.getWriter();
    await writer.write(stdin).catch(() => {});
    await writer.close().catch(() => {});
  })();
  const output = await child.output();
  await writing;
  return {
    code: output.code,
    stdout: output.stdout,
    stderr: new TextDecoder().decode(output.stderr),
  };
}

async function toolOk(argv: string[], stdin: Uint8Array): Promise<Uint8Array> {
  const result = await tool(argv, stdin);
  if (result.code !== 0) {
    throw new Error(`${argv.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return result.stdout;
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[index] = state & 0xff;
  }
  return out;
}

/** Compressible text: numbered lines with varied words. */
function text(length: number): Uint8Array {
  const words = ["initrd", "rootimg", "netboot", "statelite", "osimage", "kernel", "xCAT", "node"];
  const lines: string[] = [];
  let size = 0;
  for (let line = 0; size < length; line++) {
    const value = `${line} ${words[line % 8]} ${words[(line * 7) % 8]} ${
      line * 2654435761 % 9973
    }\n`;
    lines.push(value);
    size += value.length;
  }
  return new TextEncoder().encode(lines.join("")).subarray(0, length);
}

/** A 3 MiB + 7 piece of LARGE; pieces 0 and 8 are random, the rest text. */
const PIECE = 3 * 1024 * 1024 + 7;

/**
 * ~48 MiB: random pieces among text, so both the literal and the match paths of each codec run.
 * Mostly text, because xz crawls through random data (~1 MB/s) and this file must stay quick.
 */
const LARGE = (() => {
  const out = new Uint8Array(48 * 1024 * 1024 + 12345);
  for (let offset = 0, index = 0; offset < out.byteLength; offset += PIECE, index++) {
    const length = Math.min(PIECE, out.byteLength - offset);
    out.set(index % 8 === 0 ? noise(length, index + 1) : text(length), offset);
  }
  return out;
})();

/** A text-only stretch of LARGE (pieces 1..7). */
const TEXT = LARGE.subarray(PIECE, 8 * PIECE);

const SIZES: Record<string, Uint8Array> = {
  "0 bytes": new Uint8Array(0),
  "1 byte": new Uint8Array([0x41]),
  "one block": text(GZIP_BLOCK_SIZE),
  "one block + 1": noise(GZIP_BLOCK_SIZE + 1, 7),
  "three blocks + 1": LARGE.subarray(2 * GZIP_BLOCK_SIZE, 5 * GZIP_BLOCK_SIZE + 1),
};

const TESTS: Record<Exclude<Compression, "none">, string[]> = {
  gzip: ["gzip", "-t"],
  zstd: ["zstd", "-t", "-q"],
  xz: ["xz", "-t"],
  bzip2: ["bzip2", "-t"],
};

const DECOMPRESSORS: Record<Exclude<Compression, "none">, string[][]> = {
  gzip: [["gzip", "-dc"], ["pigz", "-dc"]],
  zstd: [["zstd", "-dc", "-q"]],
  xz: [["xz", "-dc"]],
  bzip2: [["bzip2", "-dc"]],
};

// ---------------------------------------------------------------------------------------------
// detection and helpers

Deno.test("crc32Combine equals the CRC of the concatenation", () => {
  for (const [lengthA, lengthB] of [[0, 0], [0, 5], [5, 0], [1, 1], [1000, 65537], [3, 1 << 20]]) {
    const a = noise(lengthA!, lengthA! + 3);
    const b = noise(lengthB!, lengthB! + 11);
    const both = new Uint8Array(lengthA! + lengthB!);
    both.set(a);
    both.set(b, lengthA!);
    assertEquals(crc32Combine(crc32(a), crc32(b), lengthB!), crc32(both));
  }
});

Deno.test("fixedBlocks re-cuts any chunking into equal fresh blocks", async () => {
  const data = noise(10_000, 5);
  for (const size of [1, 7, 999, 1000, 1001, 20_000]) {
    const blocks: Uint8Array[] = [];
    for await (const block of fixedBlocks(chunked(data, size), 1000)) blocks.push(block);
    assertEquals(blocks.length, 10);
    ok(blocks.every((block) => block.byteLength === 1000 && block.buffer.byteLength === 1000));
    assertEquals(
      await collectBytes(chunked(data, 10_000)),
      await collectBytes(blocks.values() as never),
    );
  }
  const tail: Uint8Array[] = [];
  for await (const block of fixedBlocks(chunked(data.subarray(0, 2500), 300), 1000)) {
    tail.push(block);
  }
  assertEquals(tail.map((block) => block.byteLength), [1000, 1000, 500]);
});

// ---------------------------------------------------------------------------------------------
// round trips against the real tools

for (const kind of ["gzip", "zstd", "xz", "bzip2"] as const) {
  Deno.test(`${kind}: round trips at edge sizes, read back by the real tools`, async () => {
    for (const [label, data] of Object.entries(SIZES)) {
      const packed = await collectBytes(
        compress(systemRunner, kind, chunked(data, 65_536), { threads: 2 }),
      );
      assertEquals(detectCompression(packed), kind, label);
      const test = await tool(TESTS[kind], packed);
      assertEquals(test.code, 0, `${TESTS[kind].join(" ")} on ${label}: ${test.stderr}`);
      for (const argv of DECOMPRESSORS[kind]) {
        assertEquals(sha256(await toolOk(argv, packed)), sha256(data), `${argv[0]} on ${label}`);
      }
      assertEquals(
        sha256(await collectBytes(decompress(systemRunner, chunked(packed, 4093)))),
        sha256(data),
        label,
      );
    }
  });
}

Deno.test("large input (~48 MiB): gzip, zstd and xz, checked by tools and sha256", async () => {
  // bzip2 is left out here: it is one spawned tool with no threads and no blocks of ours, and
  // the edge sizes above already run its whole code path (it is the slowest codec by far).
  const expected = sha256(LARGE);
  for (const kind of ["gzip", "zstd", "xz"] as const) {
    const started = performance.now();
    const level = kind === "xz" ? 0 : undefined; // xz -6 would take minutes here
    const packed = await collectBytes(
      compress(systemRunner, kind, chunked(LARGE, 1 << 20), { level }),
    );
    const test = await tool(TESTS[kind], packed);
    assertEquals(test.code, 0, `${kind}: ${test.stderr}`);
    const reader = DECOMPRESSORS[kind].at(-1)!; // pigz for gzip: gzip -t already ran GNU's code
    assertEquals(sha256(await toolOk(reader, packed)), expected, `${kind} via ${reader[0]}`);
    assertEquals(
      sha256(await collectBytes(decompress(systemRunner, chunked(packed, 100_003)))),
      expected,
      kind,
    );
    ok(packed.byteLength < LARGE.byteLength * 0.5, `${kind} compresses the text`);
    console.log(`${kind}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
});

Deno.test("none passes bytes through untouched, both ways", async () => {
  const data = text(5000);
  assertEquals(await collectBytes(compress(systemRunner, "none", chunked(data, 333))), data);
  assertEquals(await collectBytes(decompress(systemRunner, chunked(data, 1))), data);
  assertEquals(
    await collectBytes(decompress(systemRunner, chunked(new Uint8Array(0), 1))),
    new Uint8Array(0),
  );
});

// ---------------------------------------------------------------------------------------------
// gzip format details

Deno.test("gzip: one member, header without name or time, usable by DecompressionStream", async () => {
  const data = LARGE.subarray(0, 5 * GZIP_BLOCK_SIZE + 99);
  const packed = await collectBytes(
    compress(systemRunner, "gzip", chunked(data, 1 << 16), { threads: 2 }),
  );
  // ID1 ID2 CM=8 FLG=0 (no name, comment, extra) MTIME=0 XFL=0 (levels 2-8) OS=3 (Unix)
  assertEquals([...packed.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  assertEquals(view.getUint32(packed.byteLength - 8, true), crc32(data));
  assertEquals(view.getUint32(packed.byteLength - 4, true), data.byteLength);
  // DecompressionStream stops after the first member (deps.md §6), so reading everything
  // proves a single member: what the kernel's initramfs unpacker needs, since it requires each
  // compressed member to end on a cpio entry boundary.
  const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
  assertEquals(sha256(await collectBytes(stream)), sha256(data));
  const listed = new TextDecoder().decode(await toolOk(["gzip", "-lv"], packed));
  ok(/defla/.test(listed), listed);
  const level9 = await collectBytes(
    compress(systemRunner, "gzip", chunked(data, 1 << 20), { level: 9 }),
  );
  assertEquals(level9[8], 2);
  const level1 = await collectBytes(
    compress(systemRunner, "gzip", chunked(data, 1 << 20), { level: 1 }),
  );
  assertEquals(level1[8], 4);
  ok(level1.byteLength > level9.byteLength);
});

Deno.test("gzip: independent blocks cost under 1% against one node:zlib stream", async () => {
  const data = LARGE.subarray(GZIP_BLOCK_SIZE * 3, GZIP_BLOCK_SIZE * 15);
  const ours = await collectBytes(compress(systemRunner, "gzip", chunked(data, 1 << 20)));
  const oneStream = gzipSync(data, { level: 6 });
  ok(
    ours.byteLength <= oneStream.byteLength * 1.01,
    `${ours.byteLength} vs ${oneStream.byteLength}`,
  );
  // Deno's zlib is Chromium's, a little weaker than GNU gzip's at level 6 (deps.md §6: ~3%).
  const gnu = await toolOk(["gzip", "-6", "-c", "-n"], data);
  ok(ours.byteLength <= gnu.byteLength * 1.05, `${ours.byteLength} vs GNU ${gnu.byteLength}`);
});

// ---------------------------------------------------------------------------------------------
// determinism

Deno.test("output bytes do not depend on thread count or input chunking", async () => {
  const data = TEXT.subarray(0, 9 * GZIP_BLOCK_SIZE + 4321);
  // bzip2 has no threads and no blocks to cut: its output is fixed by the level alone.
  for (const kind of ["gzip", "zstd", "xz"] as const) {
    const level = kind === "xz" ? 1 : undefined;
    const one = await collectBytes(
      compress(systemRunner, kind, chunked(data, 1 << 20), { threads: 1, level }),
    );
    const two = await collectBytes(
      compress(systemRunner, kind, chunked(data, 4097), { threads: 2, level }),
    );
    const auto = await collectBytes(compress(systemRunner, kind, chunked(data, 65_536), { level }));
    assertEquals(sha256(two), sha256(one), `${kind}: threads 1 vs 2`);
    assertEquals(sha256(auto), sha256(one), `${kind}: threads 1 vs default`);
  }
  // gzip fed in tiny pieces across a block boundary
  const small = noise(GZIP_BLOCK_SIZE + 300, 3);
  assertEquals(
    sha256(await collectBytes(compress(systemRunner, "gzip", chunked(small, 7)))),
    sha256(
      await collectBytes(compress(systemRunner, "gzip", chunked(small, GZIP_BLOCK_SIZE + 300))),
    ),
  );
});

/** Random bytes where every 64-byte run ends with `copy` bytes seen just before: weak matches. */
function weaklyCompressible(length: number, seed: number, copy: number): Uint8Array {
  const out = noise(length, seed);
  for (let index = 64; index + 64 <= length; index += 64) {
    out.copyWithin(index + 64 - copy, index - copy - 7, index - 7);
  }
  return out;
}

/** One gzip block made of four quarters; blockLevel's four probes fall one in each. */
function quarters(...parts: Array<(length: number, seed: number) => Uint8Array>): Uint8Array {
  const quarter = GZIP_BLOCK_SIZE / 4;
  const out = new Uint8Array(GZIP_BLOCK_SIZE);
  parts.forEach((part, index) => out.set(part(quarter, index + 1), index * quarter));
  return out;
}

Deno.test("gzip level per block: stored when incompressible, the default moved where it pays", async () => {
  const random = (length: number, seed: number) => noise(length, seed);
  const code = (length: number, seed: number) => weaklyCompressible(length, seed, 32);
  const weak = (length: number, seed: number) => weaklyCompressible(length, seed, 16);
  const printable = (length: number, seed: number) =>
    weaklyCompressible(length, seed, 16).map((byte) => 0x20 + (byte % 95));
  const words = (length: number) => text(length);
  const cases: Array<[string, Uint8Array, number, number]> = [
    // name, block, level chosen by the default (adaptive 4), level chosen for an explicit 6
    ["random", quarters(random, random, random, random), 0, 0],
    ["binary that shrinks well: one level up", quarters(code, code, code, code), 5, 6],
    ["binary that shrinks little: as it is", quarters(weak, weak, weak, weak), 4, 6],
    ["three random quarters, one weak", quarters(random, random, random, weak), 4, 6],
    ["text that shrinks well: as it is", quarters(words, words, words, words), 4, 6],
    [
      "text that shrinks little: two levels down",
      quarters(printable, printable, printable, printable),
      2,
      6,
    ],
    ["text, one random quarter: one level down", quarters(random, words, words, words), 3, 6],
  ];
  for (const [name, block, adaptive, explicit] of cases) {
    assertEquals(blockLevel(block, 4, true, deflateRawSync), adaptive, name);
    assertEquals(blockLevel(block, 6, false, deflateRawSync), explicit, name);
  }
  // Below four probes' worth the level stands: a short tail block is never stored.
  assertEquals(blockLevel(noise(32_767, 3), 4, true, deflateRawSync), 4);

  // End to end: the default and an explicit level 4 differ, both read back whole, and the
  // calling thread (a one-block stream) chooses exactly as the Workers do.
  const data = new Uint8Array(cases.length * GZIP_BLOCK_SIZE);
  cases.forEach(([, block], index) => data.set(block, index * GZIP_BLOCK_SIZE));
  const byDefault = await collectBytes(compress(systemRunner, "gzip", chunked(data, 65_536)));
  const level4 = await collectBytes(
    compress(systemRunner, "gzip", chunked(data, 65_536), { level: 4 }),
  );
  ok(sha256(byDefault) !== sha256(level4), "the default moves some blocks off level 4");
  assertEquals(new Uint8Array(gunzipSync(byDefault)), data);
  assertEquals(new Uint8Array(gunzipSync(level4)), data);
  const workers = startGzipWorkers(2);
  try {
    for (const [name, block] of cases) {
      assertEquals(
        sha256(
          await collectBytes(compress(systemRunner, "gzip", chunked(block, 4096), { workers })),
        ),
        sha256(await collectBytes(compress(systemRunner, "gzip", chunked(block, 4096)))),
        name,
      );
    }
  } finally {
    workers.close();
  }
});

Deno.test("gzip with Workers started ahead: same bytes, and they serve stream after stream", async () => {
  const data = TEXT.subarray(0, 3 * GZIP_BLOCK_SIZE + 99);
  const expected = sha256(
    await collectBytes(compress(systemRunner, "gzip", chunked(data, 65_536))),
  );
  const workers = startGzipWorkers(2);
  try {
    for (const size of [1, GZIP_BLOCK_SIZE + 99, data.byteLength]) {
      const part = data.subarray(0, size);
      const viaWorkers = await collectBytes(
        compress(systemRunner, "gzip", chunked(part, 4096), { workers }),
      );
      assertEquals(
        sha256(viaWorkers),
        sha256(await collectBytes(compress(systemRunner, "gzip", chunked(part, 4096)))),
      );
      assertEquals(new Uint8Array(gunzipSync(viaWorkers)), part);
    }
    assertEquals(
      sha256(await collectBytes(compress(systemRunner, "gzip", chunked(data, 777), { workers }))),
      expected,
    );
    // A stream given up half-way leaves blocks in the Workers; the next stream is not confused.
    let taken = 0;
    const other = noise(data.byteLength, 11);
    for await (
      const _ of compress(systemRunner, "gzip", chunked(other, GZIP_BLOCK_SIZE), { workers })
    ) {
      if (++taken === 2) break;
    }
    assertEquals(
      sha256(await collectBytes(compress(systemRunner, "gzip", chunked(data, 4096), { workers }))),
      expected,
    );
  } finally {
    workers.close();
  }
  throws(() => startGzipWorkers(0), /thread count 0 is not an integer from 1 to 1024/);
});

Deno.test("xz: same bytes as `xz -T0 --check=crc32` (multi-threaded mode, CRC32 for the kernel)", async () => {
  const data = TEXT.subarray(0, 8 * 1024 * 1024);
  const ours = await collectBytes(
    compress(systemRunner, "xz", chunked(data, 1 << 20), { level: 1, threads: 1 }),
  );
  const theirs = await toolOk(["xz", "-1", "-T0", "--check=crc32", "-c"], data);
  assertEquals(sha256(ours), sha256(theirs));
  // `xz --list` needs a seekable file.
  const path = await Deno.makeTempFile({ suffix: ".xz" });
  try {
    await Deno.writeFile(path, ours);
    const listed = await new Deno.Command("xz", { args: ["--robot", "--list", path] }).output();
    const robot = new TextDecoder().decode(listed.stdout);
    ok(/^file\t1\t\d+\t/m.test(robot) && /\tCRC32\t/.test(robot), robot);
    const blocks = Number(robot.match(/^file\t1\t(\d+)\t/m)![1]);
    ok(blocks >= 2, `multi-threaded mode writes several blocks, got ${blocks}`);
  } finally {
    await Deno.remove(path);
  }
});

// ---------------------------------------------------------------------------------------------
// decompress at every chunk size

Deno.test("decompress: gzip and none fed at every chunk size 1..1025", async () => {
  const data = text(6000);
  const gzip = await collectBytes(compress(systemRunner, "gzip", chunked(data, 6000)));
  const twoMembers = new Uint8Array(gzip.byteLength * 2);
  twoMembers.set(gzip);
  twoMembers.set(gzip, gzip.byteLength);
  const doubled = new Uint8Array(12_000);
  doubled.set(data);
  doubled.set(data, 6000);
  for (let size = 1; size <= 1025; size++) {
    assertEquals(
      await collectBytes(decompress(systemRunner, chunked(gzip, size))),
      data,
      `gzip at ${size}`,
    );
    assertEquals(
      await collectBytes(decompress(systemRunner, chunked(data, size))),
      data,
      `none at ${size}`,
    );
  }
  for (const size of [1, 2, 3, 17, 1024]) {
    // Multi-member input (GNU gzip and pigz -i write these; cat of two .gz files too).
    assertEquals(
      await collectBytes(decompress(systemRunner, chunked(twoMembers, size))),
      doubled,
      `2 members`,
    );
  }
});

Deno.test("decompress: zstd, xz and bzip2 fed at odd chunk sizes", async () => {
  const data = text(50_000);
  for (const kind of ["zstd", "xz", "bzip2"] as const) {
    const packed = await collectBytes(compress(systemRunner, kind, chunked(data, 50_000)));
    for (const size of [1, 2, 5, 6, 7, 1025, 65_537]) {
      assertEquals(
        await collectBytes(decompress(systemRunner, chunked(packed, size))),
        data,
        `${kind} at ${size}`,
      );
    }
  }
  // gzip written by GNU gzip (with a name in the header) and by pigz
  for (const argv of [["gzip", "-c"], ["pigz", "-c", "-p", "2"]]) {
    const packed = await toolOk(argv, data);
    assertEquals(await collectBytes(decompress(systemRunner, chunked(packed, 7))), data, argv[0]);
  }
});

// ---------------------------------------------------------------------------------------------
// hostile and broken input

function flipMiddle(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[Math.floor(copy.byteLength / 2)]! ^= 0x55;
  return copy;
}

function withTrailer(bytes: Uint8Array, trailer: number[]): Uint8Array {
  const out = new Uint8Array(bytes.byteLength + trailer.length);
  out.set(bytes);
  out.set(trailer, bytes.byteLength);
  return out;
}

const BROKEN_REASONS: Record<Exclude<Compression, "none">, Record<string, RegExp>> = {
  gzip: {
    truncated: /unexpected end of file/,
    corrupt: /incorrect data check|invalid/,
    garbage: /incorrect header check/,
  },
  zstd: { truncated: /premature end/, corrupt: /checksum|corrupt|error/i, garbage: /unsupported/ },
  xz: { truncated: /Unexpected end of input/, corrupt: /corrupt/, garbage: /Unexpected end/ },
  bzip2: {
    truncated: /ends unexpectedly/,
    corrupt: /integrity error/,
    garbage: /trailing garbage/,
  },
};

for (const kind of ["gzip", "zstd", "xz", "bzip2"] as const) {
  Deno.test(`${kind}: truncated, corrupt and trailing-garbage input give IntegrityError`, async () => {
    const data = LARGE.subarray(GZIP_BLOCK_SIZE * 3, GZIP_BLOCK_SIZE * 4 + 777);
    const packed = await collectBytes(compress(systemRunner, kind, chunked(data, 1 << 20)));
    const cases: Record<string, Uint8Array> = {
      truncated: packed.subarray(0, packed.byteLength - 13),
      corrupt: flipMiddle(packed),
      garbage: withTrailer(packed, [1, 2, 3, 4, 5, 6, 7]),
    };
    for (const [label, bad] of Object.entries(cases)) {
      await rejects(
        collectBytes(decompress(systemRunner, chunked(bad, 8191))),
        (error: unknown) => {
          ok(error instanceof IntegrityError, `${kind} ${label}: ${error}`);
          ok(error.message.startsWith(`Cannot decompress ${kind} data: `), error.message);
          ok(
            BROKEN_REASONS[kind][label]!.test(error.message),
            `${kind} ${label}: ${error.message}`,
          );
          return true;
        },
      );
    }
  });
}

Deno.test("an error from the input stream reaches the consumer, for Workers and tools alike", async () => {
  class SourceFailed extends Error {}
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield LARGE.subarray(0, 3 * GZIP_BLOCK_SIZE);
    throw new SourceFailed("disk read failed");
  }
  for (const kind of ["gzip", "zstd", "xz", "bzip2", "none"] as const) {
    await rejects(
      collectBytes(compress(systemRunner, kind, failing(), { level: 1 })),
      SourceFailed,
      kind,
    );
  }
  await rejects(collectBytes(decompress(systemRunner, failing())), SourceFailed, "decompress none");
  async function* gzipThenFail(): AsyncGenerator<Uint8Array> {
    yield (await collectBytes(compress(systemRunner, "gzip", chunked(text(10_000), 10_000))))
      .subarray(
        0,
        100,
      );
    throw new SourceFailed("network down");
  }
  await rejects(
    collectBytes(decompress(systemRunner, gzipThenFail())),
    SourceFailed,
    "decompress gzip",
  );
});

Deno.test("compressToFile: the same bytes as compress(), for zstd (written by the tool) and the rest", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = TEXT.subarray(0, 2 * GZIP_BLOCK_SIZE + 12_345);
    for (const kind of ["zstd", "gzip", "xz", "none"] as const) {
      const level = kind === "xz" ? 1 : undefined;
      const path = `${dir}/out.${kind}`;
      const size = await compressToFile(systemRunner, kind, chunked(data, 65_536), path, { level });
      const expected = await collectBytes(
        compress(systemRunner, kind, chunked(data, 65_536), { level }),
      );
      const written = await Deno.readFile(path);
      assertEquals(size, written.byteLength, kind);
      assertEquals(sha256(written), sha256(expected), kind);
    }
    // Past the writeback step (8 MiB) the file is flushed while it is written: same bytes, and
    // a source failing after a flush began still leaves nothing behind.
    const large = noise(12 * GZIP_BLOCK_SIZE + 3, 21); // stored blocks: gzip is as large
    for (const kind of ["gzip", "none"] as const) {
      const size = await compressToFile(
        systemRunner,
        kind,
        chunked(large, 1 << 20),
        `${dir}/large.${kind}`,
      );
      const expected = await collectBytes(compress(systemRunner, kind, chunked(large, 1 << 20)));
      ok(size > 8 * GZIP_BLOCK_SIZE, kind);
      assertEquals(sha256(await Deno.readFile(`${dir}/large.${kind}`)), sha256(expected), kind);
    }
    const failsLate = async function* (): AsyncGenerator<Uint8Array> {
      yield* chunked(large, 1 << 20);
      throw new Error("disk read failed late");
    };
    await rejects(
      compressToFile(systemRunner, "none", failsLate(), `${dir}/late`),
      /disk read failed late/,
    );
    await rejects(Deno.stat(`${dir}/late`), Deno.errors.NotFound);
    // An existing file is never overwritten, whoever writes it.
    for (const kind of ["zstd", "gzip"] as const) {
      await Deno.writeTextFile(`${dir}/taken`, "keep");
      await rejects(
        compressToFile(systemRunner, kind, chunked(data, 4096), `${dir}/taken`),
        Error,
        kind,
      );
      assertEquals(await Deno.readTextFile(`${dir}/taken`), "keep", kind);
    }
    // A directory that is not there: the system's message, not zstd 1.5.4's crash.
    await rejects(
      compressToFile(systemRunner, "zstd", chunked(data, 4096), `${dir}/missing/out.zst`),
      Deno.errors.NotFound,
    );
    // A failing input kills the tool and reaches the caller.
    class SourceFailed extends Error {}
    const failing = async function* (): AsyncGenerator<Uint8Array> {
      yield data.subarray(0, 1 << 20);
      throw new SourceFailed("disk read failed");
    };
    for (const kind of ["zstd", "gzip"] as const) {
      await rejects(
        compressToFile(systemRunner, kind, failing(), `${dir}/failed.${kind}`),
        SourceFailed,
        kind,
      );
      // Nothing half-written stays behind.
      await rejects(Deno.stat(`${dir}/failed.${kind}`), Deno.errors.NotFound, kind);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stopping early ends Workers and child processes (no leaks under the sanitizers)", async () => {
  for (const kind of ["gzip", "zstd", "xz", "bzip2"] as const) {
    let chunks = 0;
    for await (const _ of compress(systemRunner, kind, chunked(TEXT, 1 << 20), { level: 1 })) {
      if (++chunks === 2) break;
    }
    ok(chunks === 2, kind);
  }
  const packed = await collectBytes(
    compress(systemRunner, "xz", chunked(TEXT.subarray(0, 4 << 20), 1 << 20), {
      level: 0,
    }),
  );
  for await (const _ of decompress(systemRunner, chunked(packed, 1000))) break;
});

Deno.test("gzip keeps a bounded number of blocks in flight (backpressure)", async () => {
  const threads = 2;
  let produced = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    const block = text(GZIP_BLOCK_SIZE);
    for (let index = 0; index < 40; index++) {
      produced++;
      yield block;
    }
  }
  let received = 0;
  let worstLead = 0;
  for await (const _ of compress(systemRunner, "gzip", source(), { threads, level: 1 })) {
    received++;
    // Chunk 0 is the header; chunk k >= 1 is block k - 1. A slow consumer:
    await new Promise((resolve) => setTimeout(resolve, 2));
    worstLead = Math.max(worstLead, produced - received);
  }
  // 2 per thread in flight + the block being cut + one read ahead by the generator.
  ok(worstLead <= 2 * threads + 2, `producer ran ${worstLead} blocks ahead`);
  assertEquals(produced, 40);
});

Deno.test("bad levels and thread counts are refused with a clear message", () => {
  throws(
    () => compress(systemRunner, "gzip", chunked(new Uint8Array(1), 1), { level: 12 }),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      error.message === "Cannot compress with gzip: level 12 is not an integer from 1 to 9.",
  );
  throws(
    () => compress(systemRunner, "zstd", chunked(new Uint8Array(1), 1), { level: 0 }),
    InvalidInputError,
  );
  throws(
    () => compress(systemRunner, "xz", chunked(new Uint8Array(1), 1), { level: 2.5 }),
    InvalidInputError,
  );
  throws(
    () => compress(systemRunner, "gzip", chunked(new Uint8Array(1), 1), { threads: 0 }),
    /thread count 0 is not an integer from 1 to 1024/,
  );
});

Deno.test("a missing tool is an ExternalCommandError naming it", async () => {
  const path = Deno.env.get("PATH")!;
  const empty = await Deno.makeTempDir();
  Deno.env.set("PATH", empty);
  try {
    await rejects(
      collectBytes(compress(systemRunner, "xz", chunked(text(100), 100))),
      (error: unknown) =>
        error instanceof ExternalCommandError && error.message === "Command xz does not exist.",
    );
  } finally {
    Deno.env.set("PATH", path);
    await Deno.remove(empty);
  }
});

// ---------------------------------------------------------------------------------------------
// bundling

Deno.test("Workers run inside a `deno bundle` file started from an empty directory", async () => {
  const work = await Deno.makeTempDir({ prefix: "osimg-bundle-" });
  try {
    const entry = `${work}/entry.ts`;
    await Deno.writeTextFile(
      entry,
      `import { compress } from ${JSON.stringify(import.meta.resolve("./compress.ts"))};\n` +
        `import { systemRunner } from ${JSON.stringify(import.meta.resolve("../process.ts"))};\n` +
        `const data = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 31 + (i >> 12)) & 0xff);\n` +
        `async function* once() { yield data; }\n` +
        `const parts = [];\n` +
        `for await (const part of compress(systemRunner, "gzip", once(), { threads: 2 })) parts.push(part);\n` +
        `await Deno.stdout.write(new Uint8Array(await new Blob(parts).arrayBuffer()));\n`,
    );
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform=deno", "-o", `${work}/osimg-test.js`, entry],
      cwd: work,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(bundled.code, 0, new TextDecoder().decode(bundled.stderr));
    const empty = `${work}/empty`;
    await Deno.mkdir(empty);
    await Deno.mkdir(`${work}/deno-dir`);
    await Deno.rename(`${work}/osimg-test.js`, `${empty}/osimg-test.js`);
    await Deno.remove(entry);
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "osimg-test.js"],
      cwd: empty,
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH")!, DENO_DIR: `${work}/deno-dir`, HOME: work },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
    const data = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 31 + (i >> 12)) & 0xff);
    assertEquals(sha256(await toolOk(["gzip", "-dc"], run.stdout)), sha256(data));
    const here = await collectBytes(
      compress(systemRunner, "gzip", chunked(data, data.byteLength), { threads: 2 }),
    );
    assertEquals(sha256(run.stdout), sha256(here));
    assertEquals([...Deno.readDirSync(empty)].map((entry) => entry.name), ["osimg-test.js"]);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
