import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { closeSync, openSync, writeSync } from "node:fs";
import { kernelCopier } from "./kernel_copy.ts";

Deno.test("kernelCopier copies a byte range of one file to the end of another, in the kernel", () => {
  const dir = Deno.makeTempDirSync({ prefix: "osimg-kernel-copy-" });
  try {
    const source = new Uint8Array(3 * 1024 * 1024).map((_, index) => (index * 7) % 251);
    Deno.writeFileSync(`${dir}/image`, source);
    const copy = kernelCopier();
    ok(copy, "libc's copy_file_range is reachable through FFI");
    const input = openSync(`${dir}/image`, "r");
    const output = openSync(`${dir}/out`, "wx", 0o600);
    try {
      writeSync(output, new Uint8Array([1, 2, 3]));
      // Two ranges appended in order, as a multi-extent file is written.
      ok(copy(input, 1_000_000, output, 500_000));
      ok(copy(input, 5, output, 10));
    } finally {
      closeSync(input);
      closeSync(output);
    }
    const expected = new Uint8Array([
      1,
      2,
      3,
      ...source.subarray(1_000_000, 1_500_000),
      ...source.subarray(5, 15),
    ]);
    assertEquals(Deno.readFileSync(`${dir}/out`), expected);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("kernelCopier throws when the source ends before the range does", () => {
  const dir = Deno.makeTempDirSync({ prefix: "osimg-kernel-copy-" });
  try {
    Deno.writeFileSync(`${dir}/image`, new Uint8Array(100));
    const copy = kernelCopier()!;
    const input = openSync(`${dir}/image`, "r");
    const output = openSync(`${dir}/out`, "wx", 0o600);
    try {
      throws(() => copy(input, 50, output, 80), /the source ended 30 bytes short of 80/);
    } finally {
      closeSync(input);
      closeSync(output);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
