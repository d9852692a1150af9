// Parallel gzip: ONE gzip member made of independently deflated 1 MiB blocks (as pigz writes it),
// the blocks deflated by a pool of Workers; the same bytes whatever the core count.

import { constants as zlibConstants, crc32, deflateRawSync } from "node:zlib";
import {
  blockLevel,
  DEFLATE_WORKER_SOURCE,
  type DeflateJob,
  type DeflateResult,
} from "./compress_worker.ts";
import { checkThreads } from "./compressors.ts";
import { crc32Combine } from "./crc32_combine.ts";
import {
  BATCH_SIZE,
  batchBuffer,
  isWholeBatch,
  recycleBatch,
} from "../../formats/archive/archive_stream.ts";

/**
 * gzip input is cut into blocks of this many bytes, each deflated by a Worker. A constant, never
 * derived from the core count, so the output is the same on every machine. 1 MiB keeps memory low
 * (two blocks in flight per thread) and loses nothing measurable to larger blocks (deps.md §6).
 */
export const GZIP_BLOCK_SIZE = 1024 * 1024;

function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** RFC 1952 header: no name, mtime 0, XFL as gzip sets it for the level, OS 3 (Unix). */
function gzipHeader(level: number): Uint8Array {
  const extraFlags = level === 9 ? 2 : level === 1 ? 4 : 0;
  return new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, extraFlags, 3]);
}

/** An empty final fixed-Huffman block (BFINAL=1, BTYPE=01, end-of-block): ends the stream. */
const FINAL_DEFLATE_BLOCK = new Uint8Array([0x03, 0x00]);

/**
 * Starts deflate Workers before there is data for them: a Worker takes ~70 ms to start, which
 * packimage overlaps with its own setup instead of making the first blocks wait. The caller
 * passes them as `workers` to compress() and closes them when done.
 */
export function startGzipWorkers(threads?: number): GzipWorkers {
  if (threads !== undefined) checkThreads("gzip", threads);
  return new DeflatePool(Math.min(threads ?? defaultThreads(), 64));
}

/** Deflate Workers started by startGzipWorkers. */
export interface GzipWorkers {
  readonly size: number;
  close(): void;
}

export async function* compressGzip(
  input: AsyncIterable<Uint8Array>,
  level: number,
  adaptive: boolean,
  threads: number | undefined,
  prepared: GzipWorkers | undefined,
): AsyncGenerator<Uint8Array> {
  yield gzipHeader(level);
  let crc = 0;
  let length = 0;
  // Without prepared Workers the first block waits until a second exists: a stream of one block
  // (most small files) is compressed here, without starting Workers. Same bytes either way.
  let first: BlockJob | undefined;
  let pool = prepared as DeflatePool | undefined;
  const inFlight: Promise<DeflateDone>[] = [];
  try {
    for await (const block of fixedBlocks(input, GZIP_BLOCK_SIZE)) {
      const job: BlockJob = { data: block, level, adaptive };
      length += block.byteLength;
      if (pool === undefined) {
        if (first === undefined) {
          first = job;
          continue;
        }
        const size = Math.min(threads ?? defaultThreads(), 64);
        pool = new DeflatePool(size);
        inFlight.push(pool.run(first));
        first = undefined;
      }
      inFlight.push(pool.run(job));
      // Two blocks per thread in flight: every Worker always has its next block waiting.
      while (inFlight.length >= 2 * pool.size) {
        const done = await inFlight.shift()!;
        crc = crc32Combine(crc, done.crc, done.length);
        yield done.output;
      }
    }
    if (first !== undefined) {
      const done = deflateHere(first);
      crc = crc32Combine(crc, done.crc, done.length);
      yield done.output;
    }
    while (inFlight.length > 0) {
      const done = await inFlight.shift()!;
      crc = crc32Combine(crc, done.crc, done.length);
      yield done.output;
    }
  } finally {
    if (pool !== prepared) pool?.close();
  }
  const trailer = new Uint8Array(FINAL_DEFLATE_BLOCK.byteLength + 8);
  trailer.set(FINAL_DEFLATE_BLOCK);
  const view = new DataView(trailer.buffer);
  view.setUint32(FINAL_DEFLATE_BLOCK.byteLength, crc, true);
  // ISIZE is the length modulo 2^32 (RFC 1952); `length % 2 ** 32` is exact below 2^53.
  view.setUint32(FINAL_DEFLATE_BLOCK.byteLength + 4, length % 2 ** 32, true);
  yield trailer;
}

/** One block to deflate, before the pool gives it an id. */
type BlockJob = Omit<DeflateJob, "id">;

interface DeflateDone {
  output: Uint8Array;
  crc: number;
  length: number;
}

/** The Worker's computation, run in this thread (for a stream that fits in one block). */
function deflateHere(job: BlockJob): DeflateDone {
  // Exactly what DEFLATE_WORKER_SOURCE does.
  const output = deflateRawSync(job.data, {
    level: blockLevel(job.data, job.level, job.adaptive, deflateRawSync),
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
  });
  return { output, crc: crc32(job.data), length: job.data.byteLength };
}

/**
 * Re-cuts a byte stream into fresh blocks of exactly `size` bytes (the last may be shorter, never
 * empty). Each block owns its ArrayBuffer, so it can be transferred to a Worker: the caller's
 * chunks are copied, never detached, except a whole batch of the archive writers (isWholeBatch)
 * that arrives where a block starts, which is taken as it is (nothing else refers to it).
 */
export async function* fixedBlocks(
  input: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  const fresh = () => size === BATCH_SIZE ? batchBuffer() : new Uint8Array(size);
  let block = fresh();
  let filled = 0;
  for await (const chunk of input) {
    if (filled === 0 && chunk.byteLength === size && isWholeBatch(chunk)) {
      yield chunk as Uint8Array<ArrayBuffer>;
      continue;
    }
    let offset = 0;
    while (offset < chunk.byteLength) {
      const take = Math.min(size - filled, chunk.byteLength - offset);
      block.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === size) {
        yield block;
        block = fresh();
        filled = 0;
      }
    }
  }
  if (filled > 0) yield block.slice(0, filled);
  recycleBatch(block);
}

/** A fixed set of deflate Workers, fed from one queue, answering each job by its id. */
class DeflatePool implements GzipWorkers {
  readonly size: number;
  readonly #url: string;
  readonly #workers: Worker[] = [];
  readonly #idle: Worker[] = [];
  readonly #queue: DeflateJob[] = [];
  #nextId = 0;
  readonly #pending = new Map<
    number,
    { length: number; resolve: (done: DeflateDone) => void; reject: (error: Error) => void }
  >();
  #closed = false;

  constructor(size: number) {
    this.size = size;
    this.#url = URL.createObjectURL(
      new Blob([DEFLATE_WORKER_SOURCE], { type: "text/javascript" }),
    );
    for (let index = 0; index < size; index++) {
      const worker = new Worker(this.#url, { type: "module", name: `osimg-deflate-${index}` });
      worker.onmessage = (event: MessageEvent<DeflateResult>) => this.#answer(worker, event.data);
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#failAll(new Error(`gzip worker failed: ${event.message}`));
      };
      this.#workers.push(worker);
      this.#idle.push(worker);
    }
  }

  /**
   * Queues one block; the promise never goes unobserved, so a failure cannot crash the process.
   * Ids are the pool's own, so a stream given up half-way cannot confuse the next one's answers.
   */
  run(block: BlockJob): Promise<DeflateDone> {
    const promise = new Promise<DeflateDone>((resolve, reject) => {
      if (this.#closed) {
        reject(new Error("gzip worker pool is closed"));
        return;
      }
      const job: DeflateJob = { ...block, id: this.#nextId++ };
      this.#pending.set(job.id, { length: job.data.byteLength, resolve, reject });
      this.#queue.push(job);
      this.#dispatch();
    });
    promise.catch(() => {});
    return promise;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of this.#workers) worker.terminate();
    URL.revokeObjectURL(this.#url);
    this.#failAll(new Error("gzip worker pool is closed"));
  }

  #dispatch(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop()!;
      const job = this.#queue.shift()!;
      worker.postMessage(job, [job.data.buffer]);
    }
  }

  #answer(worker: Worker, result: DeflateResult): void {
    const pending = this.#pending.get(result.id);
    this.#pending.delete(result.id);
    this.#idle.push(worker);
    if (pending) {
      if ("error" in result) {
        pending.reject(new Error(`gzip worker failed: ${result.error}`));
      } else {
        recycleBatch(result.input);
        pending.resolve({ output: result.output, crc: result.crc, length: pending.length });
      }
    }
    this.#dispatch();
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    this.#queue.length = 0;
  }
}
