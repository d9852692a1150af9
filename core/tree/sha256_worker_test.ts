import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Sha256Worker } from "./sha256_worker.ts";
import { OrderedDigests } from "./safe_extract.ts";

function expected(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function pseudoRandom(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let index = 0; index < length; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

Deno.test("Sha256Worker: interleaved streams in uneven chunks give node:crypto's digests", async () => {
  const hasher = new Sha256Worker(64 * 1024);
  try {
    const inputs = [0, 1, 1000, 65_536, 3 * 1024 * 1024 + 7].map((size, k) =>
      pseudoRandom(size, k)
    );
    const streams = inputs.map(() => hasher.stream());
    const offsets = inputs.map(() => 0);
    let step = 1;
    while (offsets.some((offset, k) => offset < inputs[k]!.byteLength)) {
      for (const [k, input] of inputs.entries()) {
        if (offsets[k]! >= input.byteLength) continue;
        const size = (step++ * 7919) % 200_000 + 1;
        const chunk = input.subarray(offsets[k]!, offsets[k]! + size);
        streams[k]!.update(chunk);
        offsets[k]! += chunk.byteLength;
        await hasher.ready();
      }
    }
    const digests = await Promise.all(streams.map((stream) => stream.digest()));
    assert.deepEqual(digests, inputs.map(expected));
  } finally {
    hasher.close();
  }
});

Deno.test("Sha256Worker: chunks are copied, so the caller may overwrite its buffer at once", async () => {
  const hasher = new Sha256Worker();
  try {
    const buffer = new Uint8Array(4096).fill(1);
    const stream = hasher.stream();
    stream.update(buffer);
    buffer.fill(2);
    stream.update(buffer);
    const whole = new Uint8Array(8192).fill(1);
    whole.fill(2, 4096);
    assert.equal(await stream.digest(), expected(whole));
  } finally {
    hasher.close();
  }
});

Deno.test("Sha256Worker: digests not yet answered reject when it is closed", async () => {
  const hasher = new Sha256Worker();
  const stream = hasher.stream();
  stream.update(new Uint8Array(1024));
  const digest = stream.digest();
  hasher.close();
  await assert.rejects(digest, /SHA-256 worker is closed/);
  assert.throws(() => hasher.stream().update(new Uint8Array(1)), /closed/);
});

Deno.test("OrderedDigests: delivers in the order added, each as soon as all before it are known", async () => {
  const delivered: string[] = [];
  const ordered = new OrderedDigests((path) => {
    delivered.push(path);
  });
  let release!: (sha256: string) => void;
  const slow = new Promise<string>((resolve) => release = resolve);
  ordered.add("a", { size: 1, sha256: Promise.resolve("1") });
  const b = ordered.add("b", { size: 2, sha256: slow });
  ordered.add("c", { size: 3, sha256: Promise.resolve("3") });
  ordered.add("b-link", b);
  await new Promise((resolve) => setTimeout(resolve, 0));
  await ordered.deliverReady();
  assert.deepEqual(delivered, ["a"]);
  release("2");
  await ordered.deliverAll();
  assert.deepEqual(delivered, ["a", "b", "c", "b-link"]);
  assert.deepEqual(await b, { size: 2, sha256: "2" });
});
