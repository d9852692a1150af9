import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openSqliteStore } from "./sqlite_store.ts";
import { openStore } from "./open_store.ts";
import { ORDER_COLUMN, VERSION_TABLE } from "./postgres_store.ts";
import { SCHEMA_VERSION } from "./migrations.ts";
import { TABLES } from "./schema.ts";
import { storeContract } from "./store_contract.ts";
import { PASSWORD_ROLE, testPostgres, TLS_ROLE } from "../../testdata/support/postgres_server.ts";
import type { Store } from "./store.ts";

storeContract("PostgreSQL", async () => {
  const server = await testPostgres();
  const database = await server.database();
  return {
    url: database.url,
    open: (options) => Promise.resolve(openStore(database.url, options)),
    setSchemaVersion: async (version) => {
      await server.psql(`UPDATE ${VERSION_TABLE} SET version = ${version}`, database.name);
    },
    [Symbol.asyncDispose]: () => database[Symbol.asyncDispose](),
  };
});

/** `work` on a store, closed after. */
async function using<T>(store: Store, work: (store: Store) => Promise<T>): Promise<T> {
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** What `store` fails with, as a message. */
async function failure(store: Store): Promise<string> {
  let message = "";
  await rejects(
    using(store, (opened) => opened.read((reader) => reader.rows("site"))),
    (error: Error) => {
      message = error.message;
      return true;
    },
  );
  return message;
}

Deno.test("PostgreSQL: the tables have SQLite's columns in SQLite's order, text, keyed alike, then the order column", async () => {
  const server = await testPostgres();
  await using database = await server.database();
  await using(openStore(database.url), (store) => store.schemaVersion());
  const dir = await Deno.makeTempDir({ prefix: "osimg-pg-schema-" });
  try {
    await openSqliteStore(`${dir}/db.sqlite`).close();
    const sqlite = new DatabaseSync(`${dir}/db.sqlite`);
    for (const spec of TABLES) {
      const sqliteColumns = sqlite.prepare(`PRAGMA table_info("${spec.name}")`).all() as {
        name: string;
        type: string;
        pk: number;
      }[];
      const listed = await server.psql(
        "SELECT column_name || ' ' || data_type FROM information_schema.columns " +
          `WHERE table_name = '${spec.name}' ORDER BY ordinal_position`,
        database.name,
      );
      const pgColumns = listed.trim().split("\n").filter((line) =>
        line !== `${ORDER_COLUMN} bigint`
      );
      assertEquals(
        pgColumns,
        sqliteColumns.map((column) => `${column.name} text`),
        `columns of ${spec.name}`,
      );
      ok(listed.includes(`${ORDER_COLUMN} bigint`));
      const keys = await server.psql(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid " +
          `AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '"${spec.name}"'::regclass ` +
          "AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
        database.name,
      );
      assertEquals(keys.trim().split("\n"), [...spec.keys], `primary key of ${spec.name}`);
    }
    sqlite.close();
    assertEquals(
      (await server.psql(`SELECT version FROM ${VERSION_TABLE}`, database.name)).trim(),
      String(SCHEMA_VERSION),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PostgreSQL: a table xCAT made (no order column) is adopted with its rows", async () => {
  const server = await testPostgres();
  await using database = await server.database();
  // xCAT's Table.pm creates every column as TEXT with the keys as the primary key.
  await server.psql(
    'CREATE TABLE site ("key" TEXT NOT NULL, "value" TEXT, comments TEXT, disable TEXT, ' +
      'PRIMARY KEY ("key"));' +
      "INSERT INTO site VALUES ('master', '10.0.0.1', NULL, NULL), ('domain', 'cluster', '', NULL)," +
      " ('old', 'x', NULL, 'yes')",
    database.name,
  );
  await using(openStore(database.url), async (store) => {
    assertEquals(await store.read((reader) => reader.rows("site")), [
      { key: "master", value: "10.0.0.1" },
      { key: "domain", value: "cluster" },
    ]);
    await store.write((writer) => writer.upsert("site", { key: "installdir", value: "/inst" }));
    assertEquals(
      (await store.read((reader) => reader.rows("site", {}, { includeDisabled: true })))
        .map((row) => row.key),
      ["master", "domain", "old", "installdir"],
    );
  });
});

Deno.test("PostgreSQL: two stores writing at once in one process are serialized", async () => {
  const server = await testPostgres();
  await using database = await server.database();
  const stores = [openStore(database.url), openStore(database.url)];
  try {
    await stores[0]!.write((writer) => writer.upsert("site", { key: "n", value: "0" }));
    await Promise.all(stores.map(async (store) => {
      for (let index = 0; index < 25; index++) {
        await store.write(async (writer) => {
          const [row] = await writer.rows("site", { key: "n" });
          await new Promise((resolve) => setTimeout(resolve, 1));
          await writer.upsert("site", { key: "n", value: String(Number(row!.value) + 1) });
        });
      }
    }));
    assertEquals(await stores[1]!.read((reader) => reader.rows("site")), [
      { key: "n", value: "50" },
    ]);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
});

Deno.test("PostgreSQL: a refused connection names the host, port and database, and the password never", async () => {
  const server = await testPostgres();
  // A port nothing listens on: one the test took and let go.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const message = await failure(
    openStore(`postgresql://osimg:hunter2@127.0.0.1:${port}/xcatdb?sslmode=disable`),
  );
  assertEquals(
    message,
    `Cannot connect to the PostgreSQL database 'xcatdb' on 127.0.0.1:${port}: connection refused.`,
  );
  const socket = await failure(
    openStore(`postgresql:///xcatdb?host=${encodeURIComponent(server.socketDir)}&port=1`),
  );
  assertEquals(
    socket,
    `Cannot connect to the PostgreSQL database 'xcatdb' on the Unix socket ` +
      `${server.socketDir}/.s.PGSQL.1: no server socket there.`,
  );
});

Deno.test("PostgreSQL: a wrong password is a refused login, without the password", async () => {
  const server = await testPostgres();
  await using database = await server.database();
  const wrong = "Wr0ng-Secret";
  const message = await failure(openStore(
    `postgresql://${PASSWORD_ROLE.user}:${wrong}@127.0.0.1:${server.port}/${database.name}`,
  ));
  assertEquals(
    message,
    `PostgreSQL refused the login of user '${PASSWORD_ROLE.user}' to the database ` +
      `'${database.name}' on 127.0.0.1:${server.port}: password authentication failed for user ` +
      `"${PASSWORD_ROLE.user}".`,
  );
  ok(!message.includes(wrong));
  // The right password, from PGPASSWORD, logs in.
  const store = openStore(
    `postgresql://${PASSWORD_ROLE.user}@127.0.0.1:${server.port}/${database.name}`,
    { env: { PGPASSWORD: PASSWORD_ROLE.password } },
  );
  await using(store, async (opened) => assertEquals(await opened.schemaVersion(), SCHEMA_VERSION));
});

Deno.test("PostgreSQL: a database that does not exist is named", async () => {
  const server = await testPostgres();
  const message = await failure(openStore(server.url("nosuchdb")));
  assertEquals(
    message,
    `There is no PostgreSQL database 'nosuchdb' on the Unix socket ${server.socketDir}/` +
      `.s.PGSQL.${server.port} (create it: createdb -O postgres nosuchdb).`,
  );
});

Deno.test("PostgreSQL: sslmode reaches the server: require and verify-full encrypt, disable does not", async () => {
  const server = await testPostgres();
  await using database = await server.database();
  const url = (host: string, query: string) =>
    `postgresql://${TLS_ROLE.user}:${TLS_ROLE.password}@${host}:${server.port}/${database.name}?${query}`;
  // The server lets this role in over TLS only (pg_hba hostssl / hostnossl reject).
  for (
    const query of [
      "sslmode=require",
      "sslmode=prefer",
      `sslmode=verify-full&sslrootcert=${encodeURIComponent(server.certFile)}`,
      `sslmode=verify-ca&sslrootcert=${encodeURIComponent(server.certFile)}`,
    ]
  ) {
    const host = query.includes("verify-full") ? "localhost" : "127.0.0.1";
    await using(openStore(url(host, query)), async (store) => {
      await store.write((writer) => writer.upsert("site", { key: "tls", value: query }));
    });
  }
  const viaEnv = openStore(url("127.0.0.1", "").replace(/\?$/, ""), {
    env: { PGSSLMODE: "disable" },
  });
  const refused = await failure(viaEnv);
  ok(
    refused.startsWith(
      `PostgreSQL refused the login of user '${TLS_ROLE.user}' to the database ` +
        `'${database.name}' on 127.0.0.1:${server.port}: pg_hba.conf rejects connection`,
    ),
    refused,
  );
  ok(refused.includes("no encryption"), refused);
  ok(!refused.includes(TLS_ROLE.password));
  // verify-full against the system's CAs: the self-signed certificate is not trusted.
  const untrusted = await failure(openStore(url("localhost", "sslmode=verify-full")));
  ok(
    untrusted.startsWith(
      `Cannot connect to the PostgreSQL database '${database.name}' on localhost:${server.port} ` +
        "over TLS (sslmode verify-full): ",
    ),
    untrusted,
  );
});

Deno.test("PostgreSQL: an upsert the server refuses fails its whole write, which leaves nothing", async () => {
  const server = await testPostgres();
  await using database = await server.database();
  await using(openStore(database.url), async (store) => {
    await store.write((writer) => writer.upsert("site", { key: "kept", value: "1" }));
    // A key too big for the primary key's index: only the server can say no, after the
    // upsert was sent without waiting.
    const huge = Array.from({ length: 3000 }, () => Math.random().toString(36).slice(2)).join("");
    await rejects(
      store.write(async (writer) => {
        await writer.upsert("site", { key: "kept", value: "2" });
        await writer.upsert("osimage", { imagename: "img", profile: "p" });
        await writer.upsert("site", { key: huge, value: "x" });
        await writer.upsert("site", { key: "after", value: "3" });
      }),
      (error: Error) => {
        ok(/index row/.test(error.message), error.message);
        return true;
      },
    );
    assertEquals(await store.read((reader) => reader.rows("site")), [{ key: "kept", value: "1" }]);
    assertEquals(await store.read((reader) => reader.rows("osimage")), []);
    // A read inside the write reports the failure instead of its own answer.
    await rejects(
      store.write(async (writer) => {
        await writer.upsert("site", { key: huge, value: "x" });
        await writer.rows("site");
        throw new Error("the read answered");
      }),
      (error: Error) => /index row/.test(error.message),
    );
    await store.write((writer) => writer.upsert("site", { key: "usable", value: "yes" }));
    assertEquals((await store.read((reader) => reader.rows("site"))).length, 2);
  });
});
