import { deepStrictEqual as assertEquals, rejects, throws } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openSqliteStore, SCHEMA_VERSION } from "./sqlite_store.ts";

async function tempDb(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "osimg-store-" });
  return { path: `${dir}/db.sqlite`, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("a new database is created in WAL mode at the latest schema version", async () => {
  const { path, cleanup } = await tempDb();
  try {
    const store = openSqliteStore(path);
    assertEquals(await store.schemaVersion(), SCHEMA_VERSION);
    store.close();
    const raw = new DatabaseSync(path);
    assertEquals({ ...raw.prepare("PRAGMA journal_mode").get() }, { journal_mode: "wal" });
    const columns = (raw.prepare("PRAGMA table_info(osimage)").all() as { name: string }[])
      .map((column) => column.name);
    assertEquals(columns.includes("nfsrootopts"), true);
    raw.close();
  } finally {
    await cleanup();
  }
});

Deno.test("migrations run in order and keep existing rows", async () => {
  const { path, cleanup } = await tempDb();
  try {
    const old = openSqliteStore(path, { migrateTo: 1 });
    assertEquals(await old.schemaVersion(), 1);
    await old.write((writer) =>
      writer.upsert("osimage", { imagename: "img", provmethod: "netboot" })
    );
    // Writing a column version 1 lacks is silently dropped, not an SQL error.
    await old.write((writer) => writer.upsert("osimage", { imagename: "img", nfsrootopts: "x" }));
    old.close();
    const current = openSqliteStore(path);
    assertEquals(await current.schemaVersion(), SCHEMA_VERSION);
    await current.write((writer) =>
      writer.upsert("osimage", { imagename: "img", nfsrootopts: "vers=4" })
    );
    assertEquals(await current.read((reader) => reader.rows("osimage")), [
      { imagename: "img", provmethod: "netboot", nfsrootopts: "vers=4" },
    ]);
    current.close();
  } finally {
    await cleanup();
  }
});

Deno.test("a database newer than this osimg is refused", async () => {
  const { path, cleanup } = await tempDb();
  try {
    openSqliteStore(path).close();
    const raw = new DatabaseSync(path);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    throws(() => openSqliteStore(path), /newer than this osimg understands/);
  } finally {
    await cleanup();
  }
});

Deno.test("a failing write transaction leaves nothing behind", async () => {
  const { path, cleanup } = await tempDb();
  try {
    const store = openSqliteStore(path);
    await rejects(
      store.write(async (writer) => {
        await writer.upsert("site", { key: "a", value: "1" });
        throw new Error("boom");
      }),
      /boom/,
    );
    assertEquals(await store.read((reader) => reader.rows("site")), []);
    store.close();
  } finally {
    await cleanup();
  }
});

Deno.test("disabled rows are skipped unless asked for", async () => {
  const { path, cleanup } = await tempDb();
  try {
    const store = openSqliteStore(path);
    await store.write(async (writer) => {
      await writer.upsert("site", { key: "a", value: "1", disable: "yes" });
      await writer.upsert("site", { key: "b", value: "2", disable: "0" });
    });
    assertEquals(await store.read((reader) => reader.rows("site")), [
      { key: "b", value: "2", disable: "0" },
    ]);
    assertEquals(
      (await store.read((reader) => reader.rows("site", {}, { includeDisabled: true }))).length,
      2,
    );
    store.close();
  } finally {
    await cleanup();
  }
});

Deno.test("a NUL byte in a value is refused, not stored truncated", async () => {
  const { path, cleanup } = await tempDb();
  try {
    const store = openSqliteStore(path);
    await store.write((writer) => writer.upsert("nodetype", { node: "cn1", os: "rhels9" }));
    await rejects(
      store.write(async (writer) => {
        await writer.upsert("nodetype", { node: "cn2", os: "a" });
        await writer.upsert("nodetype", { node: "cn1", os: "a\0b" });
      }),
      (error: Error) => {
        assertEquals(error.message, "Cannot store a NUL byte in 'nodetype.os' (node=cn1).");
        return true;
      },
    );
    assertEquals(await store.read((reader) => reader.rows("nodetype")), [
      { node: "cn1", os: "rhels9" },
    ]);
    store.close();
  } finally {
    await cleanup();
  }
});
