import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { ExtentCopyWorkers } from "./extent_copy_workers.ts";

/** An "image" of 3 MiB of known bytes in a temporary directory. */
async function imageFixture(): Promise<{ dir: string; image: string; bytes: Uint8Array }> {
  const dir = await Deno.makeTempDir({ prefix: "osimg-extent-copy-" });
  const bytes = new Uint8Array(3 * 1024 * 1024).map((_, index) => (index * 31) % 251);
  await Deno.writeFile(`${dir}/image`, bytes);
  await Deno.mkdir(`${dir}/out`);
  return { dir, image: `${dir}/image`, bytes };
}

Deno.test("extent copy workers: many files of one or more extents, with their modes and times", async () => {
  const { dir, image, bytes } = await imageFixture();
  try {
    let copied = 0;
    const pool = new ExtentCopyWorkers(image, (count) => copied += count, 2);
    const files = Array.from({ length: 300 }, (_, index) => ({
      path: `f${index}`,
      host: `${dir}/out/f${index}`,
      // Every third file in two pieces from far apart, as a multi-extent file is.
      extents: index % 3 === 0
        ? [index * 1000, 700, 2_000_000 + index, 5000]
        : [index * 4096, index * 13],
      mode: index % 2 ? 0o644 : 0o755,
      mtime: 1_700_000_000 + index,
    }));
    try {
      for (const file of files) {
        await pool.add(file, file.extents[1]! + (file.extents[3] ?? 0));
      }
      assertEquals(await pool.finish(), undefined);
    } finally {
      pool.close();
    }
    for (const file of files) {
      const [a, b, c, d] = file.extents;
      const expected = c === undefined
        ? bytes.subarray(a!, a! + b!)
        : new Uint8Array([...bytes.subarray(a!, a! + b!), ...bytes.subarray(c, c + d!)]);
      assertEquals(await Deno.readFile(file.host), expected, file.path);
      const info = await Deno.stat(file.host);
      assertEquals([info.mode! & 0o777, info.mtime!.getTime() / 1000], [file.mode, file.mtime]);
    }
    assertEquals(
      copied,
      files.reduce((sum, file) => sum + file.extents[1]! + (file.extents[3] ?? 0), 0),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extent copy workers: an extent past the end of the image is reported as cut short, with its path", async () => {
  const { dir, image } = await imageFixture();
  try {
    const pool = new ExtentCopyWorkers(image, () => {}, 1);
    try {
      await pool.add({
        path: "Packages/big.rpm",
        host: `${dir}/out/big.rpm`,
        extents: [3 * 1024 * 1024 - 100, 400],
        mode: 0o644,
        mtime: 0,
      }, 400);
      const failure = await pool.finish();
      ok(failure?.cutShort, JSON.stringify(failure));
      assertEquals(failure.path, "Packages/big.rpm");
      ok(/300 bytes short/.test(failure.message), failure.message);
      ok(pool.failed);
    } finally {
      pool.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extent copy workers: a file that already exists is neither followed nor overwritten", async () => {
  const { dir, image } = await imageFixture();
  try {
    await Deno.writeTextFile(`${dir}/elsewhere`, "keep");
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/out/link`);
    const pool = new ExtentCopyWorkers(image, () => {}, 1);
    try {
      await pool.add({
        path: "link",
        host: `${dir}/out/link`,
        extents: [0, 10],
        mode: 0o644,
        mtime: 0,
      }, 10);
      const failure = await pool.finish();
      assertEquals([failure?.path, failure?.cutShort], ["link", false]);
      ok(/EEXIST|exists/i.test(failure!.message), failure!.message);
    } finally {
      pool.close();
    }
    assertEquals(await Deno.readTextFile(`${dir}/elsewhere`), "keep");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extent copy workers: an image on another file system (tmpfs, where the kernel refuses copy_file_range) is copied by read and write", async () => {
  const { dir, bytes } = await imageFixture();
  const shm = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "osimg-extent-copy-" });
  try {
    await Deno.writeFile(`${shm}/image`, bytes);
    const pool = new ExtentCopyWorkers(`${shm}/image`, () => {}, 1);
    try {
      await pool.add({
        path: "a",
        host: `${dir}/out/a`,
        extents: [5, 2_500_000, 10, 10],
        mode: 0o600,
        mtime: 0,
      }, 2_500_010);
      assertEquals(await pool.finish(), undefined);
    } finally {
      pool.close();
    }
    assertEquals(
      await Deno.readFile(`${dir}/out/a`),
      new Uint8Array([...bytes.subarray(5, 2_500_005), ...bytes.subarray(10, 20)]),
    );
  } finally {
    await Deno.remove(shm, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});
