// imgcapture's refusals before any node is contacted: each one line, nothing changed.

import { deepStrictEqual as assertEquals, strictEqual } from "node:assert/strict";
import { snapshotTree, type TestRoot, testRoot } from "../../testdata/support/testing.ts";
import { assertGolden } from "../../testdata/support/testing.ts";
import { defineGolden } from "../../testdata/support/capture_testing.ts";

/** A node defined as a golden node would be, and an existing image of another os. */
async function site(t: TestRoot): Promise<void> {
  await defineGolden(t, "198.51.100.250");
  await t.ok([
    "mkdef",
    "-t",
    "osimage",
    "-o",
    "rocky9-x86_64-netboot-compute",
    "provmethod=netboot",
    "osvers=rocky9",
    "osarch=x86_64",
    "profile=compute",
  ]);
}

/** Runs imgcapture expecting `status` and `message`, and that nothing changed. */
async function refused(t: TestRoot, args: string[], status: number, message: string) {
  const before = await snapshotTree(t.root);
  const tables = (await t.ok(["tabdump", "osimage"])).stdout +
    (await t.ok(["tabdump", "linuximage"])).stdout;
  const result = await t.run(["imgcapture", ...args]);
  strictEqual(result.stderr, `Error: ${message}\n`);
  strictEqual(result.status, status);
  strictEqual(result.stdout, "");
  assertEquals(await snapshotTree(t.root), before);
  strictEqual(
    (await t.ok(["tabdump", "osimage"])).stdout + (await t.ok(["tabdump", "linuximage"])).stdout,
    tables,
  );
}

Deno.test("imgcapture of an unknown node: xCAT's noderange message, nothing changed", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["cn99", "-t", "diskless"],
    1,
    "Invalid nodes and/or groups in noderange: cn99",
  );
});

Deno.test("imgcapture of a node with no os: names the attribute to set", async () => {
  await using t = await testRoot();
  await site(t);
  await t.ok(["mkdef", "-t", "node", "-o", "bare", "groups=all", "ip=198.51.100.251"]);
  await refused(
    t,
    ["bare", "-t", "diskless"],
    1,
    "The node bare has no os (nodetype.os): imgcapture names the image after it; set it with 'chdef bare os=<value>'.",
  );
});

Deno.test("imgcapture -o into an image of another os: refused before the node is contacted", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["gold", "-t", "diskless", "-o", "rocky9-x86_64-netboot-compute"],
    1,
    "The osimage rocky9-x86_64-netboot-compute is rocky9 x86_64 but gold is debian12 x86_64: capture into an image of the node's os and arch.",
  );
});

Deno.test("imgcapture -o of an image that does not exist: xCAT's message", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["gold", "-t", "diskless", "-o", "nosuch"],
    1,
    "Could not find an object named 'nosuch' of type 'osimage'.",
  );
});

Deno.test("imgcapture --ssh-key naming no file: no ssh key, nothing changed", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["gold", "-t", "diskless", "--ssh-key", "missing_key"],
    1,
    "The ssh key 'missing_key' does not exist: give the private key that root on gold accepts with --ssh-key FILE.",
  );
});

Deno.test("imgcapture of a node with no address: names hosts.ip", async () => {
  await using t = await testRoot();
  await site(t);
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    "osimgnoipzz9",
    "groups=all",
    "os=debian12",
    "arch=x86_64",
    "profile=compute",
  ]);
  await refused(
    t,
    ["osimgnoipzz9", "-t", "diskless"],
    1,
    "Cannot determine the IP address of osimgnoipzz9: hosts.ip is not set and the system resolver does not know the name. Set it with 'chdef osimgnoipzz9 ip=<address>'.",
  );
});

Deno.test("imgcapture -n with a name that is no module: refused", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["gold", "-t", "diskless", "-n", "virtio_net,../evil"],
    1,
    "imgcapture -n: '../evil' is not a kernel module name.",
  );
});

Deno.test("imgcapture usage errors: no node, no -t, an unknown -t (status 2)", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["-t", "diskless"],
    2,
    "imgcapture: a node name is required. Run 'imgcapture --help' for usage.",
  );
  await refused(
    t,
    ["gold"],
    2,
    "imgcapture: -t|--type is required (diskless). Run 'imgcapture --help' for usage.",
  );
  await refused(
    t,
    ["gold", "-t", "statelite"],
    2,
    "imgcapture: the type 'statelite' is not supported; osimg captures -t diskless and -t sysclone.",
  );
});

Deno.test("imgcapture -t sysclone without -o: xCAT's message (status 2), nothing changed", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["gold", "-t", "sysclone"],
    2,
    'You must specify osimage name if you are using "sysclone".',
  );
});

Deno.test("imgcapture -t sysclone with -i (a diskless flag): usage error, nothing changed", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["gold", "-t", "sysclone", "-o", "gold-clone", "-i", "eth0"],
    2,
    "imgcapture: -i is for -t diskless (a sysclone image boots its own kernel and initrd).",
  );
});

Deno.test("imgcapture -t sysclone of an unknown node: xCAT's noderange message, nothing changed", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["cn99", "-t", "sysclone", "-o", "gold-clone"],
    1,
    "Invalid nodes and/or groups in noderange: cn99",
  );
});

Deno.test("imgcapture -t sysclone into a netboot image: refused before the node is contacted", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["gold", "-t", "sysclone", "-o", "rocky9-x86_64-netboot-compute"],
    1,
    "The osimage rocky9-x86_64-netboot-compute has provmethod=netboot: imgcapture -t sysclone " +
      "captures into sysclone images only; name a new image with -o.",
  );
});

Deno.test("imgcapture -t sysclone with an osimage name that is a path: refused, nothing changed", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["gold", "-t", "sysclone", "-o", "../escape"],
    1,
    "The object name '../escape' is invalid: it contains '/'.",
  );
});

Deno.test("golden: imgcapture usage", async () => {
  await using t = await testRoot();
  await assertGolden("imgcapture_usage.txt", (await t.ok(["imgcapture", "--help"])).stdout);
});
