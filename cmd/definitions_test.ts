import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { assertGolden, snapshotTree, type TestRoot } from "../testdata/support/testing.ts";
import { storeTest, withStore } from "../testdata/support/store_testing.ts";

const IMAGE = "rhels9.2-x86_64-netboot-compute";
const SHARE = "/opt/xcat/share/xcat/netboot/rh";

async function defineStockImage(t: TestRoot): Promise<void> {
  await t.ok([
    "mkdef",
    "-t",
    "osimage",
    "-o",
    IMAGE,
    "addkcmdline=quiet",
    `exlist=${SHARE}/compute.rhels9.x86_64.exlist`,
    "imagetype=linux",
    "osarch=x86_64",
    "osdistroname=rhels9.2-x86_64",
    "osname=Linux",
    "osvers=rhels9.2",
    "otherpkgdir=/install/post/otherpkgs/rhels9.2/x86_64",
    "pkgdir=/install/rhels9.2/x86_64",
    `pkglist=${SHARE}/compute.rhels9.x86_64.pkglist`,
    `postinstall=${SHARE}/compute.rhels9.x86_64.postinstall`,
    "profile=compute",
    "provmethod=netboot",
    "rootimgdir=/install/netboot/rhels9.2/x86_64/compute",
  ]);
}

/** Every table's dump, to show that a failed command changed nothing. */
async function dumpAll(t: TestRoot): Promise<string> {
  const { stdout } = await t.ok(["tabdump"]);
  let all = "";
  for (const table of stdout.trim().split("\n")) {
    all += (await t.ok(["tabdump", table])).stdout;
  }
  return all;
}

storeTest("mkdef then lsdef of an osimage prints xCAT's long form", async (t) => {
  await defineStockImage(t);
  const { stdout } = await t.ok(["lsdef", "-t", "osimage", IMAGE]);
  await assertGolden("lsdef_osimage_long.txt", stdout);
  assertEquals(
    stdout.split("\n")[0],
    `Object name: ${IMAGE}`,
  );
});

storeTest("mkdef prints xCAT's messages and lsdef lists names", async (t) => {
  const created = await t.ok(["mkdef", "-t", "node", "cn[01-03]", "groups=compute,all"]);
  assertEquals(
    created.stdout,
    "3 object definitions have been created or modified.\n" +
      "New object definitions 'cn01,cn02,cn03' have been created.\n",
  );
  assertEquals((await t.ok(["lsdef"])).stdout, "cn01  (node)\ncn02  (node)\ncn03  (node)\n");
  assertEquals(
    (await t.ok(["lsdef", "-t", "node", "-s"])).stdout,
    "cn01  (node)\ncn02  (node)\ncn03  (node)\n",
  );
});

storeTest(
  "mkdef of an existing object without -f warns and changes nothing; -f replaces",
  async (t) => {
    await defineStockImage(t);
    const before = await dumpAll(t);
    const again = await t.run(["mkdef", "-t", "osimage", "-o", IMAGE, "profile=other"]);
    assertEquals(again.status, 1);
    assertEquals(
      again.stderr,
      `Warning: A definition for '${IMAGE}' already exists. No changes will be made.  Run again with '-f' option to force replace.\n` +
        "Error: No object definitions have been created or modified.\n",
    );
    assertEquals(await dumpAll(t), before);
    await t.ok([
      "mkdef",
      "-f",
      "-t",
      "osimage",
      "-o",
      IMAGE,
      "profile=other",
      "provmethod=install",
    ]);
    assertEquals(
      (await t.ok(["lsdef", "-t", "osimage", IMAGE])).stdout,
      `Object name: ${IMAGE}\n    imagetype=linux\n    profile=other\n    provmethod=install\n`,
    );
  },
);

storeTest("chdef -p appends without duplicates and -m removes or fails", async (t) => {
  await t.ok(["mkdef", "-t", "osimage", "-o", "img", "synclists=/a,/b"]);
  await t.ok(["chdef", "-t", "osimage", "-o", "img", "-p", "synclists=/b,/c"]);
  assertEquals(
    (await t.ok(["lsdef", "-t", "osimage", "-o", "img", "-i", "synclists", "-c"])).stdout,
    "img: synclists=/a,/b,/c\n",
  );
  await t.ok(["chdef", "-t", "osimage", "-o", "img", "-m", "synclists=/a"]);
  const before = await dumpAll(t);
  const missing = await t.run(["chdef", "-t", "osimage", "-o", "img", "-m", "synclists=/zz"]);
  assertEquals(missing.status, 1);
  assertEquals(
    missing.stderr,
    "Error: /zz is not in the attribute of 'synclists' for the 'img' definition.\n",
  );
  assertEquals(await dumpAll(t), before);
  assertEquals(
    (await t.ok(["lsdef", "-t", "osimage", "img", "-i", "synclists,template"])).stdout,
    "Object name: img\n    synclists=/b,/c\n    template=\n",
  );
});

storeTest("node attributes are inherited from groups in nodelist.groups order", async (t) => {
  await t.ok(["mkdef", "-t", "node", "cn[01-03]", "groups=rack1,compute,all"]);
  await t.ok(["chdef", "-t", "group", "compute", "os=rhels9.2", "netboot=xnba", "arch=x86_64"]);
  await t.ok(["chdef", "-t", "group", "rack1", "netboot=pxe"]);
  await t.ok(["chdef", "cn02", "os=rocky9"]);
  await t.ok(["chdef", "-t", "group", "all", "ip=|\\D+(\\d+)|10.0.0.($1+0)|"]);
  const { stdout } = await t.ok(["lsdef", "cn01,cn02"]);
  await assertGolden("lsdef_nodes_inherited.txt", stdout);
  ok(stdout.includes("Object name: cn02\n    arch=x86_64\n    groups=rack1,compute,all\n"));
  ok(stdout.includes("    ip=10.0.0.2\n    netboot=pxe\n    os=rocky9\n"));
  // The group itself lists its static members.
  assertEquals(
    (await t.ok(["lsdef", "-t", "group", "compute", "-i", "members", "-c"])).stdout,
    "compute: members=cn01,cn02,cn03\n",
  );
});

storeTest("lsdef -z output feeds mkdef -z (the copy idiom)", async (t) => {
  await defineStockImage(t);
  const stanza = (await t.ok(["lsdef", "-t", "osimage", "-o", IMAGE, "-z"])).stdout;
  await assertGolden("lsdef_osimage_stanza.txt", stanza);
  const copy = stanza.replaceAll(IMAGE, "copy-of-image");
  await t.ok(["mkdef", "-z"], { stdin: copy });
  const original = (await t.ok(["lsdef", "-t", "osimage", IMAGE])).stdout;
  const copied = (await t.ok(["lsdef", "-t", "osimage", "copy-of-image"])).stdout;
  assertEquals(copied, original.replaceAll(IMAGE, "copy-of-image"));
});

storeTest("rmdef removes definitions with xCAT's messages", async (t) => {
  await t.ok(["mkdef", "-t", "node", "cn[1-4]", "groups=all", "os=rhels9.2"]);
  assertEquals(
    (await t.ok(["rmdef", "-V", "cn1,cn2"])).stdout,
    "The following objects were removed:\ncn1,cn2\n2 object definitions have been removed.\n",
  );
  assertEquals((await t.ok(["tabdump", "nodetype"])).stdout.split("\n").length, 4);
  const all = await t.run(["rmdef", "-a", "-t", "node"]);
  assertEquals(all.status, 2);
  assertEquals(all.stderr, "Error: You must use the '-f' option when using the '-a' option.\n");
  const missing = await t.run(["rmdef", "-t", "osimage", "nosuch"]);
  assertEquals(
    missing.stderr,
    "Error: Could not find an object named 'nosuch' of type 'osimage'.\n",
  );
});

storeTest("bad input changes nothing and says what was wrong", async (root, t) => {
  await defineStockImage(root);
  await root.ok(["mkdef", "-t", "node", "cn[01-02]", "groups=compute"]);
  const before = await dumpAll(root);
  const cases: [string, string[], string, string?][] = [
    [
      "unknown attribute",
      ["chdef", "-t", "osimage", "-o", IMAGE, "bogus=1"],
      "Error: 'bogus' is not a valid attribute name for an object type of 'osimage'.\n",
    ],
    [
      "malformed pair",
      ["chdef", "-t", "osimage", "-o", IMAGE, "=x"],
      "Error: Incorrect 'attr=val' pair - =x.\n",
    ],
    [
      "invalid object name",
      ["mkdef", "-t", "node", "-o", "bad.name", "groups=all"],
      "Error: The object name 'bad.name' is invalid, Cannot use '.' in node name.\n",
    ],
    [
      "unknown node in a range",
      ["lsdef", "cn01,cn99"],
      "Error: Invalid nodes and/or groups in noderange: cn99\n",
    ],
    [
      "node without groups",
      ["mkdef", "-t", "node", "-o", "cn05,cn06", "os=x"],
      "Error: Attribute 'groups' is not specified for node 'cn05'.\n",
    ],
    [
      "malformed stanza",
      ["mkdef", "-z"],
      "",
      "os=rhels\ncn07:\n    objtype=node\n    groups=all\n",
    ],
    ["unknown type", ["lsdef", "-t", "bogus"], ""],
    ["unknown table", ["tabdump", "bogus"], "Error: No such table: bogus\n"],
  ];
  for (const [name, args, message, stdin] of cases) {
    await t.step(name, async () => {
      const output = await root.run(args, { stdin });
      assertEquals(output.status, 1, `${name}: ${output.stderr}`);
      if (message) assertEquals(output.stderr, message);
      else {
        ok(output.stderr.startsWith("Error: "), output.stderr);
        assertEquals(output.stderr.trim().split("\n").length, 1, output.stderr);
      }
      assertEquals(await dumpAll(root), before);
    });
  }
});

storeTest("lsdef with several types, -w filters and --json", async (t) => {
  await defineStockImage(t);
  await t.ok(["mkdef", "-t", "osimage", "-o", "other", "provmethod=install"]);
  await t.ok(["mkdef", "-t", "node", "cn1", "groups=all"]);
  assertEquals(
    (await t.ok(["lsdef", "-t", "osimage", "-w", "provmethod==install"])).stdout,
    "other  (osimage)\n",
  );
  const both = (await t.ok(["lsdef", "-t", "osimage,node", "-l", "-i", "provmethod"])).stdout;
  ok(both.includes("Object name: cn1  (node)\n    provmethod=\n"), both);
  const json = JSON.parse((await t.ok(["lsdef", "-t", "osimage", "other", "--json"])).stdout);
  assertEquals(json, [{
    name: "other",
    type: "osimage",
    attributes: { imagetype: "linux", provmethod: "install" },
  }]);
});

storeTest("site, network and rename", async (t) => {
  await t.ok(["chdef", "-t", "site", "clustersite", "domain=cluster.com", "master=10.0.0.1"]);
  const site = (await t.ok(["lsdef", "-t", "site", "-i", "domain,installdir,master"])).stdout;
  assertEquals(
    site,
    "Object name: clustersite\n    domain=cluster.com\n    installdir=/install\n    master=10.0.0.1\n",
  );
  assertEquals(
    (await t.ok(["tabdump", "site"])).stdout,
    '#key,value,comments,disable\n"domain","cluster.com",,\n"master","10.0.0.1",,\n',
  );
  await t.ok(["mkdef", "-t", "network", "-o", "mgmt", "net=10.0.0.0", "mask=255.255.0.0"]);
  const clash = await t.run([
    "mkdef",
    "-t",
    "network",
    "-o",
    "dup",
    "net=10.0.0.0",
    "mask=255.255.0.0",
  ]);
  assertEquals(clash.status, 1);
  await t.ok(["mkdef", "-t", "osimage", "-o", "a", "provmethod=netboot"]);
  await t.ok(["chdef", "-t", "osimage", "-o", "a", "-n", "b"]);
  assertEquals((await t.ok(["lsdef", "-t", "osimage"])).stdout, "b  (osimage)\n");
});

storeTest("tabdump and tabrestore round trip in xCAT's CSV dialect", async (t) => {
  await t.ok(["chdef", "-t", "site", "clustersite", 'motd=say "hi", then go', "domain=x.org"]);
  const dump = (await t.ok(["tabdump", "site"])).stdout;
  assertEquals(
    dump,
    '#key,value,comments,disable\n"motd","say ""hi"", then go",,\n"domain","x.org",,\n',
  );
  const file = `${t.root}/site.csv`;
  await Deno.writeTextFile(file, dump + '"extra","1","a comment",\n');
  await t.ok(["tabrestore", file]);
  assertEquals((await t.ok(["tabdump", "site"])).stdout, dump + '"extra","1","a comment",\n');
  const before = await dumpAll(t);
  await Deno.writeTextFile(file, '#key,value,comments,disable\n"a","unterminated,,\n');
  const bad = await t.run(["tabrestore", file]);
  assertEquals(bad.status, 1);
  ok(bad.stderr.startsWith("Error: Cannot restore"), bad.stderr);
  assertEquals(await dumpAll(t), before);
});

storeTest(
  "noderanges in the definition verbs read ^files and honour XCAT_NODE_PREFIX",
  async (t) => {
    await t.ok(["mkdef", "-t", "node", "1-3", "groups=all"], { env: { XCAT_NODE_PREFIX: "cn" } });
    assertEquals((await t.ok(["lsdef", "-s"])).stdout, "cn1  (node)\ncn2  (node)\ncn3  (node)\n");
    await Deno.writeTextFile(`${t.root}/nodes.txt`, "cn1\n# comment\ncn3\n");
    assertEquals(
      (await t.ok(["lsdef", "-s", `^${t.root}/nodes.txt`])).stdout,
      "cn1  (node)\ncn3  (node)\n",
    );
    await t.ok(["rmdef", `^${t.root}/nodes.txt`]);
    assertEquals((await t.ok(["lsdef", "-s"])).stdout, "cn2  (node)\n");
  },
);

storeTest(
  "mkdef -V lists the objects written; groups are listed with their static members",
  async (t) => {
    const { stdout } = await t.ok(["mkdef", "-V", "-t", "node", "cn1,cn2", "groups=rack1,all"]);
    assertEquals(
      stdout,
      "The database was updated for the following objects:\ncn1,cn2\n" +
        "2 object definitions have been created or modified.\n" +
        "New object definitions 'cn1,cn2' have been created.\n",
    );
    assertEquals((await t.ok(["lsdef", "-t", "group"])).stdout, "all  (group)\nrack1  (group)\n");
    await t.ok(["chdef", "-t", "group", "-o", "rack1", "-m", "members=cn2"]);
    assertEquals(
      (await t.ok(["lsdef", "-t", "node", "cn2", "-i", "groups", "-c"])).stdout,
      "cn2: groups=all\n",
    );
  },
);

/** Runs `args` expecting exactly one `Error:` line; the tables and the tree must not change. */
async function refusedWithoutChange(
  t: TestRoot,
  args: string[],
  message: string,
  stdin?: string,
): Promise<void> {
  const tables = await dumpAll(t);
  const tree = (await snapshotTree(t.root)).filter((line) => !/osimg\.sqlite/.test(line));
  const output = await t.run(args, { stdin });
  assertEquals(output.stderr, `Error: ${message}\n`, args.join(" "));
  assertEquals(output.status, 1);
  assertEquals(await dumpAll(t), tables);
  assertEquals(
    (await snapshotTree(t.root)).filter((line) => !/osimg\.sqlite/.test(line)),
    tree,
  );
}

const DOT_DOT = "The object name '..' is invalid: '.' and '..' name directories, not objects.";
const ONLY = "only letters, digits, '.', '_', '+' and '-' are allowed";

storeTest("mkdef -t osimage -o .. and -o . are refused and write nothing", async (t) => {
  await defineStockImage(t);
  for (const name of ["..", "."]) {
    await refusedWithoutChange(
      t,
      ["mkdef", "-t", "osimage", "-o", name, "provmethod=netboot", "profile=compute"],
      `The object name '${name}' is invalid: '.' and '..' name directories, not objects.`,
    );
  }
  // chdef creates missing objects and renames: the same rule.
  await refusedWithoutChange(t, ["chdef", "-t", "osimage", "-o", "..", "profile=x"], DOT_DOT);
  await refusedWithoutChange(t, ["chdef", "-t", "osimage", "-o", IMAGE, "-n", ".."], DOT_DOT);
});

storeTest("mkdef -t osimage refuses '*', 'a\"b' and a 300-character name", async (t) => {
  await defineStockImage(t);
  const long = "a".repeat(300);
  const cases: [string, string][] = [
    ["*", `The object name '*' is invalid: it contains '*'; ${ONLY}.`],
    ['a"b', `The object name 'a"b' is invalid: it contains '"'; ${ONLY}.`],
    [
      long,
      `The object name '${
        "a".repeat(40)
      }... (300 characters)' is invalid: it is 300 characters long; at most 128 are allowed.`,
    ],
  ];
  for (const [name, message] of cases) {
    await refusedWithoutChange(
      t,
      ["mkdef", "-t", "osimage", "-o", name, "provmethod=netboot"],
      message,
    );
  }
});

storeTest(
  "mkdef -z refuses a stanza whose osimage name is '..', writing none of the stanzas",
  async (t) => {
    await defineStockImage(t);
    const stanzas = "good:\n    objtype=osimage\n    provmethod=netboot\n\n" +
      "..:\n    objtype=osimage\n    provmethod=netboot\n";
    await refusedWithoutChange(t, ["mkdef", "-z"], DOT_DOT, stanzas);
    await refusedWithoutChange(
      t,
      ["chdef", "-z"],
      `The object name 'x*' is invalid: it contains '*'; ${ONLY}.`,
      "x*:\n    objtype=osimage\n    provmethod=netboot\n",
    );
  },
);

storeTest(
  "mkdef and chdef refuse an osimage profile, osvers or osarch that is a path",
  async (t) => {
    await defineStockImage(t);
    await refusedWithoutChange(
      t,
      ["mkdef", "-t", "osimage", "-o", "img", "provmethod=netboot", "profile=.."],
      "The profile '..' of the osimage 'img' is invalid: '.' and '..' name directories, not objects.",
    );
    await refusedWithoutChange(
      t,
      ["chdef", "-t", "osimage", "-o", IMAGE, "osvers=../../etc"],
      `The osvers '../../etc' of the osimage '${IMAGE}' is invalid: it contains '/'.`,
    );
    // Clearing one is fine (it is no path then).
    await t.ok(["chdef", "-t", "osimage", "-o", IMAGE, "osarch="]);
  },
);

storeTest("tabrestore refuses a CSV row whose imagename or node is not a valid name", async (t) => {
  await defineStockImage(t);
  await t.ok(["mkdef", "-t", "node", "cn01", "groups=compute"]);
  const osimageCsv = `${t.root}/osimage.csv`;
  await Deno.writeTextFile(
    osimageCsv,
    (await t.ok(["tabdump", "osimage"])).stdout + '"..",,,,"netboot",,,,,,,,,,,,,,,,\n',
  );
  await refusedWithoutChange(
    t,
    ["tabrestore", osimageCsv],
    `Row 2 of the 'osimage' data has an invalid imagename: ${DOT_DOT}`,
  );
  const linuxCsv = `${t.root}/linuximage.csv`;
  await Deno.writeTextFile(linuxCsv, '#imagename,rootimgdir\n"a*b","/install/x"\n');
  await refusedWithoutChange(
    t,
    ["tabrestore", "-a", linuxCsv],
    `Row 1 of the 'linuximage' data has an invalid imagename: The object name 'a*b' is invalid: it contains '*'; ${ONLY}.`,
  );
  const nodelistCsv = `${t.root}/nodelist.csv`;
  await Deno.writeTextFile(nodelistCsv, '#node,groups\n"../cn02","compute"\n');
  await refusedWithoutChange(
    t,
    ["tabrestore", "-a", nodelistCsv],
    "Row 1 of the 'nodelist' data has an invalid node: The object name '../cn02' is invalid, Cannot use '.' in node name.",
  );
});

storeTest(
  "mkdef and chdef -o expand a noderange for nodes, a name list for other types",
  async (t) => {
    assertEquals(
      (await t.ok(["mkdef", "-t", "node", "-o", "cn[01-03]", "groups=compute"])).stdout,
      "3 object definitions have been created or modified.\n" +
        "New object definitions 'cn01,cn02,cn03' have been created.\n",
    );
    await t.ok(["chdef", "-t", "node", "-o", "cn01-cn02", "os=rocky9"]);
    assertEquals(
      (await t.ok(["lsdef", "cn[01-03]", "-i", "os", "-c"])).stdout,
      "cn01: os=rocky9\ncn02: os=rocky9\ncn03: os=\n",
    );
    // chdef expands a /regex against the defined nodes, as xCAT's chdef does.
    await t.ok(["chdef", "-o", "/^cn0(2|3)$", "arch=ppc64le"]);
    assertEquals(
      (await t.ok(["lsdef", "compute", "-i", "arch", "-c"])).stdout,
      "cn01: arch=\ncn02: arch=ppc64le\ncn03: arch=ppc64le\n",
    );
    // For other types -o stays a comma-separated name list.
    await t.ok(["mkdef", "-t", "osimage", "-o", "a,b", "provmethod=netboot"]);
    assertEquals((await t.ok(["lsdef", "-t", "osimage"])).stdout, "a  (osimage)\nb  (osimage)\n");
    const before = await dumpAll(t);
    const none = await t.run(["chdef", "-o", "/^zz", "os=x"]);
    assertEquals(none.status, 1);
    assertEquals(none.stderr, "Error: No node in '/^zz', check the noderange syntax.\n");
    assertEquals(await dumpAll(t), before);
  },
);

storeTest(
  "a second argument without '=' gets xCAT's 'noderange can not contain spaces.'",
  async (t) => {
    await t.ok(["mkdef", "-t", "node", "cn01", "groups=all"]);
    const before = await dumpAll(t);
    for (
      const args of [
        ["mkdef", "-t", "node", "cn05", "groups"],
        ["mkdef", "-t", "node", "cn05", "groups=all", "os"],
        ["chdef", "cn01", "os", "arch=x86_64"],
        ["mkdef", "-t", "osimage", "img1", "img2", "provmethod=netboot"],
      ]
    ) {
      const refused = await t.run(args);
      assertEquals(refused.status, 1, args.join(" "));
      assertEquals(refused.stdout, "");
      assertEquals(refused.stderr, "Error: noderange can not contain spaces.\n");
      assertEquals(await dumpAll(t), before);
    }
    // xCAT takes the noderange before or after the pairs.
    await t.ok(["mkdef", "-t", "node", "groups=all", "cn05"]);
    assertEquals((await t.ok(["lsdef", "-s"])).stdout, "cn01  (node)\ncn05  (node)\n");
  },
);

storeTest("chdef of an unknown node creates it and says so, as xCAT's chdef does", async (t) => {
  await t.ok(["mkdef", "-t", "node", "cn01", "groups=all"]);
  assertEquals(
    (await t.ok(["chdef", "cn09", "groups=all"])).stdout,
    "1 object definitions have been created or modified.\n" +
      "New object definitions 'cn09' have been created.\n",
  );
  assertEquals(
    (await t.ok(["chdef", "cn01,cn10", "groups=all", "os=x"])).stdout,
    "2 object definitions have been created or modified.\n" +
      "New object definitions 'cn10' have been created.\n",
  );
  // Changing existing objects only does not announce anything new.
  assertEquals(
    (await t.ok(["chdef", "cn01", "os=y"])).stdout,
    "1 object definitions have been created or modified.\n",
  );
  const before = await dumpAll(t);
  const noGroups = await t.run(["chdef", "cn11", "os=x"]);
  assertEquals(noGroups.status, 1);
  assertEquals(noGroups.stderr, "Error: Attribute 'groups' is not specified for node 'cn11'.\n");
  assertEquals(await dumpAll(t), before);
});

storeTest("lsdef and rmdef -o take a noderange for nodes too", async (t) => {
  await t.ok(["mkdef", "-t", "node", "cn[01-04]", "groups=all"]);
  assertEquals(
    (await t.ok(["lsdef", "-t", "node", "-o", "cn[02-03]", "-s"])).stdout,
    "cn02  (node)\ncn03  (node)\n",
  );
  const before = await dumpAll(t);
  const missing = await t.run(["rmdef", "-t", "node", "-o", "cn[04-05]"]);
  assertEquals(missing.status, 1);
  assertEquals(missing.stderr, "Error: Invalid nodes and/or groups in noderange: cn05\n");
  assertEquals(await dumpAll(t), before);
  assertEquals(
    (await t.ok(["rmdef", "-t", "node", "-o", "/^cn0(1|2)$"])).stdout,
    "2 object definitions have been removed.\n",
  );
  assertEquals((await t.ok(["lsdef", "-s"])).stdout, "cn03  (node)\ncn04  (node)\n");
});

storeTest(
  "a regex value that cannot be evaluated is refused by mkdef, chdef, -z and tabrestore",
  async (root, t) => {
    await root.ok(["mkdef", "-t", "node", "cn[01-02]", "groups=compute"]);
    await Deno.writeTextFile(
      `${root.root}/nodetype.csv`,
      '#node,os,arch,profile,provmethod,supportedarchs,nodetype,comments,disable\n"compute","|(|x|",,,,,,,\n',
    );
    const before = await dumpAll(root);
    const refused = "it is a regular-expression value that cannot be evaluated: " +
      "the regular expression '(' is not valid.";
    const cases: [string, string[], string, string?][] = [
      [
        "chdef of a group",
        ["chdef", "-t", "group", "compute", "os=|(|x|"],
        `Error: Cannot set 'os' of 'compute' to '|(|x|': ${refused}\n`,
      ],
      [
        "mkdef of a node",
        ["mkdef", "-t", "node", "cn03", "groups=compute", "ip=/(/x/"],
        "Error: Cannot set 'ip' of 'cn03' to '/(/x/': it is a regular-expression value that " +
        "cannot be evaluated: the regular expression '(' is not valid.\n",
      ],
      [
        "an unclosed '(' in the replacement",
        ["chdef", "cn01", "ip=|\\D+(\\d+)|10.0.0.($1+1|"],
        "Error: Cannot set 'ip' of 'cn01' to '|\\D+(\\d+)|10.0.0.($1+1|': it is a " +
        "regular-expression value that cannot be evaluated: the replacement has a '(' that is never closed.\n",
      ],
      [
        "a stanza",
        ["chdef", "-z"],
        `Error: Cannot set 'os' of 'compute' to '|(|x|': ${refused}\n`,
        "compute:\n    objtype=group\n    os=|(|x|\n",
      ],
      [
        "tabrestore",
        ["tabrestore", "nodetype.csv"],
        "Error: Row 1 of the 'nodetype' data (node=compute): the value '|(|x|' of 'os' is refused: " +
        refused + "\n",
      ],
    ];
    for (const [name, args, message, stdin] of cases) {
      await t.step(name, async () => {
        const output = await root.run(args, { stdin });
        assertEquals(output.status, 1, `${name}: ${output.stderr}`);
        assertEquals(output.stderr, message);
        assertEquals(await dumpAll(root), before);
      });
    }
    // An osimage path that happens to look like `/a/b/` is not a regex value there.
    await root.ok(["mkdef", "-t", "osimage", "-o", "img", "rootimgdir=/a(b/c/"]);
  },
);

storeTest(
  "NUL bytes and line breaks are refused, naming the object and attribute",
  async (root, t) => {
    await root.ok(["mkdef", "-t", "node", "cn01", "groups=compute"]);
    await Deno.writeTextFile(
      `${root.root}/site.csv`,
      '#key,value,comments,disable\n"domain","a\0b",,\n',
    );
    const before = await dumpAll(root);
    const nul = "it contains a NUL byte, which the database cannot store.";
    const cases: [string, string[], string, string?][] = [
      [
        "a stanza value",
        ["mkdef", "-z"],
        `Error: Cannot set 'os' of 'cn07' to 'a\\0b': ${nul}\n`,
        "cn07:\n    objtype=node\n    groups=all\n    os=a\0b\n",
      ],
      [
        "a stanza value that is only a NUL",
        ["chdef", "-z"],
        `Error: Cannot set 'os' of 'cn01' to '\\0': ${nul}\n`,
        "cn01:\n    objtype=node\n    os=\0\n",
      ],
      [
        "a command-line value",
        ["chdef", "cn01", "os=x\0y"],
        `Error: Cannot set 'os' of 'cn01' to 'x\\0y': ${nul}\n`,
      ],
      [
        "a command-line line break",
        ["chdef", "-t", "site", "clustersite", "domain=a\nb"],
        "Error: Cannot set 'domain' of 'clustersite' to 'a\\nb': it contains a line break, " +
        "which lsdef and stanza files cannot carry.\n",
      ],
      [
        "a tabrestore CSV",
        ["tabrestore", "site.csv"],
        `Error: Row 1 of the 'site' data (key=domain): the value 'a\\0b' of 'value' is refused: ${nul}\n`,
      ],
    ];
    for (const [name, args, message, stdin] of cases) {
      await t.step(name, async () => {
        const output = await root.run(args, { stdin });
        assertEquals(output.status, 1, `${name}: ${output.stderr}`);
        assertEquals(output.stderr, message);
        assertEquals(await dumpAll(root), before);
      });
    }
  },
);

storeTest(
  "lsdef shows a stored regex value that cannot be evaluated as stored, with a warning",
  async (t) => {
    await t.ok(["mkdef", "-t", "node", "cn[01-02]", "groups=compute"]);
    await t.ok(["chdef", "-t", "group", "compute", "os=rocky9"]);
    // A value written before osimg refused such values (or by another tool), straight into the
    // store, past mkdef's and chdef's checks.
    await withStore(
      t,
      (store) =>
        store.write((writer) => writer.upsert("nodetype", { node: "compute", os: "|(|x|" })),
    );
    const before = await dumpAll(t);
    const listed = await t.run(["lsdef", "compute", "-i", "os"]);
    assertEquals(listed.status, 0);
    assertEquals(
      listed.stdout,
      "Object name: cn01\n    os=|(|x|\nObject name: cn02\n    os=|(|x|\n",
    );
    assertEquals(
      listed.stderr,
      "Warning: The value '|(|x|' of 'os' cannot be evaluated (the regular expression '(' is not " +
        "valid); it is shown as stored for 2 nodes from 'cn01'. Correct it with chdef.\n",
    );
    assertEquals(await dumpAll(t), before);
    await t.ok(["chdef", "-t", "group", "compute", "os=rocky9"]);
    assertEquals((await t.ok(["lsdef", "cn01", "-i", "os", "-c"])).stdout, "cn01: os=rocky9\n");
  },
);
