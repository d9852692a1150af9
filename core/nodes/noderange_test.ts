import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { expandNoderange, MAX_ATOMS, MAX_RANGE_NAMES, type NoderangeOptions } from "./noderange.ts";
import { buildNodeUniverse, type NodeUniverse, type NodeUniverseData } from "./node_universe.ts";
import { InvalidInputError } from "../errors.ts";
import type { Row } from "../store/store.ts";

/** The universe of the reference's §3.2: node01..node20, cn1-3, sn1, node1-ib. */
function referenceData(): NodeUniverseData {
  const nodelist: Row[] = [];
  for (let number = 1; number <= 20; number++) {
    const name = `node${String(number).padStart(2, "0")}`;
    nodelist.push({ node: name, groups: `all,compute,${number <= 10 ? "rack1" : "rack2"}` });
  }
  for (const name of ["cn1", "cn2", "cn3"]) nodelist.push({ node: name, groups: "all,small" });
  nodelist.push({ node: "sn1", groups: "all,service" });
  nodelist.push({ node: "node1-ib", groups: "all" });
  return {
    tables: {
      nodelist,
      nodetype: [
        { node: "compute", os: "rhels9.2", arch: "x86_64" },
        { node: "node05", os: "sles15" },
        { node: "cn1", os: "rhels8.8" },
        { node: "service", os: "ubuntu22.04" },
      ],
      nodehm: [{ node: "all", mgt: "ipmi" }, { node: "sn1", mgt: "kvm" }],
    },
    nodegroup: [
      { groupname: "empty" },
      { groupname: "rhel", grouptype: "dynamic", wherevals: "os=~^rhels::arch==x86_64" },
      { groupname: "ipmi9", grouptype: "dynamic", wherevals: "mgt==ipmi::nodetype.os=~9" },
      { groupname: "sn1", grouptype: "static" },
    ],
  };
}

const universe = buildNodeUniverse(referenceData());

function range(text: string, options?: NoderangeOptions, on: NodeUniverse = universe): string[] {
  return expandNoderange(text, on, options);
}

function names(prefix: string, from: number, to: number, width = 2): string[] {
  const list: string[] = [];
  for (let number = from; number <= to; number++) {
    list.push(prefix + String(number).padStart(width, "0"));
  }
  return list;
}

function invalid(text: string, missing: string, options?: NoderangeOptions) {
  throws(() => range(text, options), (error: unknown) => {
    ok(error instanceof InvalidInputError, String(error));
    assertEquals(error.message, `Invalid nodes and/or groups in noderange: ${missing}`);
    return true;
  });
}

Deno.test("§3.2: dash, bracket and colon ranges with zero padding", () => {
  const five = names("node", 1, 5);
  assertEquals(range("node01-node05"), five);
  assertEquals(range("node[01-05]"), five);
  assertEquals(range("node01:node03"), names("node", 1, 3));
  assertEquals(range("node[01:03]"), names("node", 1, 3));
});

Deno.test("§3.2: node[1-5] is missing (padded names); non-verify generates node1..node5", () => {
  invalid("node[1-5]", "node1,node2,node3,node4,node5");
  assertEquals(range("node[1-5]", { verify: false }), names("node", 1, 5, 1));
});

Deno.test("§3.2: lists inside brackets, +N, exclusion, intersection", () => {
  assertEquals(range("node[01-03,07]"), ["node01", "node02", "node03", "node07"]);
  assertEquals(range("node01+3"), names("node", 1, 4));
  assertEquals(range("compute,-rack2"), names("node", 1, 10));
  assertEquals(range("compute@rack1"), names("node", 1, 10));
  assertEquals(range("rack1@node0[1-3]"), names("node", 1, 3));
  assertEquals(range("rack1,-node[02-09]"), ["node01", "node10"]);
});

Deno.test("§3.2: parenthesised groups with @ and exclusion", () => {
  assertEquals(range("compute@(rack2,cn1)"), names("node", 11, 20));
  assertEquals(range("all,-(rack1,rack2)"), ["cn1", "cn2", "cn3", "node1-ib", "sn1"]);
});

Deno.test("§3.2: regular expressions match node names only", () => {
  assertEquals(range("/node1[0-2]"), ["node10", "node11", "node12"]);
  assertEquals(range("all,-/node.*"), ["cn1", "cn2", "cn3", "sn1"]);
  assertEquals(range("/rack.*"), []); // groups are not matched, despite the man page
  assertEquals(range("/node1[0-2]", { verify: false }), ["/node1[0-2]"]);
});

Deno.test("a /regex element keeps its parentheses: `/^node0(1|2)$` is one regex", () => {
  // noderange(3)'s own example `/d(1.?.?|200)`: the '|' and the parentheses belong to the regex.
  assertEquals(range("/^node0(1|2)$"), ["node01", "node02"]);
  assertEquals(range("/node(1|2)0"), ["node10", "node20"]);
  assertEquals(range("sn1,/node0(1|2),-node02"), ["node01", "sn1"]);
  assertEquals(range("rack1,-/node0(1|2|3)"), names("node", 4, 10));
  assertEquals(range("/node(0[1-3]|11)@rack2"), ["node11"]);
  // A regex inside a grouping parenthesis, and a group after a regex.
  assertEquals(range("rack1,-(/node0(1|2),node03)"), names("node", 4, 10));
  assertEquals(range("/node0(1|2),(cn1,cn2)"), ["cn1", "cn2", "node01", "node02"]);
  // A pattern with an unbalanced '(' is an invalid atom, not an unbalanced noderange.
  invalid("/node0(1", "/node0(1");
  // Outside a regex, parentheses still group and must balance.
  throws(() => range("(cn1"), /Unbalanced parentheses/);
});

Deno.test("§3.2: attribute selection", () => {
  assertEquals(range("nodelist.groups=~rack1"), names("node", 1, 10));
  assertEquals(range("groups==all,small"), ["cn1", "cn2", "cn3", "node1-ib"]);
});

Deno.test("§3.2: the 1-3 prefix rule, with XCAT_NODE_PREFIX and suffix as parameters", () => {
  invalid("1-3", "node1,node2,node3");
  assertEquals(range("1-3", { verify: false }), ["node1", "node2", "node3"]);
  assertEquals(range("1-3", { nodePrefix: "cn" }), ["cn1", "cn2", "cn3"]);
  assertEquals(range("01-03", { verify: false, nodePrefix: "n", nodeSuffix: "-ib" }), [
    "n01-ib",
    "n02-ib",
    "n03-ib",
  ]);
  assertEquals(range("2", { nodePrefix: "cn" }), ["cn2"]);
  assertEquals(range("10+2", { verify: false }), ["node10", "node11", "node12"]);
});

Deno.test("§3.2: non-verify syntactic names", () => {
  assertEquals(range("n[1-2]r[1-2]", { verify: false }), ["n1r1", "n1r2", "n2r1", "n2r2"]);
  assertEquals(range("node1-ib-node3-ib", { verify: false }), ["node1-ib", "node2-ib", "node3-ib"]);
  assertEquals(range("a-b-c", { verify: false }), ["a-b-c"]);
  invalid("node1-ib-node3-ib", "node2-ib,node3-ib");
});

Deno.test("§3.2: dedup and ASCII sort; a range of group names", () => {
  assertEquals(range("sn1,cn1,sn1"), ["cn1", "sn1"]);
  assertEquals(range("rack1-rack2"), names("node", 1, 20));
  assertEquals(range("node10,node9,node2", { verify: false }), ["node10", "node2", "node9"]);
});

Deno.test("exclusion wins regardless of position; parentheses evaluate first", () => {
  assertEquals(range("node01-node10,-node03-node05,node04"), [
    "node01",
    "node02",
    "node06",
    "node07",
    "node08",
    "node09",
    "node10",
  ]);
  // xCAT's caveat: the text before a parenthesis is its own noderange, so node01 comes back.
  assertEquals(range("rack1,-node01,(node01)"), names("node", 1, 10));
  assertEquals(range("(rack1),-node01"), names("node", 2, 10));
  assertEquals(range("-node01,rack1"), names("node", 2, 10));
  assertEquals(range("(cn1,cn2),(sn1)"), ["cn1", "cn2", "sn1"]);
  assertEquals(range("compute@(rack1@(node01,node02,node15))"), ["node01", "node02"]);
});

Deno.test("zero padding: magic string increment across widths, descending quirks", () => {
  assertEquals(range("node09-node11", { verify: false }), ["node09", "node10", "node11"]);
  assertEquals(range("node9-node11", { verify: false }), ["node10", "node11", "node9"]);
  assertEquals(range("n98+3", { verify: false }), ["n101", "n98", "n99", "n100"].sort());
  assertEquals(range("n098+3", { verify: false }), ["n098", "n099", "n100", "n101"]);
  // Descending: unpadded gives nothing, padded string-increments until the width grows.
  assertEquals(range("node9-node1", { verify: false }), []);
  assertEquals(range("node05-node01", { verify: false }), names("node", 5, 99));
  invalid("node001-node002", "node001,node002");
});

Deno.test("+N keeps the width and works on the last number before a domain", () => {
  assertEquals(range("r1n08+2", { verify: false }), ["r1n08", "r1n09", "r1n10"]);
  assertEquals(range("cn01.cluster+1", { verify: false }), ["cn01.cluster", "cn02.cluster"]);
  invalid("cn+1", "cn+1");
  assertEquals(range("cn+x", { verify: false }), ["cn+x"]);
});

Deno.test("multiple brackets multiply; brackets with a suffix", () => {
  assertEquals(range("f[1-2]n[1-3]", { verify: false }).length, 6);
  assertEquals(range("node[1,3]-ib", { verify: false }), ["node1-ib", "node3-ib"]);
  assertEquals(range("node[1-3]-ib", { verify: false }), ["node1-ib", "node2-ib", "node3-ib"]);
});

Deno.test("the all-or-nothing error lists every unknown atom once", () => {
  invalid("node01,bogus,node02,nothere,bogus", "bogus,nothere");
  invalid("compute,-ghost", "ghost");
  invalid("node19-node22", "node21,node22");
  invalid("/[", "/[");
  invalid("nosuchtable.col==1", "nosuchtable.col==1");
  invalid("a~b", "a~b");
});

Deno.test("a group defined in nodegroup without members is empty, not an error", () => {
  assertEquals(range("empty"), []);
  assertEquals(range("empty,cn1"), ["cn1"]);
});

Deno.test("a node named like a nodegroup entry is still the node", () => {
  assertEquals(range("sn1"), ["sn1"]);
});

Deno.test("attribute selection: inherited values, ==, =, !=, =~ /re/, !~, short names", () => {
  const rhels92 = names("node", 1, 20).filter((name) => name !== "node05");
  assertEquals(range("nodetype.os==rhels9.2"), rhels92);
  assertEquals(range("nodetype.os=rhels9.2"), rhels92);
  assertEquals(range("nodetype.os=~rh"), [...rhels92, "cn1"].sort());
  assertEquals(range("nodetype.os=~/^rh/"), [...rhels92, "cn1"].sort());
  assertEquals(range("nodetype.os!~rh@compute"), ["node05"]);
  assertEquals(range("nodetype.os!=rhels9.2@small"), ["cn1", "cn2", "cn3"]);
  assertEquals(range("mgt==kvm"), ["sn1"]);
  assertEquals(range("tags=~service"), ["sn1"]);
});

Deno.test("dynamic groups: wherevals attr==val::attr=~val over inherited attributes", () => {
  const rhels92 = names("node", 1, 20).filter((name) => name !== "node05");
  assertEquals(range("rhel"), rhels92);
  assertEquals(range("ipmi9"), rhels92);
  assertEquals(range("rhel,-rack2"), names("node", 1, 10).filter((name) => name !== "node05"));
  const broken = buildNodeUniverse({
    ...referenceData(),
    nodegroup: [{ groupname: "bad", grouptype: "dynamic", wherevals: "nosuchattr==1" }],
  });
  throws(() => range("bad", {}, broken), /dynamic group 'bad' has an invalid wherevals/);
});

Deno.test("dynamic groups resolve lsdef attribute names through the given resolver", () => {
  const data = referenceData();
  data.tables = {
    ...data.tables,
    noderes: [{ node: "cn2", proxydhcp: "yes" }],
  };
  data.nodegroup = [{
    groupname: "proxies",
    grouptype: "dynamic",
    wherevals: "supportproxydhcp==yes",
  }];
  const resolved = buildNodeUniverse(data, {
    resolveAttribute: (name) =>
      name === "supportproxydhcp" ? { table: "noderes", column: "proxydhcp" } : undefined,
  });
  assertEquals(range("proxies", {}, resolved), ["cn2"]);
});

Deno.test("site.excludenodes is subtracted from every noderange unless disabled", () => {
  const data = referenceData();
  data.site = [{ key: "excludenodes", value: "node0[1-5],rack2,ghost" }];
  const excluding = buildNodeUniverse(data);
  assertEquals(range("compute", {}, excluding), names("node", 6, 10));
  assertEquals(range("node01", {}, excluding), []);
  assertEquals(range("compute", { honorExcludeNodes: false }, excluding), names("node", 1, 20));
});

Deno.test("^file: one noderange per line, comments skipped, text after space/colon ignored", () => {
  const files: Record<string, string> = {
    "/tmp/nodes": "# my nodes\nnode01-node03 first three\ncn1: a comment\n^ignored\n\n-node02\r\n",
  };
  const readFile = (path: string) => {
    const text = files[path];
    if (text === undefined) throw new Error("No such file or directory");
    return text;
  };
  // The '-node02' line is its own noderange and is unioned: it excludes nothing (xCAT's quirk).
  assertEquals(range("^/tmp/nodes", { readFile }), ["cn1", "node01", "node02", "node03"]);
  assertEquals(range("sn1,^/tmp/nodes,-node01", { readFile }), ["cn1", "node02", "node03", "sn1"]);
  throws(() => range("^/nope", { readFile }), /Cannot read the noderange file '\/nope'/);
  throws(() => range("^/tmp/nodes"), /Cannot read the noderange file/);
});

Deno.test("quotes are stripped; empty elements are skipped; empty range is empty", () => {
  assertEquals(range(`'cn1',"cn2",,cn3,`), ["cn1", "cn2", "cn3"]);
  assertEquals(range(""), []);
});

Deno.test("unbalanced parentheses and runaway ranges are clear errors", () => {
  throws(() => range("(cn1"), /Unbalanced parentheses in noderange: \(cn1/);
  invalid("cn1)", "cn1)"); // no '(' at all: xCAT takes it as a name
  throws(
    () => range(`node[1-${MAX_RANGE_NAMES + 5}]`, { verify: false }),
    /would generate more than/,
  );
});

Deno.test("a product of ranges that would run out of memory is refused (found by the property test)", () => {
  // Each range is under MAX_RANGE_NAMES; their product (10^10 names) is not.
  throws(
    () => range("cn[01-99999]cn[01-99999]"),
    (error) =>
      error instanceof InvalidInputError &&
      error.message ===
        `The noderange expands to more than ${MAX_ATOMS} names; give a smaller range.`,
  );
});

Deno.test("the unknown names of a large range are listed up to a hundred, then counted", () => {
  throws(
    () => range("zz[1-250]"),
    (error) =>
      error instanceof InvalidInputError &&
      error.message.endsWith(",zz100,... (150 more)") && error.message.split(",").length === 101,
  );
});

Deno.test("genericRange expands syntactically without consulting nodes or groups", () => {
  assertEquals(range("compute", { verify: false, genericRange: true }), ["compute"]);
  assertEquals(range("node[01-02]", { verify: false, genericRange: true }), ["node01", "node02"]);
});
