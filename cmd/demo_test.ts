// demo --boot's refusals through the command line: exit status, the one error line, and
// nothing written (the chain itself: core/chain/boot_chain_boot_test.ts).

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { snapshotTree, testRoot } from "../testdata/support/testing.ts";

Deno.test("demo --boot on a machine without QEMU, Kea or dnsmasq says what to install, exits 1 and changes nothing", async () => {
  await using t = await testRoot();
  const emptyPath = `${t.root}/empty-bin`;
  await Deno.mkdir(emptyPath);
  const before = await snapshotTree(t.root);
  const result = await t.run(["--root", `${t.root}/site`, "demo", "--boot"], {
    env: { PATH: emptyPath },
  });
  strictEqual(result.status, 1);
  strictEqual(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  strictEqual(lines.length, 1, result.stderr);
  ok(lines[0]!.startsWith("Error: demo --boot cannot run on this machine; missing: "), lines[0]);
  for (
    const needed of [
      "qemu-system-x86_64 (apt-get install qemu-system-x86)",
      "ip (apt-get install iproute2)",
      "kea-dhcp4 (apt-get install kea-dhcp4-server) or dnsmasq (apt-get install dnsmasq-base)",
    ]
  ) {
    ok(lines[0]!.includes(needed), `${needed} not named: ${lines[0]}`);
  }
  deepStrictEqual(await snapshotTree(t.root), before);
});

Deno.test("demo: --mirror and --dhcp without --boot are usage errors (exit 2)", async () => {
  await using t = await testRoot();
  const result = await t.run(["demo", "--dhcp", "kea"]);
  strictEqual(result.status, 2);
  strictEqual(result.stderr, "Error: demo: --mirror and --dhcp go with --boot.\n");
});

Deno.test("demo --boot --mirror without a URL is a usage error (exit 2) before anything is checked or written", async () => {
  await using t = await testRoot();
  const before = await snapshotTree(t.root);
  const result = await t.run([
    "--root",
    `${t.root}/site`,
    "demo",
    "--boot",
    "--mirror",
    "bookworm",
  ]);
  strictEqual(result.status, 2);
  strictEqual(
    result.stderr,
    "Error: demo: --mirror 'bookworm' is not 'URL [SUITE [COMPONENT...]]' (e.g. " +
      "'http://deb.debian.org/debian bookworm main').\n",
  );
  deepStrictEqual(await snapshotTree(t.root), before);
});
