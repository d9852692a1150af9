import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { cfglocLocation, openStore, parseStoreLocation } from "./open_store.ts";
import { snapshotTree, testRoot } from "../../testdata/support/testing.ts";
import { PASSWORD_ROLE, testPostgres } from "../../testdata/support/postgres_server.ts";

Deno.test("--db is read as a file path, sqlite: or file: URL, or postgresql: URL", () => {
  const cases: [string, ReturnType<typeof parseStoreLocation>][] = [
    ["db.sqlite", { kind: "sqlite", path: "/work/db.sqlite" }],
    ["/etc/xcat/osimg.sqlite", { kind: "sqlite", path: "/etc/xcat/osimg.sqlite" }],
    ["odd:name.sqlite", { kind: "sqlite", path: "/work/odd:name.sqlite" }],
    ["sqlite:///etc/xcat/osimg.sqlite", { kind: "sqlite", path: "/etc/xcat/osimg.sqlite" }],
    ["sqlite:///a%20b/db", { kind: "sqlite", path: "/a b/db" }],
    ["sqlite:sub/db.sqlite", { kind: "sqlite", path: "/work/sub/db.sqlite" }],
    ["file:///var/lib/osimg.sqlite", { kind: "sqlite", path: "/var/lib/osimg.sqlite" }],
    ["postgresql://xcat@mn/xcatdb", { kind: "postgresql", url: "postgresql://xcat@mn/xcatdb" }],
    ["postgres://mn/xcatdb", { kind: "postgresql", url: "postgres://mn/xcatdb" }],
  ];
  for (const [given, expected] of cases) assertEquals(parseStoreLocation(given, "/work"), expected);
});

Deno.test("a database URL osimg cannot open is a usage error naming what to give", () => {
  const refused: [string, string][] = [
    [
      "sqlite://host/db",
      "The database URL 'sqlite://host/db' names a host; a SQLite database is a local file: " +
      "write sqlite:///absolute/path.",
    ],
    [
      "mysql://mn/xcatdb",
      "Unknown database URL scheme 'mysql:' in --db: give a file path, sqlite:///path or " +
      "postgresql://...",
    ],
    ["sqlite:///a%zz", "The database URL 'sqlite:///a%zz' has a malformed %-escape."],
  ];
  for (const [given, message] of refused) {
    throws(() => parseStoreLocation(given, "/work"), (error: unknown) => {
      ok(error instanceof UsageError);
      assertEquals(error.message, message);
      return true;
    });
  }
});

Deno.test("openStore opens a SQLite store from a sqlite: URL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-open-store-" });
  try {
    const store = openStore(`sqlite://${dir}/etc/db.sqlite`);
    await store.write((writer) => writer.upsert("site", { key: "domain", value: "cluster" }));
    await store.close();
    const again = openStore(`file://${dir}/etc/db.sqlite`);
    assertEquals(await again.read((reader) => reader.rows("site")), [
      { key: "domain", value: "cluster" },
    ]);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--db postgresql:// and OSIMG_DB keep the definitions on the server, nothing under the root", async () => {
  const server = await testPostgres();
  await using database = await server.database();
  await using t = await testRoot();
  await t.ok(["--db", database.url, "mkdef", "-t", "osimage", "-o", "img", "profile=p"]);
  const listed = await t.ok(["lsdef", "-t", "osimage"], { env: { OSIMG_DB: database.url } });
  assertEquals(listed.stdout, "img  (osimage)\n");
  assertEquals(await snapshotTree(t.root), []);
  // libpq's variables complete a bare URL.
  const viaPgEnv = await t.ok(["--db", "postgresql://", "lsdef", "-t", "osimage"], {
    env: {
      PGHOST: server.socketDir,
      PGPORT: String(server.port),
      PGUSER: "postgres",
      PGDATABASE: database.name,
    },
  });
  assertEquals(viaPgEnv.stdout, "img  (osimage)\n");
});

Deno.test("xCAT's cfgloc (Pg:...|user|password) is honoured when no --db is given", async () => {
  const server = await testPostgres();
  await using database = await server.database();
  await using t = await testRoot();
  await Deno.mkdir(`${t.root}/etc/xcat`, { recursive: true });
  await Deno.writeTextFile(
    `${t.root}/etc/xcat/cfgloc`,
    `Pg:dbname=${database.name};host=127.0.0.1;port=${server.port}|${PASSWORD_ROLE.user}|` +
      `${PASSWORD_ROLE.password}\n`,
  );
  const before = await snapshotTree(t.root);
  await t.ok(["mkdef", "-t", "osimage", "-o", "img", "profile=p"]);
  // No SQLite file appeared: the row is on the server, where --db finds it too.
  assertEquals(await snapshotTree(t.root), before);
  const listed = await t.ok(["--db", database.url, "lsdef", "-t", "osimage"]);
  assertEquals(listed.stdout, "img  (osimage)\n");
  // A cfgloc naming the server's Unix socket directory.
  await Deno.writeTextFile(
    `${t.root}/etc/xcat/cfgloc`,
    `Pg:dbname=${database.name};host=${server.socketDir};port=${server.port}|postgres|\n`,
  );
  assertEquals((await t.ok(["lsdef", "-t", "osimage"])).stdout, "img  (osimage)\n");
  // --db wins over cfgloc.
  const own = await t.ok(["--db", `${t.root}/own.sqlite`, "lsdef", "-t", "osimage"]);
  assertEquals(own.stdout, "Could not find any object definitions to display.\n");
});

Deno.test("cfgloc: a mysql database is refused (only Pg is shared), an SQLite one means osimg's own file", async () => {
  await using t = await testRoot();
  await Deno.mkdir(`${t.root}/etc/xcat`, { recursive: true });
  await Deno.writeTextFile(
    `${t.root}/etc/xcat/cfgloc`,
    "mysql:dbname=xcatdb;host=mn|xcatadmin|hunter2\n",
  );
  const before = await snapshotTree(t.root);
  const output = await t.run(["mkdef", "-t", "osimage", "-o", "img", "profile=p"]);
  assertEquals(output, {
    status: 1,
    stdout: "",
    stderr: `Error: ${t.root}/etc/xcat/cfgloc names a mysql database; osimg shares only a ` +
      "PostgreSQL database (Pg:dbname=...;host=...|user|password). Give --db to use another " +
      "store.\n",
  });
  assertEquals(await snapshotTree(t.root), before);
  await Deno.writeTextFile(`${t.root}/etc/xcat/cfgloc`, "SQLite:/etc/xcat\n");
  await t.ok(["mkdef", "-t", "osimage", "-o", "img", "profile=p"]);
  ok((await snapshotTree(t.root)).some((line) => line.startsWith("f etc/xcat/osimg.sqlite ")));
});

Deno.test("cfgloc becomes the URL libpq would read from it", () => {
  const cases: [string, string | undefined][] = [
    [
      "Pg:dbname=xcatdb;host=10.0.0.1|xcatadm|cluster",
      "postgresql://xcatadm:cluster@10.0.0.1/xcatdb",
    ],
    ["Pg:dbname=x;host=mn;port=5433|a|p@s:s/w", "postgresql://a:p%40s%3As%2Fw@mn:5433/x"],
    ["Pg:dbname=x;host=/run/pg;port=5433|a|", "postgresql://a@/x?host=%2Frun%2Fpg&port=5433"],
    ["Pg:dbname=x;host=fd00::1|a|", "postgresql://a@[fd00::1]/x"],
    ["SQLite:/etc/xcat", undefined],
  ];
  for (const [text, url] of cases) {
    const location = cfglocLocation(text, "cfgloc");
    assertEquals(location, url === undefined ? undefined : { kind: "postgresql", url });
  }
  throws(() => cfglocLocation("Pg:host=mn|a|b", "cfgloc"), /cfgloc names no database/);
});

Deno.test("a PostgreSQL server that cannot be reached: one line naming it, exit 1, no password", async () => {
  await using t = await testRoot();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const output = await t.run([
    "--db",
    `postgresql://xcat:hunter2@127.0.0.1:${port}/xcatdb?sslmode=disable`,
    "lsdef",
  ]);
  assertEquals(output, {
    status: 1,
    stdout: "",
    stderr: `Error: Cannot connect to the PostgreSQL database 'xcatdb' on 127.0.0.1:${port}: ` +
      "connection refused.\n",
  });
  assertEquals(await snapshotTree(t.root), []);
});

Deno.test("--db sqlite:///path is the same database as the plain path", async () => {
  await using t = await testRoot();
  await t.ok([
    "--db",
    `sqlite://${t.root}/other.sqlite`,
    "mkdef",
    "-t",
    "osimage",
    "-o",
    "img",
    "profile=p",
  ]);
  const listed = await t.ok(["--db", `${t.root}/other.sqlite`, "lsdef", "-t", "osimage"]);
  assertEquals(listed.stdout, "img  (osimage)\n");
  ok(!(await snapshotTree(t.root)).some((line) => line.includes("etc/xcat")));
});
