import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { openStore, parseStoreLocation } from "./open_store.ts";
import { snapshotTree, testRoot } from "../../testdata/support/testing.ts";

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
    store.close();
    const again = openStore(`file://${dir}/etc/db.sqlite`);
    assertEquals(await again.read((reader) => reader.rows("site")), [
      { key: "domain", value: "cluster" },
    ]);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--db postgresql:// is refused as not supported yet, without its password, and creates nothing", async () => {
  await using t = await testRoot();
  const before = await snapshotTree(t.root);
  const output = await t.run([
    "--db",
    "postgresql://xcat:s3cret@mn/xcatdb",
    "mkdef",
    "-t",
    "osimage",
    "-o",
    "img",
    "provmethod=netboot",
  ]);
  assertEquals(output, {
    status: 2,
    stdout: "",
    stderr: "Error: The PostgreSQL store (--db postgresql://...) is not supported yet: osimg " +
      "keeps its tables in SQLite for now; give --db a file path or sqlite:///path.\n",
  });
  assertEquals(await snapshotTree(t.root), before);
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
