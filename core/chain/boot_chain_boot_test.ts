// HEAVY (run under flock /work/wt/heavy.lock): the whole chain with nothing faked — genimage of a
// Debian 12 image from the machine's mirror, packimage, nodeset and makedhcp for a BIOS and a
// UEFI node, then Kea and `osimg serve` in a network namespace and two QEMU VMs on its bridge,
// booted until each one's systemd prints its own name.

import { deepStrictEqual, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runCli } from "../../main.ts";
import { systemRunner } from "../process.ts";
import { textReporter } from "../reporter.ts";
import { parseKeaLeases } from "../../formats/dhcp/dhcp_leases.ts";
import {
  BOOT_MARKER,
  CHAIN_NODES,
  CHAIN_PKGLIST,
  checkBootChainPrerequisites,
  runBootChain,
  systemProbe,
} from "./boot_chain.ts";
import { debianMirror, debianRoot, osversOf } from "../../testdata/support/debian_root.ts";
import { testRoot } from "../../testdata/support/testing.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";

/** osimg as a program: `osimg serve` runs inside the namespace as its own process. */
const OSIMG = [
  Deno.execPath(),
  "run",
  "-A",
  fileURLToPath(new URL("../../main.ts", import.meta.url)),
];

/** The osimg verbs (with `-t type`) of the README's "Boot your first node" block, in order. */
async function readmeVerbs(): Promise<string[]> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const block = /\n## Boot your first node\n[\s\S]*?```sh\n([\s\S]*?)\n```/.exec(readme)?.[1];
  ok(block, "README.md has no sh block under 'Boot your first node'");
  return block.replace(/\\\n\s*/g, " ").split("\n").flatMap((line) => {
    const match = /^osimg ([a-z]+)(?: (-t [a-z]+))?/.exec(line);
    return match ? [[match[1], match[2]].filter(Boolean).join(" ")] : [];
  });
}

/** The same of the commands the chain printed: `$ osimg ...`, and osimg run in the namespace. */
function chainVerbs(output: string): string[] {
  return output.split("\n").flatMap((line) => {
    const match = /^(?:\$ osimg|# .* --root \S+) ([a-z]+)(?: (-t [a-z]+))?/.exec(line);
    return match ? [[match[1], match[2]].filter(Boolean).join(" ")] : [];
  });
}

heavyTest(
  "the chain: genimage → packimage → makedhcp → nodeset, Kea and osimg serve in a namespace, a BIOS and a UEFI VM boot the image into systemd and print their own names",
  async () => {
    await using t = await testRoot();
    const work = await Deno.makeTempDir({ prefix: "osimg-chain-test-" });
    const printed: string[] = [];
    const io = {
      out: (text: string) => void printed.push(text),
      err: (text: string) => void printed.push(text),
      readStdin: () => Promise.resolve(""),
      stdoutIsTerminal: false,
      stderrIsTerminal: false,
    };
    const env = { PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
    const started = performance.now();
    try {
      const mirror = await debianMirror();
      const dhcp = await checkBootChainPrerequisites(systemProbe(env.PATH), "kea");
      const result = await runBootChain({
        root: t.root,
        runner: systemRunner,
        reporter: textReporter(io),
        invoke: (args) => runCli(args, { env, io, cwd: t.root }),
      }, {
        mirror,
        osvers: osversOf(mirror.suite),
        osimg: OSIMG,
        dhcp,
        workDir: work,
        seedRootimg: await debianRoot({ pkglist: CHAIN_PKGLIST }),
      }).catch((error) => {
        throw new Error(
          `${(error as Error).message}\n--- output:\n${printed.join("").slice(-8000)}`,
        );
      });
      console.log(
        `chain: ${Math.round((performance.now() - started) / 1000)} s; ` +
          result.nodes.map((node) => `${node.node} (${node.firmware}) booted in ${node.seconds} s`)
            .join(", "),
      );

      for (const node of CHAIN_NODES) {
        console.log(`${node.node} fetched:\n  ${(result.fetches[node.ip] ?? []).join("\n  ")}`);
      }
      console.log(`leases: ${JSON.stringify(result.leases)}`);

      // Both markers, each with the node's own name (NODE= from its boot entry).
      deepStrictEqual(
        result.nodes.map((node) => [node.node, node.marker]),
        CHAIN_NODES.map((node) => [node.node, `${BOOT_MARKER}${node.node}`]),
      );
      for (const node of result.nodes) {
        ok((await Deno.readTextFile(node.serialLog)).includes(`${BOOT_MARKER}${node.node}`));
      }

      // Kea's own lease file, under the root where makedhcp named it: each node's MAC got its IP.
      const leaseFile = `${t.root}/var/lib/kea/kea-leases4.csv`;
      deepStrictEqual(result.leaseFile, leaseFile);
      const leases = parseKeaLeases(await Deno.readTextFile(leaseFile));
      for (const node of CHAIN_NODES) {
        const mine = leases.filter((lease) => lease.mac === node.mac);
        ok(mine.length > 0, `no lease for ${node.node}: ${JSON.stringify(leases)}`);
        deepStrictEqual(new Set(mine.map((lease) => lease.ip)), new Set([node.ip]));
      }

      // osimg serve's access log: each node's fetches, by its address.
      const image = result.image;
      const dir = `/install/netboot/${osversOf(mirror.suite)}/x86_64/compute`;
      const log = await Deno.readTextFile(result.accessLog);
      for (const node of CHAIN_NODES) {
        const fetched = result.fetches[node.ip] ?? [];
        const script = `/tftpboot/xcat/xnba/nodes/${node.node}${
          node.firmware === "uefi" ? ".uefi" : ""
        }`;
        const expected = [
          // UEFI firmware PXE gets iPXE's EFI first stage by TFTP; QEMU's BIOS ROM is iPXE
          // already, so makedhcp's rules hand it its script's URL directly.
          ...(node.firmware === "uefi" ? [/^RRQ \/?xcat\/xnba\.efi octet 200$/] : []),
          new RegExp(`^GET ${script} HTTP/1\\.1 200$`),
          new RegExp(`^GET /tftpboot/xcat/osimage/${image}/kernel HTTP/1\\.1 200$`),
          new RegExp(`^GET /tftpboot/xcat/osimage/${image}/initrd-stateless\\.gz HTTP/1\\.1 200$`),
          new RegExp(`^GET /+${dir.slice(1)}/rootimg\\.cpio\\.gz HTTP/1\\.1 200$`),
        ];
        let from = 0;
        for (const pattern of expected) {
          const at = fetched.findIndex((request, index) => index >= from && pattern.test(request));
          ok(
            at >= 0,
            `${node.node}: no ${pattern} after ${fetched[from - 1]} in\n${
              fetched.join("\n")
            }\n${log}`,
          );
          from = at + 1;
        }
      }
      // The README's "Boot your first node" runs the same osimg verbs in the same order.
      deepStrictEqual(await readmeVerbs(), chainVerbs(printed.join("")));

      // The chain left no namespace behind.
      const namespaces = new TextDecoder().decode(
        (await systemRunner.run(["ip", "netns", "list"])).stdout,
      );
      ok(!namespaces.includes("osimg-chain-"), namespaces);
    } finally {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
);
