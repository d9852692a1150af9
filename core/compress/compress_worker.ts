// The source text of the deflate Worker used by core/compress/compress.ts for parallel gzip.
//
// It is a string on purpose: `deno bundle` folds every module into one file, so a Worker cannot be
// started from a module URL next to the source. compress.ts turns this text into a Blob URL. The
// code only imports the built-in node:zlib, which needs no file, cache or network at run time.

/** One block for a Worker to compress. `data` is transferred (the sender loses it). */
export interface DeflateJob {
  id: number;
  data: Uint8Array<ArrayBuffer>;
  level: number;
  /** Lower the level for blocks that compress poorly (see blockLevel). */
  adaptive: boolean;
}

/** The answer for one job: the raw deflate bytes and the CRC-32 of the block's input. */
export type DeflateResult =
  /** `input` is the job's block, transferred back so the sender can reuse the buffer. */
  | { id: number; output: Uint8Array; crc: number; input: Uint8Array<ArrayBuffer> }
  | { id: number; error: string };

/**
 * The level one block is deflated at; its own bytes decide, so the output stays reproducible.
 *
 * Already-compressed data (a rootimg.cpio.gz inside a bundle, .xz kernel modules, firmware) costs
 * deflate five times more CPU than text and gains nothing. Four 8 KiB probes at level 1 spread
 * over the block decide: when none of them shrinks by 3%, the block is stored (level 0).
 *
 * `adaptive` (gzip's default level, 4) spends the size budget (design: at most 4% over pigz -6)
 * where it buys most speed. Chromium's zlib, Deno's, falls furthest behind pigz on machine code
 * (at level 4: +4.8% on a tree of shared libraries, +2-3% on text-heavy trees), so a block whose
 * probes are mostly not text (under half printable ASCII) goes one level up unless its probes
 * shrink little (80% of their size or more). A text block goes one level down when its probes
 * shrink to 45-70%, two when to 70% or more. Measured per 1 MiB block against `pigz -6` on a
 * Debian minbase root, a 1.1 GB /usr tree, 1 GB of /usr/lib/x86_64-linux-gnu and 750 MB of
 * jvm/node_modules/python: +2.1%, +3.2%, +3.4%, +2.8% (level 4 alone: +1.7%, +2.2%, +4.6%,
 * +2.4%; level 4 with stored blocks: +2.1%, +3.1%, +4.8%, +3.1%).
 *
 * It runs in the Worker through its source text (so it names nothing outside itself) and in the
 * calling thread for a stream of one block: the same bytes either way.
 */
export function blockLevel(
  data: Uint8Array,
  level: number,
  adaptive: boolean,
  deflateRawSync: (data: Uint8Array, options: { level: number }) => { length: number },
): number {
  const PROBE = 8192;
  if (level === 0 || data.length < 4 * PROBE) return level;
  let shrinks = false;
  let total = 0;
  let text = 0;
  for (let k = 0; k < 4; k++) {
    const start = Math.floor(((data.length - PROBE) * k) / 3);
    const probe = data.subarray(start, start + PROBE);
    const size = deflateRawSync(probe, { level: 1 }).length;
    if (size < PROBE * 0.97) shrinks = true;
    total += size;
    if (adaptive) {
      for (let index = 0; index < PROBE; index++) {
        const byte = probe[index]!;
        if ((byte >= 0x20 && byte < 0x7f) || byte === 0x0a) text++;
      }
    }
  }
  if (!shrinks) return 0;
  if (!adaptive) return level;
  const ratio = total / (4 * PROBE);
  if (text < 2 * PROBE) return ratio < 0.8 ? Math.min(9, level + 1) : level;
  if (ratio >= 0.7) return Math.max(1, level - 2);
  if (ratio >= 0.45) return Math.max(1, level - 1);
  return level;
}

/**
 * The Worker module. Each block becomes raw deflate data ending in a sync flush (byte-aligned, not
 * final), as pigz does, so the blocks concatenate into one deflate stream: one gzip member that the
 * kernel's initramfs unpacker and every gunzip read. Blocks are fully independent: pigz primes
 * each block with the previous 32 KiB, but Deno's node:zlib ignores the `dictionary` option
 * (measured: same output with and without it), and independence costs only ~0.1% in size.
 */
export const DEFLATE_WORKER_SOURCE = `
import { constants, crc32, deflateRawSync } from "node:zlib";

const blockLevel = ${blockLevel.toString()};

self.onmessage = (event) => {
  const { id, data, level, adaptive } = event.data;
  try {
    const compressed = deflateRawSync(data, {
      level: blockLevel(data, level, adaptive, deflateRawSync),
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    // A copy with its own ArrayBuffer: node:zlib may hand back a view into a larger pool.
    const output = new Uint8Array(compressed);
    self.postMessage({ id, output, crc: crc32(data), input: data }, [output.buffer, data.buffer]);
  } catch (error) {
    self.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
};
`;
