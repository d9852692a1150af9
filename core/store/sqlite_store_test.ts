import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openSqliteStore } from "./sqlite_store.ts";
import { SCHEMA_VERSION } from "./migrations.ts";
import { storeContract } from "./store_contract.ts";

storeContract("SQLite", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-store-contract-" });
  const path = `${dir}/etc/xcat/osimg.sqlite`;
  return {
    url: `sqlite://${path}`,
    open: (options) => Promise.resolve(openSqliteStore(path, options)),
    setSchemaVersion: (version) => {
      const raw = new DatabaseSync(path);
      try {
        raw.exec(`PRAGMA user_version = ${version}`);
      } finally {
        raw.close();
      }
      return Promise.resolve();
    },
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
});

/** The schema of a database as SQLite keeps it: each table's CREATE statement, in order. */
function schemaOf(path: string): string[] {
  const raw = new DatabaseSync(path);
  try {
    return (raw.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid")
      .all() as { sql: string }[]).map((row) => `${row.sql};`);
  } finally {
    raw.close();
  }
}

/** testdata/store/schema_v<version>.sql: what the migrations made before they were data. */
async function oldSchema(version: number): Promise<string[]> {
  const text = await Deno.readTextFile(
    new URL(`../../testdata/store/schema_v${version}.sql`, import.meta.url),
  );
  return text.split("\n").filter((line) => line !== "" && !line.startsWith("--"));
}

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

Deno.test("a new database has exactly the schema the migrations made before they were data", async () => {
  const { path, cleanup } = await tempDb();
  try {
    openSqliteStore(path).close();
    assertEquals(schemaOf(path), await oldSchema(SCHEMA_VERSION));
    const first = `${path}.v1`;
    openSqliteStore(first, { migrateTo: 1 }).close();
    assertEquals(schemaOf(first), await oldSchema(1));
  } finally {
    await cleanup();
  }
});

Deno.test("a version 1 database made by the earlier migration code opens, keeps its rows and migrates", async () => {
  const { path, cleanup } = await tempDb();
  try {
    const raw = new DatabaseSync(path);
    for (const statement of await oldSchema(1)) raw.exec(statement);
    raw.exec("PRAGMA user_version = 1");
    raw.exec(`INSERT INTO "osimage" ("imagename", "provmethod") VALUES ('img', 'netboot')`);
    raw.exec(`INSERT INTO "site" ("key", "value") VALUES ('domain', 'cluster.com')`);
    raw.close();
    const store = openSqliteStore(path);
    assertEquals(await store.schemaVersion(), SCHEMA_VERSION);
    await store.write((writer) =>
      writer.upsert("osimage", { imagename: "img", nfsrootopts: "vers=4" })
    );
    assertEquals(await store.read((reader) => reader.rows("osimage")), [
      { imagename: "img", provmethod: "netboot", nfsrootopts: "vers=4" },
    ]);
    assertEquals(await store.read((reader) => reader.rows("site")), [
      { key: "domain", value: "cluster.com" },
    ]);
    store.close();
    assertEquals(schemaOf(path), await oldSchema(SCHEMA_VERSION));
  } finally {
    await cleanup();
  }
});
