// Streaming decompression of every Compression, detected by its magic bytes.

import { concatBytes } from "../../formats/bytes.ts";
import { createGunzip } from "node:zlib";
import type { Transform } from "node:stream";
import { detectCompression, MAGIC_LENGTH } from "./compressors.ts";
import { IntegrityError } from "../errors.ts";
import { type FailureReport, runFilter, toolReason } from "./external_filter.ts";
import type { ProcessRunner } from "../process.ts";

/**
 * Decompresses a stream of any Compression, detected by magic bytes (anything else passes through
 * unchanged). gzip may have several members (GNU gzip, pigz and concatenated files all read).
 * Corrupt, truncated or trailing-garbage data becomes an IntegrityError naming the format.
 * zstd, xz and bzip2 run their tools through `runner`.
 *
 * @example
 * ```ts
 * for await (const chunk of decompress(ctx.runner, Deno.openSync("bundle.tgz").readable)) use(chunk);
 * ```
 */
export async function* decompress(
  runner: ProcessRunner,
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
        yield* runFilter(runner, ["zstd", "-d", "-q", "-c"], whole, decompressFailure("zstd"));
        return;
      case "xz":
        yield* runFilter(runner, ["xz", "-d", "-q", "-c"], whole, decompressFailure("xz"));
        return;
      case "bzip2":
        // Without -q: bzip2 then says why it failed, and warns about trailing garbage.
        yield* runFilter(
          runner,
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

function decompressFailure(format: string): FailureReport {
  return (_argv, code, stderr) => {
    const reason = toolReason(stderr);
    return new IntegrityError(
      `Cannot decompress ${format} data: ${reason || `${format} exited with code ${code}`}.`,
    );
  };
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
