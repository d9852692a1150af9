// The compressor table and what reads it: magic numbers, names and aliases, extensions, levels.

import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import {
  checkLevel,
  compressionNamed,
  compressionOfName,
  COMPRESSIONS,
  COMPRESSORS,
  detectCompression,
  MAGIC_LENGTH,
} from "./compressors.ts";
import { InvalidInputError } from "../errors.ts";

Deno.test("detectCompression: every magic, short and unknown heads", () => {
  assertEquals(detectCompression(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0])), "gzip");
  assertEquals(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0])), "zstd");
  assertEquals(detectCompression(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), "xz");
  assertEquals(detectCompression(new TextEncoder().encode("BZh91AY")), "bzip2");
  assertEquals(detectCompression(new TextEncoder().encode("070701")), "none");
  assertEquals(detectCompression(new Uint8Array([0xfd, 0x37, 0x7a])), "none"); // xz, cut short
  assertEquals(detectCompression(new Uint8Array([0x1f])), "none");
  assertEquals(detectCompression(new Uint8Array(0)), "none");
});

Deno.test("compressor table: names, the pigz alias, extensions, and packimage's and imgexport's levels", () => {
  assertEquals(COMPRESSIONS, ["gzip", "zstd", "xz", "bzip2", "none"]);
  assertEquals(MAGIC_LENGTH, 6);
  assertEquals(compressionNamed("pigz"), "gzip");
  assertEquals(compressionNamed("zstd"), "zstd");
  assertEquals(compressionNamed("lz4"), undefined);
  assertEquals(compressionOfName("rootimg.cpio.zst"), "zstd");
  assertEquals(compressionOfName("x.tar.bz2"), "bzip2");
  assertEquals(compressionOfName("rootimg.cpio"), undefined);
  assertEquals(
    COMPRESSIONS.map((kind) => COMPRESSORS[kind].bundleExtension),
    [".tgz", ".tar.zst", ".tar.xz", ".tar.bz2", ".tar"],
  );
  // packimage compresses gzip at the adaptive default 4; imgexport passes 5 (its bundles' bytes).
  assertEquals(checkLevel("gzip", undefined), 4);
  assertEquals(COMPRESSORS.gzip.levels?.bundleLevel, 5);
  assertEquals(checkLevel("xz", undefined), COMPRESSORS.xz.levels?.bundleLevel);
  throws(() => checkLevel("zstd", 20), InvalidInputError);
});
