// GNU sparse files in a tar archive: their maps (old GNU 'S' headers, pax 0.0/0.1, 1.0 in the
// data), checked, and the content that yields the holes as zeros.

import { IntegrityError } from "../../core/errors.ts";
import type { FileContent } from "./entry.ts";
import type { ChunkReader } from "./archive_stream.ts";
import { BLOCK, MAX_META_SIZE, parseNumber } from "./tar_header.ts";
import { DECIMAL } from "./tar_pax.ts";

/** Where the data segments of a sparse file lie; everything else reads as zeros. */
export interface SparseMap {
  realSize: number;
  segments: { offset: number; length: number }[];
}

export function pairs(numbers: number[]): { offset: number; length: number }[] {
  const segments: { offset: number; length: number }[] = [];
  for (let i = 0; i + 1 < numbers.length; i += 2) {
    segments.push({ offset: numbers[i]!, length: numbers[i + 1]! });
  }
  if (numbers.length % 2 !== 0) segments.push({ offset: NaN, length: NaN });
  return segments;
}

/** Old GNU sparse ('S'): 4 map entries in the header, 21 per extension block after it. */
export async function readOldGnuSparseMap(
  reader: ChunkReader,
  header: Uint8Array,
  describe: () => string,
): Promise<SparseMap> {
  const segments: { offset: number; length: number }[] = [];
  const collect = (block: Uint8Array, start: number, count: number) => {
    for (let i = 0; i < count; i++) {
      const at = start + 24 * i;
      if (block[at] === 0) return;
      const what = () => `the sparse map of ${describe()}`;
      segments.push({
        offset: parseNumber(block, [at, 12], what),
        length: parseNumber(block, [at + 12, 12], what),
      });
    }
  };
  collect(header, 386, 4);
  const realSize = parseNumber(header, [483, 12], () => `the real size of ${describe()}`);
  let extended = header[482] !== 0;
  while (extended) {
    const block = await reader.read(BLOCK);
    if (block.byteLength < BLOCK) {
      throw new IntegrityError(`Truncated tar archive: sparse map of ${describe()} is cut short`);
    }
    collect(block, 0, 21);
    extended = block[504] !== 0;
    if (segments.length > 1_000_000) {
      throw new IntegrityError(`Malformed tar archive: sparse map of ${describe()} is too long`);
    }
  }
  return { realSize, segments };
}

/**
 * GNU sparse 1.0: the data starts with the map in decimal lines (count, then offset and length
 * pairs), padded to a block. Returns the segments and how many bytes the map took.
 */
export async function readSparseMapFromData(
  reader: ChunkReader,
  size: number,
  describe: () => string,
): Promise<{ segments: { offset: number; length: number }[]; bytes: number }> {
  const numbers: number[] = [];
  let line = "";
  let bytes = 0;
  let wanted = Infinity;
  while (numbers.length < wanted) {
    if (bytes + BLOCK > Math.min(size, MAX_META_SIZE)) {
      throw new IntegrityError(`Malformed tar archive: sparse map of ${describe()} is too long`);
    }
    const block = await reader.read(BLOCK);
    if (block.byteLength < BLOCK) {
      throw new IntegrityError(`Truncated tar archive: sparse map of ${describe()} is cut short`);
    }
    bytes += BLOCK;
    for (let i = 0; i < BLOCK && numbers.length < wanted; i++) {
      const c = block[i]!;
      if (c === 0x0a) {
        if (!DECIMAL.test(line)) {
          throw new IntegrityError(
            `Malformed tar archive: sparse map of ${describe()} holds ${JSON.stringify(line)}`,
          );
        }
        numbers.push(Number(line));
        if (numbers.length === 1) wanted = 1 + 2 * numbers[0]!;
        line = "";
      } else {
        line += String.fromCharCode(c);
        if (line.length > 20) {
          throw new IntegrityError(`Malformed tar archive: sparse map of ${describe()}`);
        }
      }
    }
  }
  return { segments: pairs(numbers.slice(1)), bytes };
}

/** Segments must be in order, inside the file, and add up to the data stored. */
export function checkSparseMap(map: SparseMap, stored: number, describe: () => string): SparseMap {
  let end = 0;
  let total = 0;
  for (const { offset, length } of map.segments) {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < end) {
      throw new IntegrityError(
        `Malformed tar archive: sparse map of ${describe()} is not in order`,
      );
    }
    end = offset + length;
    total += length;
  }
  if (!Number.isSafeInteger(map.realSize) || end > map.realSize || total !== stored) {
    throw new IntegrityError(
      `Malformed tar archive: sparse map of ${describe()} covers ${total} bytes up to ${end}, ` +
        `but ${stored} bytes are stored for a file of ${map.realSize}`,
    );
  }
  return map;
}

/** Zeros for the holes, the stored bytes for the segments. */
export function sparseContent(
  stored: FileContent,
  map: SparseMap,
  describe: () => string,
): FileContent {
  return {
    size: map.realSize,
    async *open() {
      const data = stored.open()[Symbol.asyncIterator]();
      let pending: Uint8Array = new Uint8Array(0);
      let position = 0;
      const zeros = function* (count: number) {
        // Fresh buffers: a consumer may keep or transfer what it is given.
        for (let left = count; left > 0; left -= 1 << 20) {
          yield new Uint8Array(Math.min(left, 1 << 20));
        }
      };
      for (const { offset, length } of map.segments) {
        yield* zeros(offset - position);
        position = offset;
        for (let left = length; left > 0;) {
          if (pending.byteLength === 0) {
            const next = await data.next();
            if (next.done) {
              throw new IntegrityError(`Truncated archive: sparse data of ${describe()}`);
            }
            pending = next.value;
          }
          const take = Math.min(left, pending.byteLength);
          yield pending.subarray(0, take);
          pending = pending.subarray(take);
          left -= take;
          position += take;
        }
      }
      yield* zeros(map.realSize - position);
    },
  };
}
