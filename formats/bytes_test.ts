import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { collectBytes, concatBytes } from "./bytes.ts";

Deno.test("concatBytes joins chunks in order and cuts at a limit", () => {
  const chunks = [new Uint8Array([1, 2]), new Uint8Array(), new Uint8Array([3, 4, 5])];
  assertEquals(concatBytes(chunks), new Uint8Array([1, 2, 3, 4, 5]));
  assertEquals(concatBytes(chunks, 3), new Uint8Array([1, 2, 3]));
  assertEquals(concatBytes([]), new Uint8Array());
});

Deno.test("collectBytes reads a chunk stream whole", async () => {
  async function* chunks() {
    for (let index = 0; index < 300; index++) yield new Uint8Array([index & 0xff]);
  }
  const bytes = await collectBytes(chunks());
  assertEquals(bytes.length, 300);
  assertEquals(bytes[257], 1);
});
