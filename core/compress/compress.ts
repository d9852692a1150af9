// Streaming compression: gzip in parallel Workers (gzip_parallel.ts), zstd/xz/bzip2 through their
// tools (external_filter.ts), each as the compressor table (compressors.ts) says. Output is
// byte-identical whatever the machine's core count. Decompression is in decompress.ts.

import { checkLevel, checkThreads, type Compression } from "./compressors.ts";
import { ExternalCommandError } from "../errors.ts";
import { runFilter } from "./external_filter.ts";
import { compressGzip, type GzipWorkers } from "./gzip_parallel.ts";
import type { ProcessRunner } from "../process.ts";

// The public names of compression's parts, so that importers need only this module.
export {
  type Compression,
  compressionNamed,
  compressionOfName,
  COMPRESSIONS,
  COMPRESSORS,
  detectCompression,
  MAGIC_LENGTH,
} from "./compressors.ts";
export { crc32Combine } from "./crc32_combine.ts";
export { decompress } from "./decompress.ts";
export { toolReason } from "./external_filter.ts";
export {
  fixedBlocks,
  GZIP_BLOCK_SIZE,
  type GzipWorkers,
  startGzipWorkers,
} from "./gzip_parallel.ts";

export interface CompressOptions {
  /**
   * Compression level; default: the table's defaultLevel (compressors.ts; gzip's is adaptive:
   * blocks that compress poorly get a lower one, see blockLevel). Part of the output's identity.
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

/**
 * xz's dictionary size per preset (xz(1), "Presets"). The block size is set explicitly to xz's own
 * multi-threaded default, three times the dictionary, so the output matches `xz -T0` and never
 * depends on how many threads xz decides to run.
 */
const XZ_DICTIONARY_MIB = [0.25, 1, 2, 4, 4, 8, 8, 16, 32, 64];

/**
 * Compresses a byte stream. gzip is ONE gzip member made of independently deflated 1 MiB blocks
 * (as pigz writes it) compressed by a pool of Workers; zstd and xz run their tools multi-threaded
 * in the mode whose output does not depend on the thread count (one zstd frame, one xz stream);
 * bzip2 runs `bzip2`; the tools run through `runner`. Input is read while earlier blocks compress, with a bounded number of
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
 * for await (const chunk of compress(ctx.runner, "gzip", walkBytes, { level: 6 })) {
 *   await out.write(chunk);
 * }
 * ```
 */
export function compress(
  runner: ProcessRunner,
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
        runner,
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
        runner,
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
        runner,
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
 * const size = await compressToFile(ctx.runner, "zstd", cpioStream(entries), "/install/x/.rootimg.tmp");
 * ```
 */
export async function compressToFile(
  runner: ProcessRunner,
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
      for await (const _ of runFilter(runner, argv, input, compressFailure, undefined, "file")) {
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
    for await (const chunk of compress(runner, kind, input, options)) {
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

function compressFailure(argv: readonly string[], code: number, stderr: string): Error {
  return new ExternalCommandError(argv, code, stderr);
}
