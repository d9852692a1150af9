// The source text of the deflate Worker used by core/compress.ts for parallel gzip.
//
// It is a string on purpose: `deno bundle` folds every module into one file, so a Worker cannot be
// started from a module URL next to the source. compress.ts turns this text into a Blob URL. The
// code only imports the built-in node:zlib, which needs no file, cache or network at run time.

/** One block for a Worker to compress. `data` is transferred (the sender loses it). */
export interface DeflateJob {
  id: number;
  data: Uint8Array<ArrayBuffer>;
  level: number;
}

/** The answer for one job: the raw deflate bytes and the CRC-32 of the block's input. */
export type DeflateResult =
  | { id: number; output: Uint8Array; crc: number }
  | { id: number; error: string };

/**
 * The Worker module. Each block becomes raw deflate data ending in a sync flush (byte-aligned, not
 * final), as pigz does, so the blocks concatenate into one deflate stream: one gzip member that the
 * kernel's initramfs unpacker and every gunzip read. Blocks are fully independent: pigz primes
 * each block with the previous 32 KiB, but Deno's node:zlib ignores the `dictionary` option
 * (measured: same output with and without it), and independence costs only ~0.1% in size.
 */
export const DEFLATE_WORKER_SOURCE = `
import { constants, crc32, deflateRawSync } from "node:zlib";

self.onmessage = (event) => {
  const { id, data, level } = event.data;
  try {
    const compressed = deflateRawSync(data, { level, finishFlush: constants.Z_SYNC_FLUSH });
    // A copy with its own ArrayBuffer: node:zlib may hand back a view into a larger pool.
    const output = new Uint8Array(compressed);
    self.postMessage({ id, output, crc: crc32(data) }, [output.buffer]);
  } catch (error) {
    self.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
};
`;
