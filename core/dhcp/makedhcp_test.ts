// Tests of makedhcp: golden Kea and dnsmasq configurations that the servers' own checks accept,
// -d removing exactly a node's entries, -q, and refusals that change nothing.

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  assertGolden,
  snapshotTree,
  type TestRoot,
  testRoot,
} from "../../testdata/support/testing.ts";
import { runTool } from "../../testdata/support/process.ts";

const CONFIG = { kea: "etc/kea/kea-dhcp4.conf", dnsmasq: "etc/dnsmasq.d/osimg.conf" } as const;
type Server = keyof typeof CONFIG;

/**
 * Two networks and five nodes: xnba, grub2 (its own xcatmaster) and pxe (a tftpserver named by
 * a node, resolved through hosts.ip) on the management network, an xnba node on a second
 * network whose tftpserver is its boot server, and a service node without a MAC.
 */
async function cluster(t: TestRoot, server: Server): Promise<void> {
  await t.ok([
    "chdef",
    "-t",
    "site",
    "clustersite",
    "master=10.0.0.1",
    "httpport=8080",
    "domain=cluster.local",
    "nameservers=10.0.0.1",
    "dhcpinterfaces=lo",
    `dhcpserver=${server}`,
    "dhcplease=3600",
  ]);
  await t.ok([
    "mkdef",
    "-t",
    "network",
    "-o",
    "mgmt",
    "net=10.0.0.0",
    "mask=255.255.255.0",
    "gateway=10.0.0.254",
    "dynamicrange=10.0.0.200-10.0.0.250",
  ]);
  await t.ok([
    "mkdef",
    "-t",
    "network",
    "-o",
    "rack2",
    "net=192.168.1.0",
    "mask=255.255.255.0",
    "gateway=<xcatmaster>",
    "tftpserver=192.168.1.1",
    "nameservers=192.168.1.1",
    "domain=rack2.cluster.local",
    "mtu=9000",
  ]);
  await t.ok(["mkdef", "-t", "node", "-o", "sn1", "groups=service", "ip=10.0.0.3"]);
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    "cn01",
    "groups=compute",
    "mac=52:54:00:00:00:01",
    "ip=10.0.0.101",
    "netboot=xnba",
  ]);
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    "cn02",
    "groups=compute",
    "mac=52-54-00-00-00-02!cn02-ib",
    "ip=10.0.0.102",
    "netboot=grub2",
    "xcatmaster=10.0.0.2",
  ]);
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    "cn03",
    "groups=compute",
    "mac=52:54:00:00:00:03",
    "ip=10.0.0.103",
    "netboot=pxe",
    "tftpserver=sn1",
  ]);
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    "cn04",
    "groups=compute",
    "mac=52:54:00:00:00:04",
    "ip=192.168.1.104",
    "netboot=xnba",
  ]);
}

/** The configuration file, its root written as `<root>` (the lease file lies under it). */
async function configText(t: TestRoot, server: Server): Promise<string> {
  return (await Deno.readTextFile(`${t.root}/${CONFIG[server]}`)).replaceAll(t.root, "<root>");
}

async function assertServerAccepts(t: TestRoot, server: Server): Promise<void> {
  const file = `${t.root}/${CONFIG[server]}`;
  const result = server === "kea"
    ? await runTool("kea-dhcp4", ["-t", file])
    : await runTool("dnsmasq", ["--test", `--conf-file=${file}`]);
  strictEqual(result.code, 0, result.stderr + result.stdout);
}

for (const server of ["kea", "dnsmasq"] as const) {
  Deno.test(`makedhcp -n (${server}): golden configuration, accepted by the server's own check`, async () => {
    await using t = await testRoot();
    await cluster(t, server);
    const result = await t.ok(["makedhcp", "-n"]);
    strictEqual(result.stdout, "");
    strictEqual(
      result.stderr,
      "Copied the iPXE first stage to /tftpboot/xcat/xnba.kpxe\n" +
        "Copied the iPXE first stage to /tftpboot/xcat/xnba.efi\n" +
        `Wrote /${CONFIG[server]} (${server}, 4 hosts), checked by ${
          server === "kea" ? "kea-dhcp4" : "dnsmasq"
        }.\n`,
    );
    await assertGolden(
      `makedhcp/${server === "kea" ? "kea-dhcp4.conf" : "dnsmasq-osimg.conf"}`,
      await configText(t, server),
    );
    await assertServerAccepts(t, server);
  });

  Deno.test(`makedhcp (${server}) keeps the server's lease file under --root, its directory made`, async () => {
    await using t = await testRoot();
    await cluster(t, server);
    await t.ok(["makedhcp", "-n"]);
    const lease = server === "kea" ? "var/lib/kea/kea-leases4.csv" : "var/lib/misc/dnsmasq.leases";
    const text = await configText(t, server);
    ok(
      text.includes(
        server === "kea" ? `"name": "<root>/${lease}"` : `dhcp-leasefile=<root>/${lease}`,
      ),
      text,
    );
    ok((await Deno.stat(`${t.root}/${lease.replace(/\/[^/]*$/, "")}`)).isDirectory);
  });

  Deno.test(`makedhcp -d (${server}) removes exactly the node's entries`, async () => {
    await using t = await testRoot();
    await cluster(t, server);
    await t.ok(["makedhcp", "-n"]);
    await t.ok(["makedhcp", "-d", "cn02"]);
    const afterDelete = await configText(t, server);
    ok(!afterDelete.includes("cn02") && !afterDelete.includes("52:54:00:00:00:02"));
    await assertServerAccepts(t, server);
    // The same file as one written without cn02 at all: nothing else changed.
    await using other = await testRoot();
    await cluster(other, server);
    await other.ok(["chdef", "cn02", "mac="]);
    await other.ok(["makedhcp", "-n"]);
    strictEqual(afterDelete, await configText(other, server));
    const query = await t.run(["makedhcp", "-q", "cn02"]);
    strictEqual(query.status, 1);
    strictEqual(query.stderr, `Error: No DHCP entry for cn02 in /${CONFIG[server]} (${server}).\n`);
  });

  Deno.test(`makedhcp <noderange> (${server}) adds nodes and keeps the others' entries`, async () => {
    await using t = await testRoot();
    await cluster(t, server);
    await t.ok(["makedhcp", "cn01,cn03"]);
    strictEqual(
      (await t.ok(["makedhcp", "-q", "compute"])).stdout,
      "cn01: ip-address = 10.0.0.101, hardware-address = 52:54:00:00:00:01\n" +
        "cn03: ip-address = 10.0.0.103, hardware-address = 52:54:00:00:00:03\n",
    );
    await t.ok(["makedhcp", "cn02,cn04"]);
    const full = await configText(t, server);
    await using scratch = await testRoot();
    await cluster(scratch, server);
    await scratch.ok(["makedhcp", "-n"]);
    strictEqual(full, await configText(scratch, server));
  });
}

Deno.test("makedhcp -q: xCAT's line per node, and --json with the boot rules", async () => {
  await using t = await testRoot();
  await cluster(t, "kea");
  await t.ok(["makedhcp", "-n"]);
  strictEqual(
    (await t.ok(["makedhcp", "-q", "cn01"])).stdout,
    "cn01: ip-address = 10.0.0.101, hardware-address = 52:54:00:00:00:01\n",
  );
  const [host] = JSON.parse((await t.ok(["makedhcp", "-q", "cn04", "--json"])).stdout);
  deepStrictEqual(host, {
    node: "cn04",
    mac: "52:54:00:00:00:04",
    ip: "192.168.1.104",
    hostname: "cn04",
    nextServer: "192.168.1.1",
    rules: [
      { client: "ipxe-bios", file: "http://192.168.1.1:8080/tftpboot/xcat/xnba/nodes/cn04" },
      { client: "ipxe-uefi", file: "http://192.168.1.1:8080/tftpboot/xcat/xnba/nodes/cn04.uefi" },
      { client: "bios", file: "xcat/xnba.kpxe" },
      { client: "uefi", file: "xcat/xnba.efi" },
    ],
  });
});

Deno.test("makedhcp: the iPXE first stages are Debian's binaries under xCAT's names", async () => {
  await using t = await testRoot();
  await cluster(t, "kea");
  await t.ok(["makedhcp", "cn01"]);
  deepStrictEqual(
    await Deno.readFile(`${t.root}/tftpboot/xcat/xnba.kpxe`),
    await Deno.readFile("/usr/lib/ipxe/undionly.kpxe"),
  );
  deepStrictEqual(
    await Deno.readFile(`${t.root}/tftpboot/xcat/xnba.efi`),
    await Deno.readFile("/usr/lib/ipxe/ipxe.efi"),
  );
  // A second run finds them current: nothing copied, nothing rewritten.
  strictEqual(
    (await t.ok(["makedhcp", "cn01"])).stderr,
    "/etc/kea/kea-dhcp4.conf is up to date (kea, 1 host).\n",
  );
});

/** Runs a makedhcp that must fail, asserting its one line and that no file changed. */
async function assertRefused(
  t: TestRoot,
  args: string[],
  message: string,
  env?: Record<string, string>,
) {
  const before = await snapshotTree(t.root);
  const result = await t.run(args, { env });
  strictEqual(result.status, 1);
  strictEqual(result.stderr, `Error: ${message}\n`);
  deepStrictEqual(await snapshotTree(t.root), before);
}

Deno.test("makedhcp: a node without a MAC is refused and nothing changes", async () => {
  await using t = await testRoot();
  await cluster(t, "kea");
  await t.ok(["makedhcp", "cn01"]);
  await assertRefused(
    t,
    ["makedhcp", "cn02,sn1"],
    "sn1 has no MAC address (mac.mac); set it with 'chdef sn1 mac=<address>'.",
  );
});

Deno.test("makedhcp: a configuration Kea rejects (two nodes, one MAC) leaves the old file untouched", async () => {
  await using t = await testRoot();
  await cluster(t, "kea");
  await t.ok(["makedhcp", "cn01"]);
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    "cn05",
    "groups=compute",
    "mac=52:54:00:00:00:01",
    "ip=10.0.0.105",
  ]);
  const before = await snapshotTree(t.root);
  const result = await t.run(["makedhcp", "cn05"]);
  strictEqual(result.status, 1);
  ok(
    result.stderr.startsWith(
      "Error: kea-dhcp4 rejected the new configuration; /etc/kea/kea-dhcp4.conf is unchanged: ",
    ),
    result.stderr,
  );
  ok(result.stderr.includes("52:54:00:00:00:01"), result.stderr);
  strictEqual(result.stderr.split("\n").length, 2);
  deepStrictEqual(await snapshotTree(t.root), before);
});

Deno.test("makedhcp: missing iPXE binaries name the package, nothing changes", async () => {
  await using t = await testRoot();
  await cluster(t, "dnsmasq");
  const empty = `${t.root}/no-ipxe`;
  await Deno.mkdir(empty);
  await assertRefused(
    t,
    ["makedhcp", "cn01"],
    `The iPXE first stage ${empty}/undionly.kpxe is missing: install the Debian package 'ipxe' (apt-get install ipxe).`,
    { OSIMG_IPXE_DIR: empty },
  );
});

Deno.test("makedhcp: a node on no network of the networks table is refused", async () => {
  await using t = await testRoot();
  await cluster(t, "kea");
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    "cn09",
    "groups=compute",
    "mac=52:54:00:00:00:09",
    "ip=172.16.0.9",
  ]);
  await assertRefused(
    t,
    ["makedhcp", "cn09"],
    "cn09's address 172.16.0.9 is on no network of the networks table; add the network (mkdef -t network) or remove the node's entry (makedhcp -d cn09).",
  );
});

Deno.test("makedhcp: an unknown site.dhcpserver is refused", async () => {
  await using t = await testRoot();
  await cluster(t, "kea");
  await t.ok(["chdef", "-t", "site", "clustersite", "dhcpserver=isc"]);
  await assertRefused(
    t,
    ["makedhcp", "-n"],
    "The site attribute dhcpserver='isc' names no DHCP server makedhcp knows (kea, dnsmasq); set it with 'chdef -t site dhcpserver=kea'.",
  );
});

Deno.test("makedhcp: flags that do not go together are usage errors (exit 2)", async () => {
  await using t = await testRoot();
  for (
    const [args, message] of [
      [["-n", "cn01"], "makedhcp: -n takes no noderange."],
      [["-d"], "makedhcp: a noderange (or -n, -a) is needed. Run 'makedhcp --help'."],
      [["-n", "-d"], "makedhcp: -n, -d cannot be combined."],
    ] as const
  ) {
    const result = await t.run(["makedhcp", ...args]);
    strictEqual(result.status, 2, args.join(" "));
    strictEqual(result.stderr, `Error: ${message}\n`);
  }
});

Deno.test("makedhcp: an existing file it cannot read is kept; -n replaces it", async () => {
  await using t = await testRoot();
  await cluster(t, "kea");
  await Deno.mkdir(`${t.root}/etc/kea`, { recursive: true });
  await Deno.writeTextFile(
    `${t.root}/etc/kea/kea-dhcp4.conf`,
    "subnet 10.0.0.0 netmask 255.255.255.0 {}\n",
  );
  await assertRefused(
    t,
    ["makedhcp", "cn01"],
    "/etc/kea/kea-dhcp4.conf is not a Kea configuration makedhcp can read (not JSON); 'makedhcp -n' writes a new one.",
  );
  await t.ok(["makedhcp", "-n"]);
  await assertServerAccepts(t, "kea");
});
