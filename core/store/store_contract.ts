// The behaviour every Store must have, as Deno tests a store implementation's test file registers.

import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { openStore } from "./open_store.ts";
import { systemRunner } from "../process.ts";
import { newerSchemaError, SCHEMA_VERSION } from "./migrations.ts";
import type { Store } from "./store.ts";

/** A fresh, empty database for one test. */
export interface ContractDatabase {
  /** Its --db URL: other processes open it with openStore (the serialization test). */
  url: string;
  /** Opens a store on it (migrating it to `migrateTo`); several may be open at once. */
  open(options?: { migrateTo?: number }): Promise<Store>;
  /** Sets the recorded schema version behind the store's back (as a newer osimg would). */
  setSchemaVersion(version: number): Promise<void>;
  /** Removes the database. */
  [Symbol.asyncDispose](): Promise<void>;
}

const COUNTER = fileURLToPath(
  new URL("../../testdata/support/contract_counter.ts", import.meta.url),
);
const KILLED_WRITER = fileURLToPath(
  new URL("../../testdata/support/contract_killed_writer.ts", import.meta.url),
);

/**
 * Registers the store contract's tests, named `<name> store: ...`, each on a database from
 * `newDatabase`.
 *
 * @example
 * ```ts
 * storeContract("SQLite", async () => { const dir = await Deno.makeTempDir(); ... });
 * ```
 */
export function storeContract(name: string, newDatabase: () => Promise<ContractDatabase>): void {
  const test = (title: string, body: (database: ContractDatabase, store: Store) => Promise<void>) =>
    Deno.test(`${name} store: ${title}`, async () => {
      await using database = await newDatabase();
      const store = await database.open();
      try {
        await body(database, store);
      } finally {
        await store.close();
      }
    });
  /** A test on a database no store has opened (and so migrated) yet. */
  const fresh = (title: string, body: (database: ContractDatabase) => Promise<void>) =>
    Deno.test(`${name} store: ${title}`, async () => {
      await using database = await newDatabase();
      await body(database);
    });
  const rows = (store: Store, table: string, where?: Record<string, string>) =>
    store.read((reader) => reader.rows(table, where));

  test(
    "upsert inserts, then sets only the columns it names; an empty value clears",
    async (_, store) => {
      await store.write((writer) =>
        writer.upsert("osimage", { imagename: "img", provmethod: "netboot", profile: "compute" })
      );
      await store.write((writer) =>
        writer.upsert("osimage", { imagename: "img", profile: "service", osarch: "" })
      );
      assertEquals(await rows(store, "osimage"), [
        { imagename: "img", profile: "service", provmethod: "netboot" },
      ]);
      await store.write((writer) => writer.upsert("osimage", { imagename: "img", profile: "" }));
      // An empty column is no column: xCAT makes no difference between NULL and "".
      assertEquals(await rows(store, "osimage"), [{ imagename: "img", provmethod: "netboot" }]);
      // A row naming only its key changes nothing and adds nothing.
      await store.write((writer) => writer.upsert("osimage", { imagename: "img" }));
      assertEquals(await rows(store, "osimage"), [{ imagename: "img", provmethod: "netboot" }]);
    },
  );

  test("rows come back in insertion order; an update keeps a row's place", async (_, store) => {
    await store.write(async (writer) => {
      for (const node of ["n3", "n1", "n2"]) await writer.upsert("nodetype", { node, os: "a" });
    });
    await store.write(async (writer) => {
      await writer.upsert("nodetype", { node: "n3", os: "b" });
      await writer.delete("nodetype", { node: "n1" });
      await writer.upsert("nodetype", { node: "n1", os: "c" });
    });
    assertEquals(await rows(store, "nodetype"), [
      { node: "n3", os: "b" },
      { node: "n2", os: "a" },
      { node: "n1", os: "c" },
    ]);
  });

  test(
    "where matches equal columns, and an empty value matches an empty column",
    async (_, store) => {
      await store.write(async (writer) => {
        await writer.upsert("nodetype", { node: "n1", os: "rhels9", arch: "x86_64" });
        await writer.upsert("nodetype", { node: "n2", os: "rhels9" });
        await writer.upsert("nodetype", { node: "n3", os: "sles15", arch: "x86_64" });
      });
      assertEquals(
        (await rows(store, "nodetype", { os: "rhels9", arch: "x86_64" })).map((row) => row.node),
        ["n1"],
      );
      assertEquals((await rows(store, "nodetype", { arch: "" })).map((row) => row.node), ["n2"]);
    },
  );

  test(
    "delete removes the rows matching where and counts them; an empty where removes all",
    async (_, store) => {
      await store.write(async (writer) => {
        for (const node of ["n1", "n2", "n3"]) {
          await writer.upsert("nodetype", { node, os: node === "n2" ? "sles15" : "rhels9" });
        }
      });
      assertEquals(await store.write((writer) => writer.delete("nodetype", { os: "rhels9" })), 2);
      assertEquals(await rows(store, "nodetype"), [{ node: "n2", os: "sles15" }]);
      assertEquals(await store.write((writer) => writer.delete("nodetype", { os: "none" })), 0);
      assertEquals(await store.write((writer) => writer.delete("nodetype", {})), 1);
      assertEquals(await rows(store, "nodetype"), []);
    },
  );

  test(
    "upserts, deletes and reads within one write keep their order, across tables and repeated keys",
    async (_, store) => {
      const seen = await store.write(async (writer) => {
        // Not awaited one by one: a store may send them together, but must keep their order.
        const pending: Promise<unknown>[] = [];
        for (let index = 0; index < 5; index++) {
          pending.push(writer.upsert("osimage", { imagename: `img${index}`, profile: "a" }));
          pending.push(writer.upsert("nodetype", { node: `n${index}`, os: "x" }));
        }
        pending.push(writer.upsert("osimage", { imagename: "img1", osarch: "x86_64" }));
        pending.push(writer.delete("osimage", { imagename: "img2" }));
        pending.push(writer.upsert("osimage", { imagename: "img2", profile: "b" }));
        pending.push(writer.upsert("osimage", { imagename: "img0", profile: "" }));
        await Promise.all(pending);
        return await writer.rows("osimage");
      });
      const expected = [
        { imagename: "img0" },
        { imagename: "img1", profile: "a", osarch: "x86_64" },
        { imagename: "img3", profile: "a" },
        { imagename: "img4", profile: "a" },
        { imagename: "img2", profile: "b" },
      ];
      assertEquals(seen, expected);
      assertEquals(await rows(store, "osimage"), expected);
      assertEquals((await rows(store, "nodetype")).map((row) => row.node), [
        "n0",
        "n1",
        "n2",
        "n3",
        "n4",
      ]);
    },
  );

  test("disabled rows are skipped unless asked for", async (_, store) => {
    await store.write(async (writer) => {
      await writer.upsert("site", { key: "a", value: "1", disable: "yes" });
      await writer.upsert("site", { key: "b", value: "2", disable: "0" });
      await writer.upsert("site", { key: "c", value: "3", disable: "1" });
    });
    assertEquals(await rows(store, "site"), [{ key: "b", value: "2", disable: "0" }]);
    assertEquals(
      (await store.read((reader) => reader.rows("site", {}, { includeDisabled: true })))
        .map((row) => row.key),
      ["a", "b", "c"],
    );
  });

  test(
    "a write transaction sees its own changes and rolls back whole on a throw",
    async (_, store) => {
      await store.write((writer) => writer.upsert("site", { key: "kept", value: "1" }));
      await rejects(
        store.write(async (writer) => {
          await writer.upsert("site", { key: "a", value: "1" });
          await writer.upsert("site", { key: "kept", value: "2" });
          await writer.delete("site", { key: "kept" });
          assertEquals(await writer.rows("site"), [{ key: "a", value: "1" }]);
          throw new Error("boom");
        }),
        /boom/,
      );
      assertEquals(await rows(store, "site"), [{ key: "kept", value: "1" }]);
      // The store is usable after the rollback.
      await store.write((writer) => writer.upsert("site", { key: "b", value: "2" }));
      assertEquals((await rows(store, "site")).length, 2);
    },
  );

  test("a NUL byte in a value is refused, not stored truncated", async (_, store) => {
    await store.write((writer) => writer.upsert("nodetype", { node: "cn1", os: "rhels9" }));
    await rejects(
      store.write(async (writer) => {
        await writer.upsert("nodetype", { node: "cn2", os: "a" });
        await writer.upsert("nodetype", { node: "cn1", os: "a\0b" });
      }),
      (error: Error) => {
        ok(error instanceof InvalidInputError);
        assertEquals(error.message, "Cannot store a NUL byte in 'nodetype.os' (node=cn1).");
        return true;
      },
    );
    assertEquals(await rows(store, "nodetype"), [{ node: "cn1", os: "rhels9" }]);
  });

  test(
    "unknown tables and columns and a missing key are refused with what is wrong",
    async (_, store) => {
      await rejects(
        store.read((reader) => reader.rows("nosuch")),
        (error: Error) =>
          error instanceof NotFoundError && error.message === "No such table: nosuch",
      );
      await rejects(
        store.write((writer) => writer.upsert("site", { key: "a", colour: "red" })),
        (error: Error) =>
          error instanceof InvalidInputError &&
          error.message === "Table 'site' has no column 'colour'.",
      );
      await rejects(
        store.write((writer) => writer.upsert("site", { value: "1" })),
        (error: Error) =>
          error instanceof InvalidInputError &&
          error.message === "A row of table 'site' needs a value for 'key'.",
      );
      assertEquals(
        await store.read((reader) => reader.rows("site", {}, { includeDisabled: true })),
        [],
      );
    },
  );

  test("a second store on the same database sees committed changes", async (database, store) => {
    const other = await database.open();
    try {
      assertEquals(await other.schemaVersion(), await store.schemaVersion());
      await store.write((writer) => writer.upsert("site", { key: "a", value: "1" }));
      assertEquals(await other.read((reader) => reader.rows("site")), [{ key: "a", value: "1" }]);
      await other.write((writer) => writer.upsert("site", { key: "a", value: "2" }));
      assertEquals(await rows(store, "site"), [{ key: "a", value: "2" }]);
    } finally {
      await other.close();
    }
  });

  test(
    "write transactions of separate processes are serialized: no increment is lost",
    async (database, store) => {
      await store.write((writer) => writer.upsert("site", { key: "counter", value: "0" }));
      const perProcess = 40;
      // Read-modify-write in each transaction: interleaved transactions would lose increments.
      await Promise.all(["a", "b", "c"].map((id) =>
        systemRunner.run([
          Deno.execPath(),
          "run",
          "-A",
          COUNTER,
          database.url,
          id,
          String(perProcess),
        ])
      ));
      const [counter] = await rows(store, "site", { key: "counter" });
      assertEquals(counter?.value, String(3 * perProcess));
      assertEquals((await rows(store, "site")).length, 1 + 3 * perProcess);
    },
  );

  test("openStore opens the database by its URL", async (database, store) => {
    await store.write((writer) => writer.upsert("site", { key: "a", value: "1" }));
    const byUrl = openStore(database.url);
    try {
      assertEquals(await byUrl.read((reader) => reader.rows("site")), [{ key: "a", value: "1" }]);
    } finally {
      await byUrl.close();
    }
  });

  fresh("migrations run in order from version 1 and keep existing rows", async (database) => {
    const old = await database.open({ migrateTo: 1 });
    try {
      assertEquals(await old.schemaVersion(), 1);
      await old.write((writer) =>
        writer.upsert("osimage", { imagename: "img", provmethod: "netboot" })
      );
      // A column version 1 lacks is dropped when written, not an SQL error.
      await old.write((writer) => writer.upsert("osimage", { imagename: "img", nfsrootopts: "x" }));
      assertEquals(await old.read((reader) => reader.rows("osimage")), [
        { imagename: "img", provmethod: "netboot" },
      ]);
    } finally {
      await old.close();
    }
    const current = await database.open();
    try {
      assertEquals(await current.schemaVersion(), SCHEMA_VERSION);
      await current.write((writer) =>
        writer.upsert("osimage", { imagename: "img", nfsrootopts: "vers=4" })
      );
      assertEquals(await current.read((reader) => reader.rows("osimage")), [
        { imagename: "img", provmethod: "netboot", nfsrootopts: "vers=4" },
      ]);
    } finally {
      await current.close();
    }
  });

  fresh("a database newer than this osimg is refused, and left as it is", async (database) => {
    const first = await database.open();
    await first.write((writer) => writer.upsert("site", { key: "domain", value: "cluster" }));
    await first.close();
    await database.setSchemaVersion(SCHEMA_VERSION + 1);
    const expected = newerSchemaError(SCHEMA_VERSION + 1).message;
    for (const attempt of ["read", "write"] as const) {
      await rejects(
        async () => {
          const store = await database.open();
          try {
            if (attempt === "read") await store.read((reader) => reader.rows("site"));
            else await store.write((writer) => writer.upsert("site", { key: "x", value: "1" }));
          } finally {
            await store.close();
          }
        },
        (error: Error) => {
          assertEquals(error.message, expected);
          return true;
        },
      );
    }
    // Put back, the database still holds exactly what it held.
    await database.setSchemaVersion(SCHEMA_VERSION);
    const again = await database.open();
    try {
      assertEquals(await again.read((reader) => reader.rows("site")), [
        { key: "domain", value: "cluster" },
      ]);
    } finally {
      await again.close();
    }
  });

  test(
    "a process killed in the middle of a write transaction leaves nothing of it, and no lock",
    async (database, store) => {
      await store.write((writer) => writer.upsert("site", { key: "before", value: "1" }));
      const kill = new AbortController();
      await rejects(
        systemRunner.stream([Deno.execPath(), "run", "-A", KILLED_WRITER, database.url], {
          // The helper says when its transaction has written and is still open: SIGKILL it then.
          onStdoutLine: (line) => {
            if (line === "in transaction") kill.abort(new Error("killed"));
          },
          signal: kill.signal,
        }),
        /killed/,
      );
      assertEquals(await rows(store, "site"), [{ key: "before", value: "1" }]);
      assertEquals(await rows(store, "osimage"), []);
      // The dead transaction's write lock is gone: this write does not wait for it.
      await store.write((writer) => writer.upsert("site", { key: "after", value: "2" }));
      assertEquals((await rows(store, "site")).map((row) => row.key), ["before", "after"]);
    },
  );
}
