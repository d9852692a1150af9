import { deepStrictEqual as assertEquals, rejects, throws } from "node:assert/strict";
import { join } from "node:path";
import {
  buildNodeUniverse,
  loadNodeUniverse,
  NODE_KEYED_TABLES,
  type NodeUniverseData,
} from "./node_universe.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";
import { expandNoderange } from "./noderange.ts";
import type { Row } from "../store/store.ts";

const nodelist: Row[] = [
  { node: "cn01", groups: "compute,ib,all" },
  { node: "cn02", groups: "compute,all" },
  { node: "sn1", groups: "service,all" },
  { node: "lonely" },
];

Deno.test("groups and members follow nodelist.groups order", () => {
  const universe = buildNodeUniverse({ tables: { nodelist } });
  assertEquals(universe.nodes, ["cn01", "cn02", "sn1", "lonely"]);
  assertEquals(universe.groupsOf("cn01"), ["compute", "ib", "all"]);
  assertEquals(universe.groupsOf("lonely"), []);
  assertEquals(universe.groupsOf("nosuch"), []);
  assertEquals(universe.membersOf("all"), ["cn01", "cn02", "sn1"]);
  assertEquals(universe.membersOf("ib"), ["cn01"]);
  assertEquals(universe.membersOf("nosuch"), []);
  assertEquals(universe.hasNode("cn01"), true);
  assertEquals(universe.hasNode("compute"), false);
  const spaced = buildNodeUniverse({ tables: { nodelist: [{ node: "x", groups: " a, b ,,c" }] } });
  assertEquals(spaced.groupsOf("x"), ["a", "b", "c"]);
});

Deno.test("inheritedRow: own row first, then the first group with a value, in groups order", () => {
  const universe = buildNodeUniverse({
    tables: {
      nodelist,
      nodetype: [
        { node: "all", os: "rhels8", arch: "x86_64", profile: "base" },
        { node: "compute", os: "rhels9.2", profile: "compute" },
        { node: "ib", profile: "ib" },
        { node: "cn02", profile: "special", comments: "mine" },
      ],
    },
  });
  assertEquals(universe.inheritedRow("nodetype", "cn01"), {
    os: "rhels9.2",
    arch: "x86_64",
    profile: "compute",
  });
  assertEquals(universe.inheritedRow("nodetype", "cn02"), {
    profile: "special",
    comments: "mine",
    os: "rhels9.2",
    arch: "x86_64",
  });
  assertEquals(universe.inheritedRow("nodetype", "lonely"), {});
  assertEquals(universe.inheritedValue("nodetype", "os", "sn1"), "rhels8");
  assertEquals(universe.inheritedValue("nodetype", "nodetype", "sn1"), undefined);
  assertEquals(universe.inheritedFrom("nodetype", "os", "cn01"), ["compute"]);
  assertEquals(universe.inheritedFrom("nodetype", "profile", "cn02"), []);
  assertEquals(universe.inheritedFrom("nodetype", "arch", "cn02"), ["all"]);
  assertEquals(universe.inheritedFrom("nodetype", "nodetype", "cn02"), []);
  assertEquals(universe.inheritedValue("nodetype", "node", "cn01"), "cn01");
  assertEquals(universe.inheritedValue("nodetype", "node", "lonely"), undefined);
});

Deno.test("inheritedRow evaluates regex values against the node name", () => {
  const universe = buildNodeUniverse({
    tables: {
      nodelist,
      hosts: [{ node: "compute", ip: "|\\D+(\\d+)|10.0.0.($1+0)|", hostnames: "/$/-eth0/" }],
    },
  });
  assertEquals(universe.inheritedRow("hosts", "cn01"), { ip: "10.0.0.1", hostnames: "cn01-eth0" });
  assertEquals(universe.inheritedRow("hosts", "cn02").ip, "10.0.0.2");
  assertEquals(universe.inheritedRow("hosts", "sn1"), {});
});

Deno.test("site.hierarchicalattrs concatenates node and all groups, dropping repeats", () => {
  const data: NodeUniverseData = {
    tables: {
      nodelist,
      postscripts: [
        { node: "cn01", postscripts: "mine", postbootscripts: "pb-node" },
        { node: "compute", postscripts: "setupib,mine", postbootscripts: "pb-compute" },
        { node: "ib", postscripts: "ibconf" },
        { node: "all", postscripts: "syslog,remoteshell", postbootscripts: "pb-all" },
      ],
    },
    site: [{ key: "hierarchicalattrs", value: "postscripts" }],
  };
  const universe = buildNodeUniverse(data);
  assertEquals(universe.inheritedRow("postscripts", "cn01"), {
    postscripts: "mine,setupib,ibconf,syslog,remoteshell",
    postbootscripts: "pb-node", // not hierarchical: first value wins
  });
  assertEquals(universe.inheritedFrom("postscripts", "postscripts", "cn01"), [
    "cn01",
    "compute",
    "ib",
    "all",
  ]);
  assertEquals(
    universe.inheritedValue("postscripts", "postscripts", "cn02"),
    "setupib,mine,syslog,remoteshell",
  );
  // Without the site key, the first value wins as for every attribute.
  const plain = buildNodeUniverse({ tables: data.tables });
  assertEquals(plain.inheritedValue("postscripts", "postscripts", "cn01"), "mine");
});

Deno.test("a value ending in +=NEXTRECORD takes the next group's value after it", () => {
  const universe = buildNodeUniverse({
    tables: {
      nodelist,
      bootparams: [
        { node: "cn01", addkcmdline: "console=ttyS0 +=NEXTRECORD" },
        { node: "compute", addkcmdline: "quiet" },
      ],
    },
  });
  assertEquals(universe.inheritedValue("bootparams", "addkcmdline", "cn01"), "console=ttyS0 quiet");
});

Deno.test("resolveAttribute: table.column, short names, resolver, unique column", () => {
  const universe = buildNodeUniverse({ tables: { nodelist, nodetype: [], noderes: [] } }, {
    resolveAttribute: (name) =>
      name === "supportproxydhcp" ? { table: "noderes", column: "proxydhcp" } : undefined,
  });
  assertEquals(universe.resolveAttribute("nodetype.os"), { table: "nodetype", column: "os" });
  assertEquals(universe.resolveAttribute("groups"), { table: "nodelist", column: "groups" });
  assertEquals(universe.resolveAttribute("mgt"), { table: "nodehm", column: "mgt" });
  assertEquals(universe.resolveAttribute("supportproxydhcp"), {
    table: "noderes",
    column: "proxydhcp",
  });
  assertEquals(universe.resolveAttribute("arch"), { table: "nodetype", column: "arch" });
  assertEquals(universe.resolveAttribute("nodetype.nosuch"), undefined);
  assertEquals(universe.resolveAttribute("comments"), undefined);
  assertEquals(universe.resolveAttribute("nosuch"), undefined);
});

Deno.test("only node-keyed tables, and only loaded ones, can be read", () => {
  throws(() => buildNodeUniverse({ tables: { osimage: [] } }), /not keyed by node/);
  throws(() => buildNodeUniverse({ tables: { nosuch: [] } }), /No such table: nosuch/);
  const universe = buildNodeUniverse({ tables: { nodelist } });
  throws(() => universe.inheritedRow("nodetype", "cn01"), /was not loaded/);
  assertEquals(NODE_KEYED_TABLES.includes("nodetype"), true);
  assertEquals(NODE_KEYED_TABLES.includes("nodegroup"), false);
});

Deno.test("loadNodeUniverse reads a real SQLite store once per table; disabled rows are ignored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-universe-" });
  const store = openSqliteStore(join(dir, "osimg.sqlite"));
  try {
    await store.write(async (writer) => {
      await writer.upsert("nodelist", { node: "cn01", groups: "compute,all" });
      await writer.upsert("nodelist", { node: "cn02", groups: "compute,all" });
      await writer.upsert("nodelist", { node: "old", groups: "all", disable: "1" });
      await writer.upsert("nodetype", { node: "compute", os: "rhels9.2" });
      await writer.upsert("nodetype", { node: "cn02", os: "sles15", disable: "yes" });
      await writer.upsert("nodegroup", {
        groupname: "sles",
        grouptype: "dynamic",
        wherevals: "os==sles15",
      });
      await writer.upsert("site", { key: "excludenodes", value: "cn02" });
    });
    const universe = await store.read((reader) => loadNodeUniverse(reader, ["nodetype"]));
    assertEquals(universe.nodes, ["cn01", "cn02"]);
    assertEquals(universe.inheritedValue("nodetype", "os", "cn02"), "rhels9.2");
    assertEquals(universe.site("excludenodes"), "cn02");
    assertEquals(universe.hasTable("noderes"), false);
    assertEquals(expandNoderange("compute", universe), ["cn01"]);
    assertEquals(expandNoderange("sles", universe, { honorExcludeNodes: false }), []);
    const everything = await store.read((reader) => loadNodeUniverse(reader));
    assertEquals(everything.hasTable("noderes"), true);
    await rejects(
      store.read((reader) => loadNodeUniverse(reader, ["osimage"])),
      /not keyed by node/,
    );
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
