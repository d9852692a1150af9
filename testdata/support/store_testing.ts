// Test support: the definition-verb tests once per store, SQLite and PostgreSQL, on the same golden files.

import { openStore } from "../../core/store/open_store.ts";
import type { Store } from "../../core/store/store.ts";
import { type TestRoot, testRoot } from "./testing.ts";
import { testPostgres } from "./postgres_server.ts";

/** The stores every definition-verb test runs against. */
export const TEST_STORES = ["SQLite", "PostgreSQL"] as const;
export type TestStore = typeof TEST_STORES[number];

/**
 * A fresh root whose runs use `store`: SQLite's file under the root, or a new database on the
 * test process's PostgreSQL cluster (dropped with the root).
 */
export async function storeRoot(store: TestStore): Promise<TestRoot> {
  if (store === "SQLite") return await testRoot();
  const database = await (await testPostgres()).database(await migratedTemplate());
  const t = await testRoot({ db: database.url });
  const cleanup = async () => {
    await t.cleanup();
    await database[Symbol.asyncDispose]();
  };
  return { ...t, cleanup, [Symbol.asyncDispose]: cleanup };
}

let template: Promise<string> | undefined;

/**
 * A database migrated once per test process that each test's database copies: a copy takes
 * ~30 ms, migrating ~80 ms. (A test of the migrations themselves starts from an empty one.)
 */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const server = await testPostgres();
    const database = await server.database();
    const store = openStore(database.url);
    try {
      await store.schemaVersion();
    } finally {
      await store.close();
    }
    // Dropped with the cluster at the end of the process.
    return database.name;
  })();
  return template;
}

/**
 * Registers `name [SQLite]` and `name [PostgreSQL]`, each given a fresh root on its store: the
 * same assertions and golden files, so both stores must print the same bytes.
 *
 * @example
 * ```ts
 * storeTest("mkdef then lsdef", async (t) => { await t.ok(["mkdef", "-t", "node", "cn1"]); });
 * ```
 */
export function storeTest(
  name: string,
  body: (t: TestRoot, context: Deno.TestContext) => Promise<void>,
): void {
  for (const store of TEST_STORES) {
    Deno.test(`${name} [${store}]`, async (context) => {
      await using t = await storeRoot(store);
      await body(t, context);
    });
  }
}

/** `work` on the root's store opened directly (rows written behind osimg's checks). */
export async function withStore<T>(t: TestRoot, work: (store: Store) => Promise<T>): Promise<T> {
  const store = openStore(t.db);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
