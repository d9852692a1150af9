import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parsePseudoLine } from "./squashfs_pseudo.ts";

const META = { mtime: 1700000000, mode: 0o644, uid: 1000, gid: 1001 };

Deno.test("parsePseudoLine reads every kind unsquashfs -pf lists", () => {
  assertEquals(parsePseudoLine("/ D 1700000000 755 0 0"), {
    kind: "dir",
    path: ".",
    mtime: 1700000000,
    mode: 0o755,
    uid: 0,
    gid: 0,
  });
  assertEquals(parsePseudoLine("etc/hostname R 1700000000 644 1000 1001 5 12"), {
    kind: "file",
    path: "etc/hostname",
    ...META,
    size: 5,
    offset: 12,
  });
  assertEquals(parsePseudoLine("bin S 1700000000 644 1000 1001 usr/bin"), {
    kind: "symlink",
    path: "bin",
    ...META,
    target: "usr/bin",
  });
  assertEquals(parsePseudoLine("dev/null C 1700000000 644 1000 1001 1 3"), {
    kind: "chardev",
    path: "dev/null",
    ...META,
    devmajor: 1,
    devminor: 3,
  });
  assertEquals(parsePseudoLine("dev/loop0 B 1700000000 644 1000 1001 7 0"), {
    kind: "blockdev",
    path: "dev/loop0",
    ...META,
    devmajor: 7,
    devminor: 0,
  });
  assertEquals(parsePseudoLine("dev/initctl I 1700000000 644 1000 1001 f"), {
    kind: "fifo",
    path: "dev/initctl",
    ...META,
  });
  assertEquals(parsePseudoLine("usr/bin/second L usr/bin/first"), {
    kind: "hardlink",
    path: "usr/bin/second",
    target: "usr/bin/first",
  });
});

Deno.test("parsePseudoLine unescapes names and keeps a symlink target's spaces", () => {
  assertEquals(parsePseudoLine(String.raw`a\ b\\c\"d S 1700000000 777 0 0 x y\z`), {
    kind: "symlink",
    path: 'a b\\c"d',
    mtime: 1700000000,
    mode: 0o777,
    uid: 0,
    gid: 0,
    target: "x y\\z",
  });
  assertEquals(parsePseudoLine(String.raw`h L a\ b`), {
    kind: "hardlink",
    path: "h",
    target: "a b",
  });
});

Deno.test("parsePseudoLine returns undefined for part of a name cut by a newline, and for junk", () => {
  assertEquals(parsePseudoLine("first-half-of-a-name"), undefined);
  assertEquals(parsePseudoLine("x R 1700000000 644 0 0 5"), undefined);
  assertEquals(parsePseudoLine("x D 1700000000 9z9 0 0"), undefined);
  assertEquals(parsePseudoLine("x Q 1700000000 644 0 0"), undefined);
  assertEquals(parsePseudoLine("x I 1700000000 644 0 0 q"), undefined);
  assertEquals(parsePseudoLine("nl\nine R 1700000000 644 0 0 1 0")?.path, "nl\nine");
});
