// Streaming compression and decompression: parallel gzip in Workers, zstd/xz/bzip2 through their
// tools, detection by magic bytes. Output is byte-identical whatever the machine's core count.

import { spawnProgram } from "./process.ts";
import { constants as zlibConstants, crc32, createGunzip, deflateRawSync } from "node:zlib";
import type { Transform } from "node:stream";
import {
  blockLevel,
  DEFLATE_WORKER_SOURCE,
  type DeflateJob,
  type DeflateResult,
} from "./compress_worker.ts";
import { ExternalCommandError, IntegrityError, InvalidInputError } from "./errors.ts";
import { BATCH_SIZE, batchBuffer, isWholeBatch, recycleBatch } from "../formats/archive_stream.ts";

export type Compression = "gzip" | "zstd" | "xz" | "bzip2" | "none";

/** Every compression osimg writes and reads, in the order help texts list them. */
export const COMPRESSIONS: readonly Compression[] = ["gzip", "zstd", "xz", "bzip2", "none"];

export interface CompressOptions {
  /**
   * Compression level; defaults: gzip 4 (adaptive: blocks that compress poorly get 3 or 2, see
   * blockLevel), zstd 3, xz 6, bzip2 9. Part of the output's identity.
   */
  level?: number;
  /** Parallel workers (default: the machine's cores). Never changes the output bytes. */
  threads?: number;
  /**
   * gzip: Workers the caller started ahead of the data (see startGzipWorkers) and closes itself;
   * every block then goes to them at once. Never changes the output bytes.
   */
  workers?: GzipWorkers;
}

/** Level range and default per kind ("none" has no level). */
const LEVELS: Record<Exclude<Compression, "none">, { min: number; max: number; default: number }> =
  {
    // Level 4: the size budget (design: at most 4% over pigz -6) bought as speed. Measured on this
    // project's 2-core bench machine, one thread, 1 MiB blocks, against pigz -6: a Debian minbase
    // cpio (200 MB) level 3 +2.9% / level 4 +2.0% / level 5 +1.2% / level 6 +1.0%, a 1.1 GB /usr
    // tree level 3 +4.0% (over budget) / level 4 +2.7% / level 5 +1.7%; level 4 deflates ~12% faster
    // than 5 and ~20% faster than 6 (Chromium's zlib in Deno). The default (no level given) also
    // stores incompressible blocks and lowers poorly compressible ones to 3 or 2 (blockLevel).
    gzip: { min: 1, max: 9, default: 4 },
    zstd: { min: 1, max: 19, default: 3 },
    xz: { min: 0, max: 9, default: 6 },
    bzip2: { min: 1, max: 9, default: 9 },
  };

/**
 * gzip input is cut into blocks of this many bytes, each deflated by a Worker. A constant, never
 * derived from the core count, so the output is the same on every machine. 1 MiB keeps memory low
 * (two blocks in flight per thread) and loses nothing measurable to larger blocks (deps.md §6).
 */
export const GZIP_BLOCK_SIZE = 1024 * 1024;

/**
 * xz's dictionary size per preset (xz(1), "Presets"). The block size is set explicitly to xz's own
 * multi-threaded default, three times the dictionary, so the output matches `xz -T0` and never
 * depends on how many threads xz decides to run.
 */
const XZ_DICTIONARY_MIB = [0.25, 1, 2, 4, 4, 8, 8, 16, 32, 64];

/** Magic numbers, from each format's specification. */
const MAGIC: ReadonlyArray<readonly [Compression, readonly number[]]> = [
  ["gzip", [0x1f, 0x8b]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["bzip2", [0x42, 0x5a, 0x68]],
];

/** The file-name extension each compression's files carry (`rootimg.cpio.zst`, `x.tar.bz2`). */
export const EXTENSIONS: Readonly<Record<Exclude<Compression, "none">, string>> = {
  gzip: ".gz",
  zstd: ".zst",
  xz: ".xz",
  bzip2: ".bz2",
};

/** The compression a file name's extension promises, or undefined when it names none. */
export function compressionOfName(name: string): Exclude<Compression, "none"> | undefined {
  for (const [kind, extension] of Object.entries(EXTENSIONS)) {
    if (name.endsWith(extension)) return kind as Exclude<Compression, "none">;
  }
  return undefined;
}

/** The longest magic number: how many bytes detectCompression wants to see. */
export const MAGIC_LENGTH = 6;

/**
 * Which compression a stream uses, by its first bytes (give at least MAGIC_LENGTH when the
 * stream has them). Anything unrecognised, or too short to tell, is "none".
 *
 * @example
 * ```ts
 * detectCompression(new Uint8Array([0x1f, 0x8b, 8, 0])); // "gzip"
 * ```
 */
export function detectCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((byte, index) => head[index] === byte)) {
      return kind;
    }
  }
  return "none";
}

/**
 * Compresses a byte stream. gzip is ONE gzip member made of independently deflated 1 MiB blocks
 * (as pigz writes it) compressed by a pool of Workers; zstd and xz run their tools multi-threaded
 * in the mode whose output does not depend on the thread count (one zstd frame, one xz stream);
 * bzip2 runs `bzip2`. Input is read while earlier blocks compress, with a bounded number of
 * blocks in flight, so memory stays flat.
 *
 * Why one member / one frame and not many independent ones: the kernel's initramfs unpacker
 * (init/initramfs.c, unpack_to_rootfs) decompresses one member or frame per call and then fails
 * with "junk at the end of compressed archive" unless that member ended exactly on a cpio entry
 * boundary. Fixed-size independent members would cut entries at arbitrary points. Deno's zstd
 * cannot run multi-threaded (deps.md §6) and zstd blocks cannot be spliced into one frame
 * (repeat offsets carry across blocks), so zstd runs `zstd -T`, which also checks its input.
 *
 * @example
 * ```ts
 * for await (const chunk of compress("gzip", walkBytes, { level: 6 })) await out.write(chunk);
 * ```
 */
export function compress(
  kind: Compression,
  input: AsyncIterable<Uint8Array>,
  options: CompressOptions = {},
): AsyncIterable<Uint8Array> {
  const threads = checkThreads(kind, options.threads);
  switch (kind) {
    case "none":
      return input;
    case "gzip":
      return compressGzip(
        input,
        checkLevel(kind, options.level),
        options.level === undefined,
        threads,
        options.workers,
      );
    case "zstd": {
      const level = checkLevel(kind, options.level);
      // -T with any count >= 1 is zstd's multi-threaded mode, whose output is identical for every
      // count (unlike --single-thread); -T0 means one worker per core.
      return runFilter(
        ["zstd", `-${level}`, `-T${threads ?? 0}`, "-q", "-c"],
        input,
        compressFailure,
      );
    }
    case "xz": {
      const level = checkLevel(kind, options.level);
      const blockSize = Math.max(1, 3 * (XZ_DICTIONARY_MIB[level] ?? 8)) * 1024 * 1024;
      // --check=crc32: the kernel's xz decoder does not support xz's default CRC64 check.
      // "+1" keeps one thread in multi-threaded mode: a plain -T1 switches xz 5.4 to its
      // single-threaded encoder, which writes different bytes (xz(1), --threads).
      const threadArg = threads === 1 ? "+1" : String(threads ?? 0);
      return runFilter(
        [
          "xz",
          "--format=xz",
          "--check=crc32",
          `-${level}`,
          `--threads=${threadArg}`,
          `--block-size=${blockSize}`,
          "-q",
          "-c",
        ],
        input,
        compressFailure,
      );
    }
    case "bzip2":
      return runFilter(
        ["bzip2", `-${checkLevel(kind, options.level)}`, "-q", "-c"],
        input,
        compressFailure,
      );
  }
}

/**
 * compressToFile asks the system to write what it has so far every this many bytes (without
 * waiting), so the closing fsync has little left to do: ~50 ms less at the end of a 90 MB pack.
 */
const WRITEBACK_STEP = 8 * 1024 * 1024;

/**
 * Compresses `input` into a new file at `path` (which must not exist yet), flushed to disk, and
 * returns its size. zstd writes the file itself (`-o`), so the compressed bytes never pass
 * through this process: for a Debian minbase pack that was ~0.3 of 2 s. The other kinds stream
 * through compress(). Same bytes as compress() either way.
 *
 * @example
 * ```ts
 * const size = await compressToFile("zstd", cpioStream(entries), "/install/x/.rootimg.tmp");
 * ```
 */
export async function compressToFile(
  kind: Compression,
  input: AsyncIterable<Uint8Array>,
  path: string,
  options: CompressOptions = {},
): Promise<number> {
  if (kind === "zstd") {
    checkLevel(kind, options.level);
    checkThreads(kind, options.threads);
  }
  // Created here in every case: a name that exists, or a directory that refuses it, fails with
  // the system's own message (zstd 1.5.4 crashes when it cannot open its output).
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  try {
    if (kind === "zstd") {
      // zstd needs -f to write over the empty file osimg just made; it replaces it by a file of
      // its own (another inode), which is reopened by name to be measured and flushed.
      const argv = [
        "zstd",
        `-${checkLevel(kind, options.level)}`,
        `-T${options.threads ?? 0}`,
        "-q",
        "-f",
        "-o",
        path,
      ];
      for await (const _ of runFilter(argv, input, compressFailure, undefined, "file")) {
        // The tool writes `path`; nothing comes back.
      }
      using written = await Deno.open(path, { read: true, write: true });
      await written.sync();
      return (await written.stat()).size;
    }
    let size = 0;
    let flushedAt = 0;
    let flushing: Promise<unknown> | undefined;
    let flushError: unknown;
    for await (const chunk of compress(kind, input, options)) {
      let offset = 0;
      while (offset < chunk.byteLength) offset += await file.write(chunk.subarray(offset));
      size += chunk.byteLength;
      if (size - flushedAt >= WRITEBACK_STEP && flushing === undefined) {
        flushedAt = size;
        flushing = file.syncData()
          .catch((error) => flushError ??= error)
          .finally(() => flushing = undefined);
      }
    }
    await flushing;
    if (flushError !== undefined) throw flushError;
    await file.sync();
    return size;
  } catch (error) {
    // Nothing half-written stays behind.
    await Deno.remove(path).catch(() => {});
    throw error;
  } finally {
    file.close();
  }
}

/**
 * Decompresses a stream of any Compression, detected by magic bytes (anything else passes through
 * unchanged). gzip may have several members (GNU gzip, pigz and concatenated files all read).
 * Corrupt, truncated or trailing-garbage data becomes an IntegrityError naming the format.
 *
 * @example
 * ```ts
 * for await (const chunk of decompress(Deno.openSync("bundle.tgz").readable)) use(chunk);
 * ```
 */
export async function* decompress(
  input: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const iterator = input[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLength = 0;
  let ended = false;
  try {
    while (headLength < MAGIC_LENGTH) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        break;
      }
      if (next.value.byteLength === 0) continue;
      head.push(next.value);
      headLength += next.value.byteLength;
    }
    const kind = detectCompression(concatBytes(head, MAGIC_LENGTH));
    const whole = replay(head, iterator, ended);
    switch (kind) {
      case "none":
        yield* whole;
        return;
      case "gzip":
        // node:zlib's gunzip reads every member; DecompressionStream stops at the first (deps.md §6).
        yield* throughTransform(createGunzip({ chunkSize: 256 * 1024 }), whole, "gzip");
        return;
      case "zstd":
        // The zstd tool, not node:zlib: Deno's createZstdDecompress ends quietly on a truncated
        // frame and ignores trailing garbage (measured), and the tool is faster.
        yield* runFilter(["zstd", "-d", "-q", "-c"], whole, decompressFailure("zstd"));
        return;
      case "xz":
        yield* runFilter(["xz", "-d", "-q", "-c"], whole, decompressFailure("xz"));
        return;
      case "bzip2":
        // Without -q: bzip2 then says why it failed, and warns about trailing garbage.
        yield* runFilter(
          ["bzip2", "-d", "-c"],
          whole,
          decompressFailure("bzip2"),
          /trailing garbage/,
        );
        return;
    }
  } finally {
    if (!ended) await iterator.return?.();
  }
}

function checkLevel(kind: Exclude<Compression, "none">, level: number | undefined): number {
  const range = LEVELS[kind];
  if (level === undefined) return range.default;
  if (!Number.isInteger(level) || level < range.min || level > range.max) {
    throw new InvalidInputError(
      `Cannot compress with ${kind}: level ${level} is not an integer from ${range.min} to ${range.max}.`,
    );
  }
  return level;
}

function checkThreads(kind: Compression, threads: number | undefined): number | undefined {
  if (threads === undefined) return undefined;
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new InvalidInputError(
      `Cannot compress with ${kind}: thread count ${threads} is not an integer from 1 to 1024.`,
    );
  }
  return threads;
}

function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

// ---------------------------------------------------------------------------------------------
// gzip: one member, blocks deflated in parallel

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

async function* compressGzip(
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

// CRC-32 combination (the arithmetic of zlib's crc32_combine, written from the math): the CRC of
// A‖B is CRC(A) multiplied by x^(8·|B|) modulo the CRC polynomial, xor CRC(B). Polynomials are in
// the reflected bit order CRC-32 uses, where bit 31 holds x^0.
const CRC_POLYNOMIAL = 0xedb88320;

function multiplyModP(a: number, b: number): number {
  let product = 0;
  for (let bit = 0x80000000; bit !== 0; bit >>>= 1) {
    if ((a & bit) !== 0) product ^= b;
    b = (b & 1) !== 0 ? (b >>> 1) ^ CRC_POLYNOMIAL : b >>> 1;
  }
  return product >>> 0;
}

/** X_POWERS[k] = x^(2^k) mod P. */
const X_POWERS: number[] = (() => {
  const powers = [0x40000000]; // x^1
  for (let k = 1; k < 64; k++) powers.push(multiplyModP(powers[k - 1]!, powers[k - 1]!));
  return powers;
})();

/** x^(8·bytes) mod P. */
function xPowerOfBytes(bytes: number): number {
  let result = 0x80000000; // x^0
  let k = 3; // 8 = 2^3
  for (let remaining = bytes; remaining > 0; remaining = Math.floor(remaining / 2), k++) {
    if (remaining % 2 === 1) result = multiplyModP(X_POWERS[k % 64]!, result);
  }
  return result;
}

/** CRC-32 of A‖B from CRC-32(A), CRC-32(B) and B's length. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multiplyModP(xPowerOfBytes(lengthB), crcA) ^ crcB) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// node:zlib transforms and external filters

/** Feeds `input` through a node:zlib transform with backpressure and yields what comes out. */
async function* throughTransform(
  transform: Transform,
  input: AsyncIterable<Uint8Array>,
  format: string,
): AsyncGenerator<Uint8Array> {
  let inputError: unknown;
  let inputFailed = false;
  const feed = (async () => {
    try {
      for await (const chunk of input) {
        if (transform.destroyed) return;
        if (!transform.write(chunk)) {
          await new Promise<void>((resolve) => {
            const settle = () => {
              transform.off("drain", settle);
              transform.off("close", settle);
              resolve();
            };
            transform.on("drain", settle);
            transform.on("close", settle);
          });
        }
      }
      if (!transform.destroyed) transform.end();
    } catch (error) {
      inputFailed = true;
      inputError = error;
      transform.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  })();
  try {
    for await (const chunk of transform as AsyncIterable<Uint8Array>) yield chunk;
  } catch (error) {
    if (inputFailed) throw inputError;
    throw new IntegrityError(
      `Cannot decompress ${format} data: ${error instanceof Error ? error.message : error}.`,
      { cause: error },
    );
  } finally {
    transform.destroy();
    await feed;
  }
  if (inputFailed) throw inputError;
}

type FailureReport = (argv: readonly string[], code: number, stderr: string) => Error;

function compressFailure(argv: readonly string[], code: number, stderr: string): Error {
  return new ExternalCommandError(argv, code, stderr);
}

function decompressFailure(format: string): FailureReport {
  return (_argv, code, stderr) => {
    const reason = toolReason(stderr);
    return new IntegrityError(
      `Cannot decompress ${format} data: ${reason || `${format} exited with code ${code}`}.`,
    );
  };
}

/**
 * The tool's own reason from its stderr: the first "program: ..." line without the program and
 * stdin prefixes ("xz: (stdin): Unexpected end of input" -> "Unexpected end of input"; zstd says
 * "/*stdin*\\ :"), without trailing punctuation. bzip2 follows its reason with advice lines.
 */
export function toolReason(stderr: string): string {
  const lines = stderr.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const line = lines.find((candidate) => /^\S+: /.test(candidate)) ?? lines.at(-1) ?? "";
  return line.replace(/^\S+: /, "").replace(/^(\(stdin\)|\/\*stdin\*\\)\s*: ?/, "")
    .replace(/[.;:\s]+$/, "");
}

/**
 * Pipes `input` through an external program and yields its stdout. The child gets a clean
 * environment (XZ_DEFAULTS, ZSTD_CLEVEL and the like would change the output). If `input` fails,
 * the child is killed and that error is thrown; if the child fails, `failure` makes the error.
 * `fatalWarning` marks stderr text that fails the run even when the exit status is 0. With
 * `output` "file" the program writes its own output file (named in argv) and nothing is yielded.
 */
async function* runFilter(
  argv: readonly string[],
  input: AsyncIterable<Uint8Array>,
  failure: FailureReport,
  fatalWarning?: RegExp,
  output: "stream" | "file" = "stream",
): AsyncGenerator<Uint8Array> {
  const child = spawnProgram(argv, {
    args: argv.slice(1),
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", LC_ALL: "C" },
    stdin: "piped",
    stdout: output === "stream" ? "piped" : "null",
    stderr: "piped",
  });
  let inputFailed = false;
  let inputError: unknown;
  const feed = (async () => {
    if (output === "file") {
      const direct = openChildStdin(child);
      if (direct) {
        // The child may already have gone; its exit status will say why.
        await child.stdin.close().catch(() => {});
        try {
          for await (const chunk of input) {
            let offset = 0;
            while (offset < chunk.byteLength) offset += direct.writeSync(chunk.subarray(offset));
          }
        } catch (error) {
          if (!(error instanceof Deno.errors.BrokenPipe)) {
            inputFailed = true;
            inputError = error;
            killQuietly(child);
          }
        } finally {
          direct.close();
        }
        return;
      }
    }
    const writer = child.stdin.getWriter();
    try {
      for await (const chunk of input) await writer.write(chunk);
      await writer.close();
    } catch (error) {
      // A write fails when the child exited early; its exit status tells why. Anything else
      // came from the input, and the child must not finish on a partial stream.
      if (!(error instanceof Deno.errors.BrokenPipe) && !isClosedStreamError(error)) {
        inputFailed = true;
        inputError = error;
        killQuietly(child);
      }
      await writer.abort().catch(() => {});
    }
  })();
  const stderrText = new Response(child.stderr).text().catch(() => "");
  let finished = false;
  try {
    if (output === "stream") { for await (const chunk of child.stdout) yield chunk; }
    await feed;
    const status = await child.status;
    finished = true;
    if (inputFailed) throw inputError;
    const stderr = (await stderrText).slice(-2000);
    if (!status.success || fatalWarning?.test(stderr)) throw failure(argv, status.code, stderr);
  } finally {
    if (!finished) {
      killQuietly(child);
      await feed.catch(() => {});
      await child.status.catch(() => {});
      await stderrText;
    }
  }
}

/**
 * A second, synchronous write end of the child's stdin pipe (Linux: /proc/<pid>/fd/0 opens the
 * pipe itself). Blocking writes hand data over the moment the program reads it, as a shell pipe
 * does; an async stream writer moves it only when this thread is idle, and a pack keeps this
 * thread busy reading the tree. Undefined where /proc is not there (the async writer is used).
 */
function openChildStdin(child: Deno.ChildProcess): Deno.FsFile | undefined {
  try {
    return Deno.openSync(`/proc/${child.pid}/fd/0`, { write: true });
  } catch {
    return undefined;
  }
}

function isClosedStreamError(error: unknown): boolean {
  return error instanceof TypeError && /closed|errored|cancel/i.test(error.message);
}

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already exited
  }
}

// ---------------------------------------------------------------------------------------------
// small helpers

function concatBytes(chunks: Uint8Array[], limit = Infinity): Uint8Array {
  const total = Math.min(limit, chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    if (offset >= total) break;
    const take = Math.min(chunk.byteLength, total - offset);
    out.set(chunk.subarray(0, take), offset);
    offset += take;
  }
  return out;
}

/** The chunks already read, then the rest of the iterator. */
async function* replay(
  head: Uint8Array[],
  iterator: AsyncIterator<Uint8Array>,
  ended: boolean,
): AsyncGenerator<Uint8Array> {
  yield* head;
  if (ended) return;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return;
    yield next.value;
  }
}
