// The initrds' shared network start-up: in both /init scripts, and its waits run in busybox sh.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { initrdNetworkFunctions } from "./initrd_network_script.ts";
import { NETBOOT_INIT } from "./netboot_init_script.ts";
import { SYSCLONE_DEPLOY_INIT } from "../sysclone/deploy_init_script.ts";
import { staticBusybox } from "../../testdata/support/debian_kernel.ts";

/** Runs `body` after the network functions in busybox sh; its stdout. */
async function network(body: string): Promise<string> {
  const script = `say() { echo "say: $*"; }\n` +
    `network_wait_failed() { echo "failed: $*"; }\n` + initrdNetworkFunctions() + body;
  const output = await new Deno.Command(staticBusybox(), {
    args: ["sh", "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (output.code !== 0) {
    throw new Error(`exit ${output.code}: ${new TextDecoder().decode(output.stderr)}`);
  }
  return new TextDecoder().decode(output.stdout);
}

Deno.test("initrd network: the netboot and sysclone deploy inits both hold the one fragment, each with its own network_wait_failed", () => {
  const fragment = initrdNetworkFunctions();
  for (
    const [init, policy] of [
      [NETBOOT_INIT, 'network_wait_failed() { say "$*; still trying"; }'],
      [SYSCLONE_DEPLOY_INIT, 'network_wait_failed() { fail "$*"; }'],
    ] as const
  ) {
    assertEquals(init.split(fragment).length, 2, "the fragment, once");
    ok(init.includes(policy), policy);
    ok(init.indexOf("\nload_modules\n") > init.indexOf(fragment), "load_modules is called");
    ok(init.indexOf("\nnetwork_up\n") > init.indexOf(fragment), "network_up is called");
    // Nothing of the fragment is left written out a second time.
    assertEquals(init.split("pick_interface() {").length, 2);
    assertEquals(init.split("udhcpc -i").length, 2);
  }
});

Deno.test("initrd network: BOOTIF= in pxelinux's 01-xx-... form and as a MAC names the NIC in lower case", async () => {
  assertEquals(
    await network(
      "mac_of_bootif 01-52-54-00-AB-CD-EF\nmac_of_bootif 52:54:00:AB:CD:EF\n" +
        "mac_of_bootif eth0; echo end\n",
    ),
    "52:54:00:ab:cd:ef\n52:54:00:ab:cd:ef\nend\n",
  );
});

Deno.test("initrd network: network_up waits for the NIC and a lease, calling network_wait_failed after 30 s and 10 DHCP tries", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-initrd-network-" });
  try {
    // The NIC shows on the 32nd look (the 30th second calls network_wait_failed), DHCP answers
    // on the 13th try (the 10th calls it).
    const out = await network(
      `echo 0 > '${dir}/looks'\ndhcp=0\n` +
        `sleep() { :; }\n` +
        `pick_interface() { looks=$(cat '${dir}/looks'); echo $((looks + 1)) > '${dir}/looks'; ` +
        `[ "$looks" -ge 31 ] && echo eth0; }\n` +
        `ip() { echo "ip $*"; }\n` +
        `udhcpc() { dhcp=$((dhcp + 1)); [ "$dhcp" -ge 13 ]; }\n` +
        `network_up\necho "IFACE=$IFACE"\n`,
    );
    const lines = out.trimEnd().split("\n");
    ok(
      /^failed: no network interface matches BOOTIF= netdev=; loaded drivers: /.test(lines[0]!),
      lines[0],
    );
    const retry = "say: no DHCP answer on eth0; retrying";
    assertEquals(lines.slice(1), [
      "ip link set lo up",
      "ip link set eth0 up",
      ...Array(9).fill(retry),
      "failed: no DHCP answer on eth0",
      ...Array(3).fill(retry),
      "IFACE=eth0",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
