// Tests of the confined lookup: the kernel's (openat2 RESOLVE_BENEATH) and the realpath one used
// where there is none refuse the same escapes and follow the same in-tree links.

import { ok, strictEqual } from "node:assert/strict";
import { type Beneath, beneath } from "./beneath.ts";
import { type NotServed, resolveServedFile, type ServedTree } from "./served_trees.ts";

/** A tree with a file, a FIFO, in-tree links and every kind of link out; removed on dispose. */
async function linkedTree() {
  const base = await Deno.makeTempDir({ prefix: "osimg-served-" });
  const dir = `${base}/install`;
  await Deno.mkdir(`${dir}/img`, { recursive: true });
  await Deno.writeTextFile(`${dir}/img/hello.txt`, "hello\n");
  await Deno.writeTextFile(`${base}/secret`, "secret\n");
  strictEqual((await new Deno.Command("mkfifo", { args: [`${dir}/img/fifo`] }).output()).code, 0);
  await Deno.symlink("hello.txt", `${dir}/img/relative-in`);
  await Deno.symlink(`${dir}/img/hello.txt`, `${dir}/img/absolute-in`);
  await Deno.symlink(`${base}/secret`, `${dir}/img/absolute-out`);
  await Deno.symlink("../../secret", `${dir}/img/relative-out`);
  await Deno.symlink(base, `${dir}/dir-out`);
  const trees: ServedTree[] = [{ prefix: ["install"], dir }];
  return {
    trees,
    async [Symbol.asyncDispose]() {
      await Deno.remove(base, { recursive: true });
    },
  };
}

/** What each path resolves to: the file's size, or why it is not served. */
const EXPECTED: [string, number | NotServed][] = [
  ["img/hello.txt", 6],
  ["img/relative-in", 6],
  ["img/absolute-in", 6],
  ["img/absolute-out", "escapes"],
  ["img/relative-out", "escapes"],
  ["dir-out/secret", "escapes"],
  ["img/fifo", "not-a-file"],
  ["img", "not-a-file"],
  ["img/nothing", "missing"],
  ["nothing/hello.txt", "missing"],
];

/** Resolves every EXPECTED path with `kernel` and compares the size or the refusal. */
async function assertOutcomes(kernel: Beneath | undefined): Promise<void> {
  await using t = await linkedTree();
  for (const [path, expected] of EXPECTED) {
    const resolved = resolveServedFile(t.trees, ["install", ...path.split("/")], kernel);
    if (typeof resolved !== "string") resolved.release();
    strictEqual(typeof resolved === "string" ? resolved : resolved.size, expected, path);
  }
}

Deno.test("served trees: the kernel lookup follows in-tree links and refuses each way out", async () => {
  const kernel = beneath();
  ok(kernel, "openat2 and statx are available on this machine");
  await assertOutcomes(kernel);
});

Deno.test("served trees: without openat2, realpath follows the same links and refuses the same ways out", async () => {
  await assertOutcomes(undefined);
});

Deno.test("served trees: a file reached by the kernel's handle reads the file the lookup found", async () => {
  await using t = await linkedTree();
  const resolved = resolveServedFile(t.trees, ["install", "img", "relative-in"]);
  ok(typeof resolved !== "string");
  // Renamed over after the lookup: the handle still opens the file that was looked up.
  const dir = t.trees[0]!.dir;
  await Deno.writeTextFile(`${dir}/img/new`, "replaced\n");
  await Deno.rename(`${dir}/img/new`, `${dir}/img/hello.txt`);
  try {
    strictEqual(await Deno.readTextFile(resolved.path), "hello\n");
  } finally {
    resolved.release();
  }
});
