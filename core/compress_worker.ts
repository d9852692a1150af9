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

// Already-compressed data (a rootimg.cpio.gz inside a bundle, .xz kernel modules, firmware) costs
// deflate -6 five times more CPU than text and gains nothing. Four 8 KiB probes at level 1 spread
// over the block decide: when none of them shrinks by 3%, the block is stored (level 0). The
// decision depends only on the bytes and the level, so the output stays reproducible.
const PROBE = 8192;
function incompressible(data) {
  if (data.length < 4 * PROBE) return false;
  for (let k = 0; k < 4; k++) {
    const start = Math.floor(((data.length - PROBE) * k) / 3);
    const probe = deflateRawSync(data.subarray(start, start + PROBE), { level: 1 });
    if (probe.length < PROBE * 0.97) return false;
  }
  return true;
}

self.onmessage = (event) => {
  const { id, data, level } = event.data;
  try {
    const effective = level > 0 && incompressible(data) ? 0 : level;
    const compressed = deflateRawSync(data, {
      level: effective,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    // A copy with its own ArrayBuffer: node:zlib may hand back a view into a larger pool.
    const output = new Uint8Array(compressed);
    self.postMessage({ id, output, crc: crc32(data) }, [output.buffer]);
  } catch (error) {
    self.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
};
`;
