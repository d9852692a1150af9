import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { assertGolden, snapshotTree, testRoot } from "../testdata/support/testing.ts";
import { defineNodesetCluster, IMAGES } from "../testdata/support/nodeset_testing.ts";
import { defineRows } from "../testdata/support/pack_testing.ts";

Deno.test("nodeset prints '<node>: <currstate>' for each node, and stat reads it back (text and --json)", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  // xcatmaster named, so no address depends on this machine's interfaces.
  await defineRows(t.root, { noderes: [{ node: "compute", xcatmaster: "10.0.0.1" }] });
  const set = await t.ok(["nodeset", "cn01,cn02", `osimage=${IMAGES.netboot}`]);
  assertEquals(
    set.stdout,
    "cn01: netboot rhels9.2-x86_64-compute\ncn02: netboot rhels9.2-x86_64-compute\n",
  );
  await t.ok(["nodeset", "cn03", "boot"]);
  await t.ok(["nodeset", "cn04", `osimage=${IMAGES["install-rhel"]}`]);
  const stat = await t.ok(["nodeset", "cn01-cn04,pn01", "stat"]);
  await assertGolden("nodeset_stat.txt", stat.stdout);
  const json = await t.ok(["nodeset", "cn01-cn04,pn01", "stat", "--json"]);
  await assertGolden("nodeset_stat.json", json.stdout);
  assertEquals(JSON.parse(json.stdout)[3], {
    node: "cn04",
    state: "install rhels9.2-x86_64-compute",
  });
});

Deno.test("nodeset shell, runcmd= and runimage= say osimg has no genesis, changing nothing", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  const before = await snapshotTree(t.root);
  for (const state of ["shell", "runcmd=bmcsetup", "runimage=http://x/image.tgz", "standby"]) {
    const result = await t.run(["nodeset", "cn01", state]);
    assertEquals(result.status, 1, state);
    ok(
      result.stderr.startsWith(
        `Error: nodeset: '${state}' boots xCAT's genesis (its discovery and maintenance environment), which osimg does not have;`,
      ),
      result.stderr,
    );
    assertEquals(result.stderr.split("\n").length, 2, result.stderr);
  }
  assertEquals(await snapshotTree(t.root), before);
});

Deno.test("nodeset install/netboot/statelite keep xCAT's deprecation message (usage error)", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  const result = await t.run(["nodeset", "cn01", "netboot"]);
  assertEquals(result.status, 2);
  assertEquals(
    result.stderr,
    'Error: The options "install", "netboot", and "statelite" have been deprecated, use "osimage=<osimage_name>" instead.\n',
  );
});

Deno.test("nodeset with an unknown osimage exits 1 with xCAT's message and writes nothing", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  const before = await snapshotTree(t.root);
  const result = await t.run(["nodeset", "all", "osimage=nosuch"]);
  assertEquals(result.status, 1);
  assertEquals(result.stderr, "Error: Cannot find the OS image nosuch in the osimage table.\n");
  assertEquals(result.stdout, "");
  assertEquals(await snapshotTree(t.root), before);
});

Deno.test("nodeset problems print one summary line and one line per problem, exit 1", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await defineRows(t.root, { noderes: [{ node: "cn01", netboot: "petitboot" }] });
  const before = await snapshotTree(t.root);
  const result = await t.run(["nodeset", "cn01,cn02", `osimage=${IMAGES.netboot}`]);
  assertEquals(result.status, 1);
  assertEquals(result.stderr.split("\n"), [
    "Error: nodeset found 1 problem; nothing was changed:",
    "cn01: noderes.netboot 'petitboot' is not a boot loader osimg writes entries for (xnba, pxe, elilo, grub2, grub2-tftp, grub2-http)",
    "",
  ]);
  assertEquals(await snapshotTree(t.root), before);
});

Deno.test("nodeset --help prints its usage", async () => {
  await using t = await testRoot();
  await assertGolden("nodeset_usage.txt", (await t.ok(["nodeset", "--help"])).stdout);
});
