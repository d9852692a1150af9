// A captured image boots: the golden client captured, packed, nodeset, and netbooted by QEMU's
// iPXE into its own systemd, whose unit prints the marker with the clone's machine-id and host
// key. HEAVY (a full Debian boot under TCG): run alone,
// `flock /work/wt/heavy.lock deno test -A core/imgcapture/imgcapture_boot_test.ts`.

import { notStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  bootIpxe,
  GUEST_IP,
  HOST_FROM_GUEST,
  serveRoot,
} from "../../testdata/support/boot_clients.ts";
import { goldenClient } from "../../testdata/support/golden_client.ts";
import { sh } from "../../testdata/support/process.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";
import { testRoot } from "../../testdata/support/testing.ts";
import { defineGolden } from "../../testdata/support/capture_testing.ts";

const NODE = "cn01";
const IMAGE = "debian12-x86_64-netboot-compute";
const MAC = "52:54:00:c0:ff:01";
/** A full Debian boot into a RAM root under software emulation on a loaded 2-core machine. */
const BOOT_TIMEOUT_MS = 900_000;

/** What the packed root leaves out so the node unpacks it quickly (the initrd loads the NIC). */
const PACK_EXLIST = [
  "./usr/share/doc*",
  "./usr/share/man*",
  "./usr/share/info*",
  "./usr/share/locale*",
  "./usr/lib/modules*",
  "./boot*",
  "./var/lib/apt/lists*",
  "./opt/tuned/sparse.img",
].join("\n") + "\n";

heavyTest(
  "a captured image boots through iPXE into its own systemd, with its own machine-id and ssh host keys",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await using http = serveRoot(t.root);
    // The golden node, then the node that boots its image (QEMU's guest).
    await defineGolden(t, client.address);
    const started = performance.now();
    // QEMU's NIC is virtio-net on PCI: Debian builds both as modules, so the initrd needs both.
    await t.ok([
      "imgcapture",
      "gold",
      "-t",
      "diskless",
      "--ssh-key",
      client.privateKey,
      "-n",
      "virtio_pci,virtio_net",
    ]);
    const captured = performance.now();
    await Deno.mkdir(`${t.root}/install/custom/netboot/debian`, { recursive: true });
    await Deno.writeTextFile(`${t.root}/install/custom/netboot/debian/compute.exlist`, PACK_EXLIST);
    await t.ok([
      "chdef",
      "-t",
      "osimage",
      "-o",
      IMAGE,
      "exlist=/install/custom/netboot/debian/compute.exlist",
    ]);
    await t.ok(["packimage", "-m", "cpio", "-c", "gzip", IMAGE]);
    const packed = performance.now();
    await t.ok([
      "chdef",
      "-t",
      "site",
      "-o",
      "clustersite",
      `master=${HOST_FROM_GUEST}`,
      `httpport=${http.port}`,
    ]);
    await t.ok([
      "mkdef",
      "-t",
      "node",
      "-o",
      NODE,
      "groups=compute",
      `mac=${MAC}`,
      `ip=${GUEST_IP}`,
      "netboot=xnba",
      "serialport=0",
      "serialspeed=115200",
    ]);
    strictEqual(
      (await t.ok(["nodeset", NODE, `osimage=${IMAGE}`])).stdout,
      `${NODE}: netboot debian12-x86_64-compute\n`,
    );

    const outcome = await bootIpxe(
      `http://${HOST_FROM_GUEST}:${http.port}/tftpboot/xcat/xnba/nodes/${NODE}`,
      { marker: client.marker, mac: MAC, memoryMiB: 1536, timeoutMs: BOOT_TIMEOUT_MS },
    );
    console.log(
      `capture ${((captured - started) / 1000).toFixed(1)} s, packimage ${
        ((packed - captured) / 1000).toFixed(1)
      } s, boot ${outcome.seconds} s`,
    );
    ok(outcome.report, `no marker after ${outcome.seconds} s:\n${outcome.serial.slice(-6000)}`);
    strictEqual(outcome.report.node, NODE);
    ok(outcome.report.cmdline.includes("imgurl=http://"), outcome.report.cmdline);

    // The clone's identity, printed by its own userspace, is not the golden client's.
    const ids = new RegExp(`${client.marker}-ids machine-id=(\\S*) hostkey=(\\S*) sshd=(\\S*)`)
      .exec(outcome.serial);
    ok(ids, outcome.serial.slice(-6000));
    const [, machineId, hostKey, sshd] = ids;
    ok(/^[0-9a-f]{32}$/.test(machineId!), `machine-id: ${machineId}`);
    notStrictEqual(machineId, (await Deno.readTextFile(`${client.root}/etc/machine-id`)).trim());
    ok(hostKey!.startsWith("SHA256:"), `host key: ${hostKey}`);
    const goldenKey =
      (await sh(["ssh-keygen", "-lf", `${client.root}/etc/ssh/ssh_host_ed25519_key.pub`]))
        .split(" ")[1];
    notStrictEqual(hostKey, goldenKey);
    strictEqual(sshd, "active");
  },
);
