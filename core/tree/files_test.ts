// File-system helpers: existence, directory fsync, making and removing directories, chunked reads.

import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import {
  exists,
  fileChunks,
  makeDirectories,
  removeEmptyDirectories,
  syncDirectory,
} from "./files.ts";
import { NotFoundError } from "../errors.ts";

Deno.test("exists: a dangling symlink is there; a missing path or a file as a parent is not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-files-" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "x");
    await Deno.symlink("nowhere", `${dir}/dangling`);
    assertEquals(await exists(`${dir}/file`), true);
    assertEquals(await exists(`${dir}/dangling`), true);
    assertEquals(await exists(`${dir}/missing`), false);
    assertEquals(await exists(`${dir}/file/below`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("syncDirectory: a failure throws for the journal and is ignored for a pack", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-files-" });
  try {
    await syncDirectory(dir, { onError: "throw" });
    await rejects(syncDirectory(`${dir}/missing`, { onError: "throw" }), Deno.errors.NotFound);
    await syncDirectory(`${dir}/missing`, { onError: "ignore" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("makeDirectories reports what it made, deepest first; removeEmptyDirectories keeps what is in use", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-files-" });
  try {
    assertEquals(await makeDirectories(`${dir}/a/b/c`), [`${dir}/a/b/c`, `${dir}/a/b`, `${dir}/a`]);
    assertEquals((await Deno.stat(`${dir}/a/b`)).mode! & 0o777, 0o755 & ~Deno.umask());
    assertEquals(await makeDirectories(`${dir}/a/b/c`), []);
    const created = await makeDirectories(`${dir}/a/x/y`);
    assertEquals(created, [`${dir}/a/x/y`, `${dir}/a/x`]);
    await Deno.writeTextFile(`${dir}/a/b/c/kept`, "");
    // b/c is in use: it stays, and so do b and a; x/y and x go.
    await removeEmptyDirectories([`${dir}/a/b/c`, `${dir}/a/b`, ...created, `${dir}/a`]);
    assertEquals(await exists(`${dir}/a/b/c/kept`), true);
    assertEquals(await exists(`${dir}/a/x`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileChunks: fresh 1 MiB chunks; a missing file is a NotFoundError naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-files-" });
  try {
    const bytes = new Uint8Array((1 << 20) + 5).map((_, index) => index % 251);
    await Deno.writeFile(`${dir}/f`, bytes);
    const chunks: Uint8Array[] = [];
    for await (const chunk of fileChunks(`${dir}/f`)) chunks.push(chunk);
    assertEquals(chunks.map((chunk) => chunk.byteLength), [1 << 20, 5]);
    ok(chunks[0]!.buffer !== chunks[1]!.buffer);
    assertEquals(Uint8Array.from(chunks.flatMap((chunk) => [...chunk])), bytes);
    await rejects(
      (async () => {
        for await (const _ of fileChunks(`${dir}/missing`)) { /* nothing */ }
      })(),
      (error) => error instanceof NotFoundError && error.message === `Cannot find ${dir}/missing`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
