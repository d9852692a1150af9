// Byte-array helpers the codecs and their callers share: joining chunks and reading a chunk
// stream whole (for small things only: a manifest, a header, a test's archive).

/**
 * The chunks joined into one array, cut at `limit` bytes.
 *
 * @example
 * ```ts
 * concatBytes([new Uint8Array([1, 2]), new Uint8Array([3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concatBytes(
  chunks: readonly Uint8Array[],
  limit = Infinity,
): Uint8Array<ArrayBuffer> {
  const total = Math.min(limit, chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    if (offset >= total) break;
    const take = Math.min(chunk.byteLength, total - offset);
    out.set(take === chunk.byteLength ? chunk : chunk.subarray(0, take), offset);
    offset += take;
  }
  return out;
}

/** Every chunk of `chunks`, joined. */
export async function collectBytes(
  chunks: AsyncIterable<Uint8Array>,
): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return concatBytes(parts);
}
