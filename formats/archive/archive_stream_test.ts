// Tests for formats/archive/archive_stream.ts's output side: contents read straight into the writers'
// batches (FileContent.openSync) and the whole batches compress() takes without a copy.

import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { compress, fixedBlocks, GZIP_BLOCK_SIZE } from "../../core/compress/compress.ts";
import { systemRunner } from "../../core/process.ts";
import { walkTree } from "../../core/tree/walk.ts";
import { BATCH_SIZE, batchBuffer, isWholeBatch, recycleBatch } from "./archive_stream.ts";
import { cpioStream } from "./cpio_newc.ts";
import { baseMeta, bytesContent, type Entry } from "./entry.ts";
import { tarStream } from "./tar.ts";

const WRITERS = { cpio: cpioStream, tar: tarStream };

/** The walker's entries, and the same entries with contents that can only be streamed. */
async function bothWays(root: string): Promise<[Entry[], Entry[]]> {
  const direct: Entry[] = [];
  for await (const entry of walkTree(root, { xattrs: false })) direct.push(entry);
  ok(direct.some((entry) => entry.kind === "file" && entry.content.openSync !== undefined));
  const streamed = direct.map((entry): Entry =>
    entry.kind === "file"
      ? { ...entry, content: { size: entry.content.size, open: () => entry.content.open() } }
      : entry
  );
  return [direct, streamed];
}

async function chunksOf(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function digest(chunks: Uint8Array[]): string {
  const hash = createHash("sha256");
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest("hex");
}

async function* replay(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

Deno.test("writers read walker contents straight into whole batches: same bytes as streamed", async () => {
  const root = await Deno.makeTempDir();
  try {
    const sizes = [0, 1, 4095, 100_000, BATCH_SIZE - 200, BATCH_SIZE + 3, 3 * BATCH_SIZE + 512];
    for (const [index, size] of sizes.entries()) {
      const bytes = new Uint8Array(size);
      for (let offset = 0; offset < size; offset++) bytes[offset] = (offset * 31 + index) & 0xff;
      await Deno.writeFile(`${root}/file${index}`, bytes);
    }
    const [direct, streamed] = await bothWays(root);
    for (const [name, write] of Object.entries(WRITERS)) {
      const fast = await chunksOf(write(direct));
      const slow = await chunksOf(write(streamed));
      assertEquals(digest(fast), digest(slow), name);
      // Every chunk but the last is one whole batch, marked so compress() may take it.
      ok(fast.slice(0, -1).every((chunk) => isWholeBatch(chunk)), `${name}: unmarked batch`);
      ok(fast.slice(0, -1).every((chunk) => chunk.byteLength === BATCH_SIZE), name);
      ok(!isWholeBatch(fast.at(-1)!), `${name}: the partial last chunk is not whole`);
      ok(!slow.some((chunk) => isWholeBatch(chunk) && chunk.buffer.byteLength !== BATCH_SIZE));

      // fixedBlocks passes whole batches on as they are (no copy) and copies everything else.
      assertEquals(GZIP_BLOCK_SIZE, BATCH_SIZE);
      const blocks = await chunksOf(fixedBlocks(replay(fast), GZIP_BLOCK_SIZE));
      assertEquals(blocks.length, fast.length);
      blocks.forEach((block, index) => ok(block === fast[index] || index === fast.length - 1));
      assertEquals(digest(blocks), digest(slow));
    }
    const plain = new Uint8Array(GZIP_BLOCK_SIZE).fill(7);
    const [copy] = await chunksOf(fixedBlocks(replay([plain]), GZIP_BLOCK_SIZE));
    ok(copy !== plain && copy!.buffer !== plain.buffer, "a caller's own chunk is copied");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writers reading straight from a file that shrank fail, naming the file", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${root}/shrinks`, new Uint8Array(3 * BATCH_SIZE));
    const [direct] = await bothWays(root);
    await Deno.truncate(`${root}/shrinks`, BATCH_SIZE + 10);
    for (const [name, write] of Object.entries(WRITERS)) {
      await rejects(
        chunksOf(write(direct)),
        /File "shrinks" changed while being read: expected 3145728 bytes, found 1048586\./,
        name,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("batch buffers come back from the deflate Workers and are reused; old bytes never leak", async () => {
  // Many small members: headers, names and padding are written into reserved space, which must
  // be zero whatever the reused buffer held before.
  const entries: Entry[] = [];
  for (let index = 0; index < 3000; index++) {
    const bytes = new TextEncoder().encode(`member ${index}\n`.repeat(index % 7));
    entries.push({
      ...baseMeta(`dir/file-${index}`, 0o644),
      kind: "file",
      content: bytesContent(bytes),
    });
  }
  const expected: Record<string, string> = {};
  for (const [name, write] of Object.entries(WRITERS)) {
    expected[name] = digest((await chunksOf(write(entries))).map((chunk) => chunk.slice()));
  }
  // Dirty spares, as a Worker hands them back after compressing random data.
  const dirty = () => {
    for (let index = 0; index < 16; index++) recycleBatch(new Uint8Array(BATCH_SIZE).fill(0xa5));
  };
  for (const [name, write] of Object.entries(WRITERS)) {
    dirty();
    assertEquals(digest(await chunksOf(write(entries))), expected[name], name);
    dirty();
    // Through the Workers: blocks go out, come back, are reused by the next batches.
    const gzipped = await chunksOf(compress(systemRunner, "gzip", write(entries), { threads: 2 }));
    const whole = new Uint8Array(gzipped.reduce((sum, chunk) => sum + chunk.byteLength, 0));
    gzipped.reduce((offset, chunk) => (whole.set(chunk, offset), offset + chunk.byteLength), 0);
    assertEquals(digest([new Uint8Array(gunzipSync(whole))]), expected[name], `${name} gzip`);
  }
  // What the Workers returned is in the spare list: a buffer with an earlier stream's bytes.
  const reused = batchBuffer();
  ok(reused.some((byte) => byte !== 0), "a Worker's block came back for reuse");
  // Only whole BATCH_SIZE buffers of their own are kept, each once.
  recycleBatch(reused);
  recycleBatch(reused);
  ok(batchBuffer() === reused);
  ok(batchBuffer() !== reused);
  recycleBatch(new Uint8Array(BATCH_SIZE * 2).subarray(0, BATCH_SIZE));
  recycleBatch(new Uint8Array(100) as Uint8Array<ArrayBuffer>);
  while (true) {
    const next = batchBuffer();
    assertEquals(next.buffer.byteLength, BATCH_SIZE);
    if (next.every((byte) => byte === 0)) break; // a new one: the spares are used up
  }
});
