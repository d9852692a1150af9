// The byte source a media decoder reads from: positioned reads over an image the caller opened.

import { IntegrityError } from "../../core/errors.ts";

/**
 * An image the decoder may read anywhere in (a file opened by the caller, bytes in memory). The
 * decoder never holds more than it asked for, so memory stays bounded whatever the image size.
 *
 * @example
 * ```ts
 * const reader = bytesReader(await Deno.readFile("small.iso"));
 * const image = await readIso9660(reader, { source: "small.iso" });
 * ```
 */
export interface RandomAccessReader {
  /** Size of the image in bytes. */
  readonly size: number;
  /**
   * Up to `length` bytes starting at `offset`. It may return fewer (a short read), but at least
   * one byte while `offset < size`; an empty result means the image ends there.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/**
 * Exactly `length` bytes at `offset`, assembled from as many short reads as the reader gives.
 * An image that ends first is an IntegrityError naming what was being read.
 */
export async function readExactly(
  reader: RandomAccessReader,
  offset: number,
  length: number,
  what: string,
): Promise<Uint8Array> {
  const first = await reader.read(offset, length);
  if (first.byteLength === length) return first;
  if (first.byteLength > length) return first.subarray(0, length);
  const out = new Uint8Array(length);
  out.set(first);
  let filled = first.byteLength;
  while (filled < length) {
    const piece = await reader.read(offset + filled, length - filled);
    if (piece.byteLength === 0) {
      throw new IntegrityError(
        `${what} is cut short: the image ends at byte ${offset + filled} of ${offset + length}`,
      );
    }
    const take = Math.min(piece.byteLength, length - filled);
    out.set(piece.subarray(0, take), filled);
    filled += take;
  }
  return out;
}

/**
 * A reader over bytes in memory; `maxPiece` makes every read short (tests feed decoders one
 * byte at a time and at odd sizes this way).
 */
export function bytesReader(bytes: Uint8Array, maxPiece = Infinity): RandomAccessReader {
  return {
    size: bytes.byteLength,
    read(offset, length) {
      const end = Math.min(bytes.byteLength, offset + Math.min(length, maxPiece));
      return Promise.resolve(bytes.slice(Math.min(offset, bytes.byteLength), end));
    },
  };
}
