import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { join } from "node:path";
import { assertGolden, type TestRoot } from "../testdata/support/testing.ts";
import { storeTest } from "../testdata/support/store_testing.ts";

/** Loads the reference's §3.2 cluster (plus attributes) with tabrestore, as an admin would. */
async function cluster(t: TestRoot): Promise<void> {
  const nodelist = [
    "#node,groups,status,statustime,appstatus,appstatustime,primarysn,hidden," +
    "updatestatus,updatestatustime,zonename,comments,disable",
  ];
  for (let number = 1; number <= 20; number++) {
    const name = `node${String(number).padStart(2, "0")}`;
    nodelist.push(`"${name}","all,compute,${number <= 10 ? "rack1" : "rack2"}",,,,,,,,,,,`);
  }
  for (const name of ["cn1", "cn2", "cn3"]) nodelist.push(`"${name}","all,small",,,,,,,,,,,`);
  nodelist.push(`"sn1","all,service",,,,,,,,,,,`);
  nodelist.push(`"node1-ib","all",,,,,,,,,,,`);
  nodelist.push(`"fsp1","all",,,,,,"1",,,,,`);
  const files: Record<string, string[]> = {
    nodelist,
    nodetype: [
      "#node,os,arch,profile,provmethod,supportedarchs,nodetype,comments,disable",
      `"compute","rhels9.2","x86_64","compute",,,,,`,
      `"node05","sles15",,,,,,,`,
      `"small","rhels8.8","x86_64",,,,,,`,
    ],
    hosts: [
      "#node,ip,hostnames,otherinterfaces,comments,disable",
      `"compute","|\\D+(\\d+)|10.0.0.($1+0)|",,,,`,
      `"sn1","10.0.1.1",,,,`,
    ],
    nodegroup: [
      "#groupname,grouptype,members,membergroups,wherevals,comments,disable",
      `"sles","dynamic",,,"os==sles15",,`,
    ],
  };
  for (const [table, lines] of Object.entries(files)) {
    await Deno.writeTextFile(join(t.root, `${table}.csv`), lines.join("\n") + "\n");
    await t.ok(["tabrestore", `${table}.csv`]);
  }
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

storeTest("nodels alone lists every node, ASCII-sorted, hidden nodes left out", async (t) => {
  await cluster(t);
  const { stdout } = await t.ok(["nodels"]);
  const names = lines(stdout);
  assertEquals(names.length, 25);
  assertEquals(names.slice(0, 5), ["cn1", "cn2", "cn3", "node01", "node02"]);
  assertEquals(names.includes("fsp1"), false);
  assertEquals(lines((await t.ok(["nodels", "-S"])).stdout).includes("fsp1"), true);
});

storeTest("nodels with a noderange prints the §3.2 results", async (t) => {
  await cluster(t);
  const cases: [string, string[]][] = [
    ["compute,-rack2", lines((await t.ok(["nodels", "node01-node10"])).stdout)],
    ["all,-(rack1,rack2)", ["cn1", "cn2", "cn3", "node1-ib", "sn1"]],
    ["rack1@node0[1-3]", ["node01", "node02", "node03"]],
    ["/node1[0-2]", ["node10", "node11", "node12"]],
    ["sn1,cn1,sn1", ["cn1", "sn1"]],
    ["sles", ["node05"]],
  ];
  for (const [range, expected] of cases) {
    assertEquals(lines((await t.ok(["nodels", range])).stdout), expected, range);
  }
});

storeTest(
  "nodels with one attribute prints 'node: value', inherited and regex-computed",
  async (t) => {
    await cluster(t);
    assertEquals(
      (await t.ok(["nodels", "node0[4-6]", "nodetype.os"])).stdout,
      "node04: rhels9.2\nnode05: sles15\nnode06: rhels9.2\n",
    );
    assertEquals(
      (await t.ok(["nodels", "node01,node12,sn1", "hosts.ip"])).stdout,
      "node01: 10.0.0.1\nnode12: 10.0.0.12\nsn1: 10.0.1.1\n",
    );
    // A node without the attribute still gets its line, with an empty value.
    assertEquals((await t.ok(["nodels", "node1-ib", "nodetype.os"])).stdout, "node1-ib: \n");
    assertEquals((await t.ok(["nodels", "cn1", "groups"])).stdout, "cn1: all,small\n");
  },
);

storeTest("nodels with several attributes or -H prints 'node: table.column: value'", async (t) => {
  await cluster(t);
  const { stdout } = await t.ok(["nodels", "cn1,node05", "nodetype.os", "groups", "hosts.ip"]);
  await assertGolden("nodels_attributes.txt", stdout);
  assertEquals(
    (await t.ok(["nodels", "-H", "sn1", "hosts.ip"])).stdout,
    "sn1: hosts.ip: 10.0.1.1\n",
  );
});

storeTest("nodels selections hide nodes and are not printed unless asked twice", async (t) => {
  await cluster(t);
  assertEquals(lines((await t.ok(["nodels", "all", "nodetype.os==rhels8.8"])).stdout), [
    "cn1",
    "cn2",
    "cn3",
  ]);
  assertEquals(
    (await t.ok(["nodels", "compute", "nodetype.os!~rh", "hosts.ip"])).stdout,
    "node05: hosts.ip: 10.0.0.5\n",
  );
  assertEquals(
    (await t.ok(["nodels", "rack1", "nodetype.os=~/^sles/", "nodetype.os"])).stdout,
    "node05: nodetype.os: sles15\n",
  );
});

storeTest("nodels <range> <table> shows the table's set columns with field names", async (t) => {
  await cluster(t);
  assertEquals(
    (await t.ok(["nodels", "node07", "nodetype"])).stdout,
    "node07: nodetype.node: node07\nnode07: nodetype.os: rhels9.2\n" +
      "node07: nodetype.arch: x86_64\nnode07: nodetype.profile: compute\n",
  );
});

storeTest("nodels -b names the group an inherited value came from", async (t) => {
  await cluster(t);
  assertEquals(
    (await t.ok(["nodels", "-b", "node04,node05", "nodetype.os"])).stdout,
    "node04: rhels9.2 (inherited from group compute)\nnode05: sles15\n",
  );
});

storeTest("nodels --json", async (t) => {
  await cluster(t);
  assertEquals(JSON.parse((await t.ok(["nodels", "small", "--json"])).stdout), [
    "cn1",
    "cn2",
    "cn3",
  ]);
  assertEquals(JSON.parse((await t.ok(["nodels", "cn1", "nodetype.os", "--json"])).stdout), [
    { node: "cn1", values: [{ label: "nodetype.os", value: "rhels8.8" }] },
  ]);
});

storeTest("nodels: XCAT_NODE_PREFIX and ^file come from the invocation", async (t) => {
  await cluster(t);
  assertEquals(
    lines((await t.ok(["nodels", "1-3"], { env: { XCAT_NODE_PREFIX: "cn" } })).stdout),
    ["cn1", "cn2", "cn3"],
  );
  await Deno.writeTextFile(join(t.root, "mynodes"), "# list\nsn1\nnode20 last one\n");
  assertEquals(lines((await t.ok(["nodels", "^mynodes"])).stdout), ["node20", "sn1"]);
});

storeTest(
  "nodels errors: unknown node, bad attribute, unbalanced range, unknown flag",
  async (t) => {
    await cluster(t);
    const unknown = await t.run(["nodels", "node01,ghost,node[21-22]"]);
    assertEquals(unknown.status, 1);
    assertEquals(unknown.stdout, "");
    assertEquals(
      unknown.stderr,
      "Error: Invalid nodes and/or groups in noderange: ghost,node21,node22\n",
    );
    const attribute = await t.run(["nodels", "cn1", "nodetype.nosuch"]);
    assertEquals(attribute.status, 1);
    assertEquals(attribute.stderr, "Error: nodetype.nosuch not a valid table.column description\n");
    const word = await t.run(["nodels", "cn1", "bogus"]);
    assertEquals(word.stderr, "Error: bogus not a valid table.column description\n");
    const twice = await t.run(["nodels", "cn1", "nodetype.os==a", "nodetype.os=~b"]);
    assertEquals(twice.stderr, "Error: Multiple selection critera for nodetype.os\n");
    const paren = await t.run(["nodels", "(cn1"]);
    assertEquals(paren.status, 1);
    ok(paren.stderr.includes("Unbalanced parentheses"));
    const flag = await t.run(["nodels", "--bogus"]);
    assertEquals(flag.status, 2);
    const missingFile = await t.run(["nodels", "^nofile"]);
    assertEquals(missingFile.status, 1);
    ok(missingFile.stderr.startsWith("Error: Cannot read the noderange file 'nofile'"));
  },
);

storeTest(
  "nodels '/^node0(1|2)$' lists node01 and node02 (a regex keeps its parentheses)",
  async (t) => {
    await cluster(t);
    assertEquals((await t.ok(["nodels", "/^node0(1|2)$"])).stdout, "node01\nnode02\n");
    assertEquals((await t.ok(["nodels", "rack1,-/node0(1|2|3)$"])).stdout.split("\n")[0], "node04");
    const bad = await t.run(["nodels", "/node0(1"]);
    assertEquals(bad.status, 1);
    assertEquals(bad.stderr, "Error: Invalid nodes and/or groups in noderange: /node0(1\n");
  },
);

storeTest("nodels on an empty database prints nothing", async (t) => {
  assertEquals(await t.ok(["nodels"]).then((output) => output.stdout), "");
});
