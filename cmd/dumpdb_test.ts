import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { join } from "node:path";
import { assertGolden, snapshotTree, type TestRoot } from "../testdata/support/testing.ts";
import { storeRoot, storeTest } from "../testdata/support/store_testing.ts";

/** A site with some of everything: definitions, group rows, disabled rows, awkward values. */
async function populate(t: TestRoot): Promise<void> {
  await t.ok([
    "mkdef",
    "-t",
    "osimage",
    "-o",
    "rhels9-x86_64-netboot-compute",
    "provmethod=netboot",
    "profile=compute",
    "osvers=rhels9.2",
    "osarch=x86_64",
    "pkglist=/opt/a.pkglist,/opt/b.pkglist",
    'description=The "stock" image, with commas, quotes and ünïcode',
  ]);
  await t.ok(["mkdef", "-t", "osimage", "-o", "sles15-netboot", "provmethod=netboot"]);
  await t.ok(["mkdef", "-t", "node", "cn[01-05]", "groups=compute,all", "netboot=xnba"]);
  await t.ok(["chdef", "-t", "group", "compute", "os=rhels9.2", "arch=x86_64"]);
  await t.ok(["chdef", "-t", "site", "clustersite", "domain=cluster.example", "master=10.0.0.1"]);
  await Deno.writeTextFile(
    join(t.root, "litefile.csv"),
    '#image,file,options,comments,disable\n"ALL","/etc/adjtime","tmpfs",,\n' +
      '"ALL","/var/log/","persistent","kept, for now","1"\n',
  );
  await t.ok(["tabrestore", "litefile.csv"]);
}

/** Every table's tabdump, concatenated: what a round trip must keep byte for byte. */
async function tabdumps(t: TestRoot): Promise<string> {
  let all = "";
  for (const table of (await t.ok(["tabdump"])).stdout.trim().split("\n")) {
    all += `== ${table}\n${(await t.ok(["tabdump", table])).stdout}`;
  }
  return all;
}

/** The files of a dump directory and their text. */
async function files(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    found[entry.name] = await Deno.readTextFile(join(dir, entry.name));
  }
  return Object.fromEntries(Object.entries(found).sort(([a], [b]) => a < b ? -1 : 1));
}

storeTest(
  "dumpdb writes each table's tabdump as <table>.csv, mode 0600, in a new 0700 directory",
  async (t) => {
    await populate(t);
    await t.ok(["dumpdb", "-p", "backup/db"]);
    const dir = join(t.root, "backup/db");
    assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
    const dumped = await files(dir);
    const tables = (await t.ok(["tabdump"])).stdout.trim().split("\n");
    assertEquals(Object.keys(dumped), tables.map((table) => `${table}.csv`));
    for (const table of tables) {
      assertEquals(dumped[`${table}.csv`], (await t.ok(["tabdump", table])).stdout, table);
      assertEquals((await Deno.stat(join(dir, `${table}.csv`))).mode! & 0o777, 0o600);
    }
    await assertGolden("dumpdb_osimage.csv", dumped["osimage.csv"]!);
  },
);

Deno.test("SQLite -> PostgreSQL -> SQLite with dumpdb/restoredb: identical tabdumps and files", async () => {
  await using sqlite = await storeRoot("SQLite");
  await using postgres = await storeRoot("PostgreSQL");
  await using back = await storeRoot("SQLite");
  await populate(sqlite);
  const original = await tabdumps(sqlite);
  const dirs = await Deno.makeTempDir({ prefix: "osimg-dumpdb-" });
  try {
    await sqlite.ok(["dumpdb", `${dirs}/from-sqlite`]);
    const restored = await postgres.ok(["restoredb", "-p", `${dirs}/from-sqlite`]);
    assertEquals(restored, { status: 0, stdout: "Restore of Database Complete.\n", stderr: "" });
    assertEquals(await tabdumps(postgres), original);
    await postgres.ok(["dumpdb", `${dirs}/from-postgres`]);
    assertEquals(await files(`${dirs}/from-postgres`), await files(`${dirs}/from-sqlite`));
    await back.ok(["restoredb", `${dirs}/from-postgres`]);
    assertEquals(await tabdumps(back), original);
    // The definitions read back alike too (group inheritance, lists).
    const listing = (await sqlite.ok(["lsdef", "-l", "all"])).stdout;
    assertEquals((await postgres.ok(["lsdef", "-l", "all"])).stdout, listing);
    assertEquals((await back.ok(["lsdef", "-l", "all"])).stdout, listing);
  } finally {
    await Deno.remove(dirs, { recursive: true });
  }
});

/** A dump of `t` with `file` replaced by `text`; restoring it must fail with `message`. */
async function refusedRestore(t: TestRoot, file: string, text: string, message: string) {
  await populate(t);
  await t.ok(["dumpdb", "dump"]);
  // A valid change in another file: it must not land either.
  await Deno.writeTextFile(
    join(t.root, "dump/site.csv"),
    '#key,value,comments,disable\n"domain","changed",,\n',
  );
  await Deno.writeTextFile(join(t.root, "dump", file), text);
  const before = await tabdumps(t);
  const output = await t.run(["restoredb", "dump"]);
  assertEquals(output, { status: 1, stdout: "", stderr: `Error: ${message}\n` });
  assertEquals(await tabdumps(t), before);
}

storeTest("restoredb with a malformed CSV changes nothing", async (t) => {
  await refusedRestore(
    t,
    "nodelist.csv",
    '#node,groups\n"cn01","compute\n',
    `Cannot restore '${t.root}/dump/nodelist.csv': line 2: unterminated quoted value`,
  );
});

storeTest("restoredb with a column the table lacks changes nothing", async (t) => {
  await refusedRestore(
    t,
    "osimage.csv",
    '#imagename,colour\n"img","red"\n',
    `Cannot restore '${t.root}/dump/osimage.csv': The table 'osimage' has no column 'colour'.`,
  );
});

storeTest("restoredb with a key given twice changes nothing", async (t) => {
  await refusedRestore(
    t,
    "nodetype.csv",
    '#node,os\n"cn01","a"\n"cn01","b"\n',
    `Cannot restore '${t.root}/dump/nodetype.csv': Row 2 of the 'nodetype' data repeats the ` +
      "key node=cn01.",
  );
});

storeTest("restoredb with a row naming an image '..' changes nothing", async (t) => {
  await refusedRestore(
    t,
    "osimage.csv",
    '#imagename,provmethod\n"..","netboot"\n',
    `Cannot restore '${t.root}/dump/osimage.csv': Row 1 of the 'osimage' data has an invalid ` +
      "imagename: The object name '..' is invalid: '.' and '..' name directories, not objects.",
  );
});

storeTest(
  "restoredb restores the files it finds, warns of tables osimg does not keep, honours skiptables",
  async (t) => {
    await populate(t);
    const dir = join(t.root, "xcatdump");
    await Deno.mkdir(dir);
    // Part of a full xCAT dump: tables osimg keeps, and some it does not.
    await Deno.writeTextFile(
      join(dir, "site.csv"),
      '#key,value,comments,disable\n"domain","x.org",,\n',
    );
    await Deno.writeTextFile(
      join(dir, "passwd.csv"),
      '#key,username,password\n"system","root","secret"\n',
    );
    await Deno.writeTextFile(join(dir, "switch.csv"), "#node,switch,port\n");
    await Deno.writeTextFile(join(dir, "auditlog.csv"), "#recid,audittime\n");
    await Deno.writeTextFile(join(dir, "notes.txt"), "not a table\n");
    const nodesBefore = (await t.ok(["tabdump", "nodelist"])).stdout;
    const output = await t.run(["restoredb", "xcatdump"], { env: { XCAT_SKIPTABLES: "passwd" } });
    assertEquals(output, {
      status: 0,
      stdout: "Restore of Database Complete.\n",
      stderr: "Warning: osimg keeps none of these tables, so their files were not restored: " +
        "auditlog.csv, switch.csv.\n",
    });
    assertEquals(
      (await t.ok(["tabdump", "site"])).stdout,
      '#key,value,comments,disable\n"domain","x.org",,\n',
    );
    // Skipped, and tables without a file: as they were.
    assertEquals((await t.ok(["tabdump", "passwd"])).stdout.trim().split("\n").length, 1);
    assertEquals((await t.ok(["tabdump", "nodelist"])).stdout, nodesBefore);
  },
);

storeTest("dumpdb leaves out site.skiptables and XCAT_SKIPTABLES", async (t) => {
  await populate(t);
  await t.ok(["chdef", "-t", "site", "clustersite", "skiptables=passwd,hosts"]);
  await t.ok(["dumpdb", "dump"], { env: { XCAT_SKIPTABLES: "litefile" } });
  const names = Object.keys(await files(join(t.root, "dump")));
  for (const skipped of ["passwd.csv", "hosts.csv", "litefile.csv"]) ok(!names.includes(skipped));
  ok(names.includes("osimage.csv") && names.includes("site.csv"));
});

storeTest(
  "restoredb of a directory without table files, or none at all, is one clear error",
  async (t) => {
    await Deno.mkdir(join(t.root, "empty"));
    const before = await snapshotTree(t.root);
    assertEquals(await t.run(["restoredb", "empty"]), {
      status: 1,
      stdout: "",
      stderr: `Error: There is no table to restore in '${t.root}/empty': dumpdb writes one ` +
        "<table>.csv per table (bootparams, boottarget, chain, ...).\n",
    });
    const missing = await t.run(["restoredb", "nosuch"]);
    assertEquals(missing.status, 1);
    ok(missing.stderr.startsWith(`Error: Cannot read the directory '${t.root}/nosuch': `));
    assertEquals(await t.run(["dumpdb"]), {
      status: 2,
      stdout: "",
      stderr: "Error: dumpdb: give one directory. Run 'dumpdb --help' for usage.\n",
    });
    assertEquals(await snapshotTree(t.root), before);
  },
);
