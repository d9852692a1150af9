// Tests of the small-file cache: kept only once settled, read again on any new version.

import { ok, strictEqual } from "node:assert/strict";
import { resolveServedFile, type ServedTree } from "./served_trees.ts";
import { SmallFileCache } from "./small_file_cache.ts";

async function scriptTree() {
  const dir = await Deno.makeTempDir({ prefix: "osimg-cache-" });
  await Deno.writeTextFile(`${dir}/cn01`, "#!gpxe\nexit\n");
  const trees: ServedTree[] = [{ prefix: ["tftpboot"], dir }];
  return {
    dir,
    read(cache: SmallFileCache) {
      const resolved = resolveServedFile(trees, ["tftpboot", "cn01"]);
      if (typeof resolved === "string") throw new Error(resolved);
      try {
        return cache.read(resolved);
      } finally {
        resolved.release();
      }
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A clock a minute ahead: every file on disk counts as settled. */
const later = () => Date.now() + 60_000;

/** Longer than a tick of the kernel's timestamp clock, so a change gets a new ctime. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 50));

Deno.test("small file cache: a settled, unchanged file is read once and then served from memory", async () => {
  await using t = await scriptTree();
  const cache = new SmallFileCache({ now: later });
  const first = t.read(cache);
  strictEqual(new TextDecoder().decode(first!.bytes), "#!gpxe\nexit\n");
  strictEqual(cache.size, 1);
  strictEqual(t.read(cache), first, "the very same entry");
});

Deno.test("small file cache: a file changed less than a second ago is served but not kept", async () => {
  await using t = await scriptTree();
  const cache = new SmallFileCache();
  strictEqual(new TextDecoder().decode(t.read(cache)!.bytes), "#!gpxe\nexit\n");
  strictEqual(cache.size, 0);
});

Deno.test("small file cache: a kept file rewritten in place with the same size is read again", async () => {
  await using t = await scriptTree();
  const cache = new SmallFileCache({ now: later });
  const first = t.read(cache)!;
  await tick();
  await Deno.writeTextFile(`${t.dir}/cn01`, "#!gpxe\nboot\n");
  const second = t.read(cache)!;
  ok(second !== first);
  strictEqual(new TextDecoder().decode(second.bytes), "#!gpxe\nboot\n");
  strictEqual(cache.size, 1, "the old version is forgotten");
});

Deno.test("small file cache: a kept file renamed over is read again, under its new inode", async () => {
  await using t = await scriptTree();
  const cache = new SmallFileCache({ now: later });
  t.read(cache);
  await Deno.writeTextFile(`${t.dir}/cn01.new`, "#!gpxe\nreboot\n");
  await Deno.rename(`${t.dir}/cn01.new`, `${t.dir}/cn01`);
  strictEqual(new TextDecoder().decode(t.read(cache)!.bytes), "#!gpxe\nreboot\n");
});

Deno.test("small file cache: a file grown past the small-file size is left to the stream", async () => {
  await using t = await scriptTree();
  const cache = new SmallFileCache({ now: later });
  const resolved = resolveServedFile([{ prefix: ["tftpboot"], dir: t.dir }], ["tftpboot", "cn01"]);
  if (typeof resolved === "string") throw new Error(resolved);
  try {
    // Replaced by a big file between the lookup and the read.
    await Deno.writeFile(`${t.dir}/cn01`, new Uint8Array(1 << 20));
    strictEqual(cache.read(resolved), undefined);
    strictEqual(cache.size, 0);
  } finally {
    resolved.release();
  }
});
