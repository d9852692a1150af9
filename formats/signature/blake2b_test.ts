import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { createHash } from "node:crypto";
import { Blake2b, blake2b } from "./blake2b.ts";
import { sh } from "../../testdata/support/process.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const text = (value: string) => new TextEncoder().encode(value);

/** Deterministic test bytes. */
function pattern(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 131 + seed * 7) & 0xff;
  return bytes;
}

Deno.test("BLAKE2b-512 of 'abc' is RFC 7693 Appendix A's digest", () => {
  assertEquals(
    hex(blake2b(text("abc"), 64)),
    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1" +
      "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
  );
});

Deno.test("BLAKE2b-256 of '' and of 'abc' are the published digests", () => {
  // The BLAKE2 reference's (and b2sum -l 256's) values: not BLAKE2b-512 cut short.
  assertEquals(
    hex(blake2b(new Uint8Array(0), 32)),
    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
  );
  assertEquals(
    hex(blake2b(text("abc"), 32)),
    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
  );
});

Deno.test("BLAKE2b-512 equals node:crypto's blake2b512 for every length 0..400 and block edges", () => {
  const lengths = [...Array(401).keys(), 1023, 1024, 1025, 128 * 40, 128 * 40 + 1];
  for (const length of lengths) {
    const data = pattern(length, length);
    const expected = createHash("blake2b512").update(data).digest("hex");
    assertEquals(hex(blake2b(data, 64)), expected, `length ${length}`);
  }
});

Deno.test("BLAKE2b gives the same digest fed at every chunk size 1..300", () => {
  const data = pattern(777);
  const whole = hex(blake2b(data, 32));
  for (let size = 1; size <= 300; size++) {
    const hash = new Blake2b(32);
    for (let offset = 0; offset < data.length; offset += size) {
      hash.update(data.subarray(offset, offset + size));
    }
    assertEquals(hex(hash.digest()), whole, `chunk size ${size}`);
  }
});

Deno.test("BLAKE2b-256 and -160 equal coreutils' b2sum -l for several lengths", async () => {
  const directory = await Deno.makeTempDir();
  try {
    for (const length of [0, 1, 127, 128, 129, 256, 1000, 70000]) {
      const file = `${directory}/data`;
      const data = pattern(length, 3);
      await Deno.writeFile(file, data);
      for (const bits of [256, 160]) {
        const output = await sh(["b2sum", "-l", String(bits), file]);
        assertEquals(
          hex(blake2b(data, bits / 8)),
          output.split(" ")[0],
          `${length} bytes, ${bits}`,
        );
      }
    }
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("BLAKE2b refuses a digest length outside 1..64 and use after digest", () => {
  assertThrows(() => new Blake2b(0), /digest length must be 1 to 64 bytes, not 0/);
  assertThrows(() => new Blake2b(65), /not 65/);
  const hash = new Blake2b(32);
  hash.digest();
  assertThrows(() => hash.update(new Uint8Array(1)), /update after digest/);
});
