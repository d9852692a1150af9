import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { baseMeta, bytesContent, type Entry } from "../../formats/archive/entry.ts";
import {
  compareSummaries,
  insidePath,
  type PathSummary,
  summarizeEntries,
} from "./path_summary.ts";
import { Sha256Worker } from "../tree/sha256_worker.ts";

const ALL = { owner: true, xattrs: true, hardlinks: true };
const text = (value: string) => new TextEncoder().encode(value);

async function* stream(entries: Entry[]): AsyncGenerator<Entry> {
  yield* entries;
}

Deno.test("summarizeEntries keeps one summary per path, hashing content as it streams", async () => {
  const big = new Uint8Array(3 * 1024 * 1024).fill(7);
  const hasher = new Sha256Worker();
  try {
    const paths = await summarizeEntries(
      stream([
        { ...baseMeta("./", 0o755), kind: "dir" },
        {
          ...baseMeta("./etc/hostname", 0o644),
          kind: "file",
          content: bytesContent(text("node\n")),
        },
        { ...baseMeta("big", 0o600), kind: "file", content: bytesContent(big) },
        { ...baseMeta("link", 0o600), kind: "hardlink", target: "./big" },
        { ...baseMeta("dev/null", 0o666), kind: "chardev", devmajor: 1, devminor: 3 },
        {
          ...baseMeta("tool", 0o755),
          uid: 5,
          gid: 6,
          xattrs: new Map([["user.b", text("2")], ["user.a", text("1")]]),
          kind: "symlink",
          target: "x",
        },
      ]),
      { hasher },
    );
    assertEquals([...paths.keys()], [".", "etc/hostname", "big", "link", "dev/null", "tool"]);
    assertEquals(paths.get("etc/hostname"), {
      type: "file",
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 5,
      // printf 'node\n' | sha256sum
      sha256: "389b46f0445738f6b517def165c3e490efa2eb8825c695b8ac8221565e78e4fa",
    });
    const bigSummary = paths.get("big")!;
    assertEquals(paths.get("link"), { ...bigSummary, hardlink: "big" });
    assertEquals(bigSummary.size, big.length);
    assertEquals(paths.get("dev/null")?.device, "1,3");
    assertEquals(paths.get("tool")?.xattrs?.map((item) => item.split("=")[0]), [
      "user.a",
      "user.b",
    ]);
  } finally {
    hasher.close();
  }
});

Deno.test("insidePath names the root '.' and drops ./, leading and trailing slashes", () => {
  assertEquals(["./", ".", "/", "./etc/", "/etc/x", "etc"].map(insidePath), [
    ".",
    ".",
    ".",
    "etc",
    "etc/x",
    "etc",
  ]);
});

const FILE: PathSummary = { type: "file", mode: 0o644, uid: 0, gid: 0, size: 1, sha256: "a" };

Deno.test("compareSummaries reports a type change alone", () => {
  assertEquals(compareSummaries(FILE, { type: "dir", mode: 0o755, uid: 1, gid: 1 }, ALL), [
    { field: "type", old: "file", new: "dir" },
  ]);
});

Deno.test("compareSummaries reports each field in order, and only fields both sides carry", () => {
  const changed: PathSummary = {
    ...FILE,
    sha256: "b",
    size: 2,
    mode: 0o600,
    uid: 1,
    xattrs: ["user.x=00"],
    hardlink: "other",
  };
  assertEquals(compareSummaries(FILE, changed, ALL).map((change) => change.field), [
    "content",
    "size",
    "mode",
    "owner",
    "xattrs",
    "hardlink",
  ]);
  assertEquals(
    compareSummaries(FILE, changed, { owner: false, xattrs: false, hardlinks: false })
      .map((change) => change.field),
    ["content", "size", "mode"],
  );
  assertEquals(compareSummaries(FILE, { ...FILE, xattrs: ["user.x=00"] }, ALL), [
    { field: "xattrs", old: [], new: ["user.x=00"], names: ["user.x"] },
  ]);
});

Deno.test("compareSummaries compares link targets and device numbers, never a symlink's mode", () => {
  const link: PathSummary = { type: "symlink", mode: 0o777, uid: 0, gid: 0, target: "a" };
  assertEquals(compareSummaries(link, { ...link, mode: 0o755, target: "b" }, ALL), [
    { field: "target", old: "a", new: "b" },
  ]);
  const device: PathSummary = { type: "blockdev", mode: 0o660, uid: 0, gid: 6, device: "7,0" };
  assertEquals(compareSummaries(device, { ...device, device: "7,1" }, ALL), [
    { field: "device", old: "7,0", new: "7,1" },
  ]);
});
