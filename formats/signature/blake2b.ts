// BLAKE2b (RFC 7693) with any digest length from 1 to 64 bytes, streaming, in pure TypeScript.
//
// node:crypto has only BLAKE2b-512, and BLAKE2b's digest length is a parameter of the hash (it is
// mixed into the initial state), so a shorter digest is not a truncated BLAKE2b-512. minisign's
// secret-key checksum is BLAKE2b-256. This implementation is for such short inputs; large data
// (a bundle's prehash, BLAKE2b-512) goes through node:crypto, which is ~50x faster.

import { InvalidInputError } from "../../core/errors.ts";

const BLOCK_BYTES = 128;

/** SHA-512's initial hash value, the BLAKE2b IV (RFC 7693 §2.6), as [low, high] 32-bit halves. */
const IV = new Uint32Array([
  0xf3bcc908,
  0x6a09e667,
  0x84caa73b,
  0xbb67ae85,
  0xfe94f82b,
  0x3c6ef372,
  0x5f1d36f1,
  0xa54ff53a,
  0xade682d1,
  0x510e527f,
  0x2b3e6c1f,
  0x9b05688c,
  0xfb41bd6b,
  0x1f83d9ab,
  0x137e2179,
  0x5be0cd19,
]);

/** The message schedule (RFC 7693 §2.7); rounds 10 and 11 reuse rows 0 and 1. */
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

/**
 * A BLAKE2b hash of `outputLength` bytes (unkeyed), fed in pieces.
 *
 * @example
 * ```ts
 * const checksum = new Blake2b(32).update(new TextEncoder().encode("abc")).digest();
 * // bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319
 * ```
 */
export class Blake2b {
  readonly outputLength: number;
  /** The chaining value h[0..7], each 64-bit word as [low, high]. */
  readonly #state = new Uint32Array(16);
  readonly #block = new Uint8Array(BLOCK_BYTES);
  #filled = 0;
  /** Bytes compressed so far (the counter t; a number is exact up to 2^53 bytes). */
  #counter = 0;
  #finished = false;
  /** Work arrays, kept to avoid an allocation per block. */
  readonly #v = new Uint32Array(32);
  readonly #m = new Uint32Array(32);

  constructor(outputLength = 64) {
    if (!Number.isInteger(outputLength) || outputLength < 1 || outputLength > 64) {
      throw new InvalidInputError(
        `BLAKE2b digest length must be 1 to 64 bytes, not ${outputLength}`,
      );
    }
    this.outputLength = outputLength;
    this.#state.set(IV);
    // Parameter block word 0: digest length, key length 0, fanout 1, depth 1 (RFC 7693 §2.5).
    this.#state[0] = this.#state[0]! ^ 0x01010000 ^ outputLength;
  }

  /** Adds `data` to the hash; returns this. */
  update(data: Uint8Array): this {
    if (this.#finished) throw new InvalidInputError("BLAKE2b: update after digest");
    let offset = 0;
    while (offset < data.byteLength) {
      // The last block is compressed with the final flag, so a full block waits for more data.
      if (this.#filled === BLOCK_BYTES) {
        this.#counter += BLOCK_BYTES;
        this.#compress(false);
        this.#filled = 0;
      }
      const take = Math.min(BLOCK_BYTES - this.#filled, data.byteLength - offset);
      this.#block.set(data.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
    }
    return this;
  }

  /** The digest (`outputLength` bytes); the hash cannot be updated afterwards. */
  digest(): Uint8Array {
    if (this.#finished) throw new InvalidInputError("BLAKE2b: digest called twice");
    this.#finished = true;
    this.#counter += this.#filled;
    this.#block.fill(0, this.#filled);
    this.#compress(true);
    const out = new Uint8Array(this.outputLength);
    for (let index = 0; index < this.outputLength; index++) {
      // Little-endian words, each stored as [low, high].
      out[index] = this.#state[index >> 2]! >>> (8 * (index & 3));
    }
    return out;
  }

  /** The compression function F (RFC 7693 §3.2) on the buffered block. */
  #compress(last: boolean): void {
    const v = this.#v;
    const m = this.#m;
    const h = this.#state;
    const block = this.#block;
    for (let word = 0; word < 32; word++) {
      const at = word * 4;
      m[word] = block[at]! | (block[at + 1]! << 8) | (block[at + 2]! << 16) |
        (block[at + 3]! << 24);
    }
    v.set(h, 0);
    v.set(IV, 16);
    // v[12] ^= t (low 64 bits), v[13] ^= t >> 64 (always 0 here).
    v[24] = v[24]! ^ (this.#counter >>> 0);
    v[25] = v[25]! ^ Math.floor(this.#counter / 0x100000000);
    if (last) {
      v[28] = ~v[28]!;
      v[29] = ~v[29]!;
    }
    for (let round = 0; round < 12; round++) {
      const s = SIGMA[round % 10]!;
      mix(v, m, 0, 8, 16, 24, s[0]!, s[1]!);
      mix(v, m, 2, 10, 18, 26, s[2]!, s[3]!);
      mix(v, m, 4, 12, 20, 28, s[4]!, s[5]!);
      mix(v, m, 6, 14, 22, 30, s[6]!, s[7]!);
      mix(v, m, 0, 10, 20, 30, s[8]!, s[9]!);
      mix(v, m, 2, 12, 22, 24, s[10]!, s[11]!);
      mix(v, m, 4, 14, 16, 26, s[12]!, s[13]!);
      mix(v, m, 6, 8, 18, 28, s[14]!, s[15]!);
    }
    for (let index = 0; index < 16; index++) h[index] = h[index]! ^ v[index]! ^ v[index + 16]!;
  }
}

/** v[a] += v[b] + m[x] as 64-bit words (indices are of the low halves). */
function add3(v: Uint32Array, a: number, b: number, m: Uint32Array, x: number): void {
  const low = v[a]! + v[b]! + m[x]!;
  const carry = Math.floor(low / 0x100000000);
  v[a + 1] = v[a + 1]! + v[b + 1]! + m[x + 1]! + carry;
  v[a] = low;
}

/** v[a] += v[b] as 64-bit words. */
function add2(v: Uint32Array, a: number, b: number): void {
  const low = v[a]! + v[b]!;
  v[a + 1] = v[a + 1]! + v[b + 1]! + (low >= 0x100000000 ? 1 : 0);
  v[a] = low;
}

/** v[a] = (v[a] ^ v[b]) rotated right by `bits` (16, 24, 32 or 63). */
function xorRotate(v: Uint32Array, a: number, b: number, bits: number): void {
  const low = v[a]! ^ v[b]!;
  const high = v[a + 1]! ^ v[b + 1]!;
  if (bits === 32) {
    v[a] = high;
    v[a + 1] = low;
  } else if (bits === 63) {
    // Right by 63 is left by 1.
    v[a] = (low << 1) | (high >>> 31);
    v[a + 1] = (high << 1) | (low >>> 31);
  } else {
    v[a] = (low >>> bits) | (high << (32 - bits));
    v[a + 1] = (high >>> bits) | (low << (32 - bits));
  }
}

/** The mixing function G (RFC 7693 §3.1) on words a, b, c, d with message words x, y. */
function mix(
  v: Uint32Array,
  m: Uint32Array,
  a: number,
  b: number,
  c: number,
  d: number,
  x: number,
  y: number,
): void {
  add3(v, a, b, m, x * 2);
  xorRotate(v, d, a, 32);
  add2(v, c, d);
  xorRotate(v, b, c, 24);
  add3(v, a, b, m, y * 2);
  xorRotate(v, d, a, 16);
  add2(v, c, d);
  xorRotate(v, b, c, 63);
}

/**
 * The BLAKE2b digest of `data` with `outputLength` bytes.
 *
 * @example
 * ```ts
 * blake2b(new Uint8Array(0), 32); // 0e5751c0...
 * ```
 */
export function blake2b(data: Uint8Array, outputLength = 64): Uint8Array {
  return new Blake2b(outputLength).update(data).digest();
}
