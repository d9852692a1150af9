import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { storeTest } from "../testdata/support/store_testing.ts";

storeTest("tabdump lists the tables, sorted", async (t) => {
  const { stdout } = await t.ok(["tabdump"]);
  const names = stdout.trim().split("\n");
  assertEquals(names, [...names].sort());
  assertEquals(names.includes("osimage") && names.includes("linuximage"), true);
});

storeTest("tabdump of an empty table prints the header only", async (t) => {
  const { stdout } = await t.ok(["tabdump", "postscripts"]);
  assertEquals(stdout, "#node,postscripts,postbootscripts,comments,disable\n");
});

storeTest("tabdump of an unknown table fails with xCAT's message", async (t) => {
  const output = await t.run(["tabdump", "nosuch"]);
  assertEquals(output.status, 1);
  assertEquals(output.stderr, "Error: No such table: nosuch\n");
});

storeTest("tabdump -w filters rows, -f writes a file, --json prints objects", async (t) => {
  await t.ok(["chdef", "-t", "site", "clustersite", "domain=a.org", "master=10.0.0.1"]);
  assertEquals(
    (await t.ok(["tabdump", "-w", "key==master", "site"])).stdout,
    '#key,value,comments,disable\n"master","10.0.0.1",,\n',
  );
  assertEquals(
    (await t.ok(["tabdump", "-w", "value=~^10\\.", "-w", "key!=domain", "site"])).stdout,
    '#key,value,comments,disable\n"master","10.0.0.1",,\n',
  );
  await t.ok(["tabdump", "-f", "site.csv", "site"]);
  assertEquals(
    await Deno.readTextFile(`${t.root}/site.csv`),
    '#key,value,comments,disable\n"domain","a.org",,\n"master","10.0.0.1",,\n',
  );
  assertEquals(JSON.parse((await t.ok(["tabdump", "--json", "site"])).stdout), [
    { key: "domain", value: "a.org" },
    { key: "master", value: "10.0.0.1" },
  ]);
  const bad = await t.run(["tabdump", "-w", "nosuch==1", "site"]);
  assertEquals(bad.status, 1);
  assertEquals(bad.stderr, "Error: The table 'site' has no column 'nosuch'.\n");
});

storeTest("tabdump shows disabled rows, which definitions ignore", async (t) => {
  await Deno.writeTextFile(
    `${t.root}/osimage.csv`,
    '#imagename,provmethod,disable\n"on","netboot",\n"off","netboot","1"\n',
  );
  await t.ok(["tabrestore", `${t.root}/osimage.csv`]);
  const dump = (await t.ok(["tabdump", "osimage"])).stdout;
  assertEquals(dump.trim().split("\n").length, 3);
  assertEquals((await t.ok(["lsdef", "-t", "osimage"])).stdout, "on  (osimage)\n");
});

storeTest("tabdump -d describes the tables", async (t) => {
  const { stdout } = await t.ok(["tabdump", "-d"]);
  assertEquals(stdout.includes("osimage: Basic information about an operating system image"), true);
});

storeTest("tabdump -f into a missing directory is one clear error", async (t) => {
  const output = await t.run(["tabdump", "-f", "nodir/site.csv", "site"]);
  assertEquals(output.status, 1);
  assertEquals(output.stderr.startsWith("Error: Cannot write 'nodir/site.csv': "), true);
  assertEquals(output.stderr.trim().split("\n").length, 1);
});

storeTest(
  "tabdump --json lists the CSV's rows in the CSV's order, columns in table order",
  async (t) => {
    // Rows restored out of key order, with the header's columns reversed, then one changed.
    await Deno.writeTextFile(
      `${t.root}/nodelist.csv`,
      '#comments,groups,node\n"late","rack2,all","n10"\n,"all","n02"\n"x","rack1,all","n01"\n',
    );
    await t.ok(["tabrestore", `${t.root}/nodelist.csv`]);
    await t.ok(["chdef", "-t", "node", "n02", "status=booted", "groups=rack1,all"]);
    const csv = (await t.ok(["tabdump", "nodelist"])).stdout.trim().split("\n");
    const header = csv[0]!.slice(1).split(",");
    const json = JSON.parse((await t.ok(["tabdump", "--json", "nodelist"])).stdout) as Record<
      string,
      string
    >[];
    assertEquals(json.map((row) => row.node), csv.slice(1).map((line) => line.split('"')[1]));
    for (const row of json) {
      const keys = Object.keys(row);
      assertEquals(keys, header.filter((column) => keys.includes(column)));
    }
  },
);
