// imgcapture against a real golden client: a debootstrapped Debian root running sshd in its own
// network namespace. HEAVY: run alone,
// `flock /work/wt/heavy.lock deno test -A core/imgcapture/imgcapture_golden_test.ts`.

import { deepStrictEqual as assertEquals, ok, strictEqual } from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  type GoldenClient,
  goldenClient,
  tmpfsRootClient,
} from "../../testdata/support/golden_client.ts";
import { run, sh } from "../../testdata/support/process.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";
import {
  CAPTURE_REWRITTEN,
  captureMismatches,
  defineGolden as defineGoldenAt,
  rsyncPids,
  treeSummary,
  waitFor,
} from "../../testdata/support/capture_testing.ts";
import { snapshotTree, type TestRoot, testRoot } from "../../testdata/support/testing.ts";

const NODE = "gold";
const IMAGE = "debian12-x86_64-netboot-compute";
const ROOTIMGDIR = "/install/netboot/debian12/x86_64/compute";
const KNOWN_HOSTS = "/etc/xcat/osimg/ssh_known_hosts";

/** The golden node's definition in a fresh management node. */
function defineGolden(t: TestRoot, client: GoldenClient, attributes: string[] = []) {
  return defineGoldenAt(t, client.address, attributes);
}

function capture(t: TestRoot, client: GoldenClient, extra: string[] = []) {
  return t.run(["imgcapture", NODE, "-t", "diskless", "--ssh-key", client.privateKey, ...extra]);
}

async function captureOk(t: TestRoot, client: GoldenClient, extra: string[] = []) {
  const result = await capture(t, client, extra);
  strictEqual(result.status, 0, `imgcapture failed:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** A partial file of the big transfer exists in some staging directory of `root`. */
function transferUnderway(root: string): boolean {
  const staging = `${root}/install/.osimg-staging`;
  if (!existsSync(staging)) return false;
  for (const entry of Deno.readDirSync(staging)) {
    const opt = `${staging}/${entry.name}/rootimg/opt`;
    if (!existsSync(opt)) continue;
    for (const file of Deno.readDirSync(opt)) {
      if (file.name.startsWith(".big.bin.")) return true;
    }
  }
  return false;
}

/** The image directory, the known_hosts file and the definitions, for "nothing changed". */
async function imageState(t: TestRoot): Promise<string[]> {
  return [
    ...await snapshotTree(`${t.root}${ROOTIMGDIR}`),
    `known_hosts ${await Deno.readTextFile(`${t.root}${KNOWN_HOSTS}`).catch(() => "(none)")}`,
    (await t.ok(["tabdump", "osimage"])).stdout,
    (await t.ok(["tabdump", "linuximage"])).stdout,
  ];
}

heavyTest(
  "imgcapture captures the golden client: the tree equals the client's minus the excluded and scrubbed paths, file by file",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    const started = performance.now();
    const { stdout } = await captureOk(t, client);
    console.log(`first capture: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const rootimg = `${t.root}${ROOTIMGDIR}/rootimg`;

    const source = await treeSummary(client.root);
    assertEquals(captureMismatches(source, await treeSummary(rootimg), CAPTURE_REWRITTEN), []);

    // The scrubs, each as its own result.
    strictEqual(await Deno.readTextFile(`${rootimg}/etc/machine-id`), "");
    strictEqual(await Deno.readTextFile(`${rootimg}/etc/hostname`), "");
    strictEqual(await Deno.readLink(`${rootimg}/var/lib/dbus/machine-id`), "/etc/machine-id");
    ok(/^root:\*:/m.test(await Deno.readTextFile(`${rootimg}/etc/shadow`)));
    ok(/^root:\$6\$/m.test(await Deno.readTextFile(`${client.root}/etc/shadow`)));
    strictEqual((await Deno.stat(`${rootimg}/etc/shadow`)).gid, 42);
    const fstab = await Deno.readTextFile(`${rootimg}/etc/fstab`);
    ok(
      fstab.includes("#osimg-imgcapture# UUID=0b7c5a3e-8f5d-4f0e-9a57-3d1c2e4b5a6f / ext4"),
      fstab,
    );
    ok(fstab.includes("\nmgmt:/home /home nfs defaults,_netdev 0 0\n"), fstab);
    ok(fstab.endsWith("compute_x86_64 / tmpfs rw 0 0\n"), fstab);
    ok(!(await Deno.readTextFile(`${rootimg}/etc/hosts`)).includes("golden"));
    ok(!(await Deno.readTextFile(`${rootimg}/etc/network/interfaces`)).includes("10.0.7.21"));
    // -aHAXS --numeric-ids: the hard link pair, the sparse file, an owner with no name.
    const pair = [
      await Deno.stat(`${rootimg}/opt/tuned/settings.conf`),
      await Deno.stat(`${rootimg}/opt/tuned/settings.link`),
    ];
    strictEqual(pair[0]!.ino, pair[1]!.ino);
    const sparse = await Deno.stat(`${rootimg}/opt/tuned/sparse.img`);
    strictEqual(sparse.size, 64 * 1024 * 1024);
    ok(sparse.blocks! * 512 < 1024 * 1024, `sparse.img takes ${sparse.blocks! * 512} bytes`);
    ok(source.get("opt/tuned/acl.txt")!.includes("system.posix_acl_access="));

    for (
      const line of [
        "Capturing image on gold...",
        "Scrubbed ssh-host-keys: /etc/ssh/ssh_host_",
        "Scrubbed machine-id: /etc/machine-id replaced (emptied: systemd makes a new one at first boot)",
        "Scrubbed random-seeds: /var/lib/systemd/random-seed not captured",
        "Scrubbed dhcp-leases: /var/lib/dhcp/dhclient.ens3.leases not captured",
        "Scrubbed hostname: /etc/hostname replaced",
        "Scrubbed dbus-machine-id: /var/lib/dbus/machine-id replaced (a link to /etc/machine-id)",
        "Scrubbed persistent-net-rules: /etc/udev/rules.d/70-persistent-net.rules not captured",
        "Scrubbed passwords: /etc/shadow: 1 password hash removed (--keep-passwords keeps them)",
        "Generalised /etc/fstab: local-disk entries commented out: / (UUID=0b7c5a3e-8f5d-4f0e-9a57-3d1c2e4b5a6f ext4), /boot/efi (UUID=6c1e-2b7a vfat), none (UUID=9d2f4c1b-5e6a-4b7c-8d9e-0f1a2b3c4d5e swap); / is tmpfs (compute_x86_64)",
        "Generalised /etc/network/interfaces: ens3 dropped, lo kept",
        "Generalised /etc/hosts: the golden node's name golden removed from 1 loopback line",
        "Number of regular files transferred:",
        "the initial ramdisk for stateless is generated successfully.",
        `The osimage ${IMAGE} was created from gold: run 'packimage ${IMAGE}' to pack it.`,
      ]
    ) ok(stdout.includes(line), `missing '${line}' in:\n${stdout}`);

    const lsdef = (await t.ok(["lsdef", "-t", "osimage", "-o", IMAGE])).stdout;
    for (
      const attribute of [
        "provmethod=netboot",
        "osvers=debian12",
        "osarch=x86_64",
        "profile=compute",
        `rootimgdir=${ROOTIMGDIR}`,
        `pkglist=${ROOTIMGDIR}/imgcapture.pkglist`,
      ]
    ) ok(lsdef.includes(`    ${attribute}\n`), lsdef);
    ok((await Deno.stat(`${t.root}${ROOTIMGDIR}/kernel`)).size > 1_000_000);
    const packages = (await Deno.readTextFile(`${t.root}${ROOTIMGDIR}/imgcapture.pkglist`))
      .split("\n");
    for (const name of ["openssh-server", "rsync", "systemd-sysv", "busybox-static"]) {
      ok(packages.includes(name), name);
    }
    const initrd = await sh([
      "sh",
      "-c",
      `gzip -dc ${t.root}${ROOTIMGDIR}/initrd-stateless.gz | cpio -t 2>/dev/null`,
    ]);
    ok(/virtio_net\.ko$/m.test(initrd), initrd);
    ok((await Deno.readTextFile(`${t.root}${KNOWN_HOSTS}`)).startsWith(`${client.address} `));
    // Nothing of the capture is left behind: no staging, no parked old tree.
    ok(!existsSync(`${t.root}/install/.osimg-staging`));
  },
);

heavyTest(
  "a recapture after one file changed on the client transfers only that file, and the image then holds it",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    await captureOk(t, client);
    const issue = `${client.root}/etc/issue`;
    const original = await Deno.readTextFile(issue);
    try {
      await Deno.writeTextFile(issue, `${original}tuned ${crypto.randomUUID()}\n`);
      const started = performance.now();
      const { stdout } = await captureOk(t, client);
      console.log(`recapture: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      ok(
        stdout.includes("(incremental: unchanged files are taken from the current rootimg)"),
        stdout,
      );
      ok(stdout.includes("\nNumber of regular files transferred: 1\n"), stdout);
      ok(stdout.includes(`The osimage ${IMAGE} was updated from gold`), stdout);
      strictEqual(
        await Deno.readTextFile(`${t.root}${ROOTIMGDIR}/rootimg/etc/issue`),
        await Deno.readTextFile(issue),
      );
      // The old tree is gone (no parked copy), and no hard link ties the image to it any more.
      assertEquals(
        [...Deno.readDirSync(`${t.root}${ROOTIMGDIR}`)].map((entry) => entry.name).sort(),
        ["imgcapture.pkglist", "initrd-stateless.gz", "kernel", "rootimg"],
      );
      strictEqual((await Deno.stat(`${t.root}${ROOTIMGDIR}/rootimg/etc/passwd`)).nlink, 1);
    } finally {
      await Deno.writeTextFile(issue, original);
    }
  },
);

/** A client file big enough, at a throttled rate, for a kill to land mid-transfer. */
async function slowTransfer(client: GoldenClient): Promise<() => Promise<void>> {
  const big = `${client.root}/opt/big.bin`;
  await run(["dd", "if=/dev/urandom", `of=${big}`, "bs=1M", "count=24", "status=none"]);
  await client.throttle("4mbit");
  return async () => {
    await client.unthrottle();
    await Deno.remove(big);
  };
}

heavyTest(
  "SIGKILL of osimg's rsync mid-transfer: an interrupted transfer, the previous image exactly as it was",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    await captureOk(t, client);
    const before = await imageState(t);
    const restore = await slowTransfer(client);
    try {
      const running = capture(t, client);
      await waitFor("the transfer of /opt/big.bin", () => transferUnderway(t.root));
      const pids = rsyncPids(`${t.root}/install/.osimg-staging/`);
      ok(pids.length > 0, "no rsync of ours found");
      for (const pid of pids) Deno.kill(pid, "SIGKILL");
      const result = await running;
      strictEqual(result.status, 1);
      ok(
        /^Error: The transfer from gold was interrupted \(rsync exit \d+.*\); the image was not changed\. Run imgcapture again: it continues from what is in the current rootimg\.\n$/
          .test(result.stderr),
        result.stderr,
      );
    } finally {
      await restore();
    }
    assertEquals(await imageState(t), before);
    ok(!existsSync(`${t.root}/install/.osimg-staging`));
  },
);

heavyTest(
  "the client's rsync killed mid-transfer (connection lost): one clear message, nothing changed",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    await captureOk(t, client);
    const before = await imageState(t);
    const restore = await slowTransfer(client);
    try {
      const running = capture(t, client);
      await waitFor("the transfer of /opt/big.bin", () => transferUnderway(t.root));
      let killed = 0;
      for (const pid of await client.pids()) {
        const comm = await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "");
        if (comm.trim() === "rsync") {
          Deno.kill(pid, "SIGKILL");
          killed++;
        }
      }
      ok(killed > 0, "no rsync on the client");
      const result = await running;
      strictEqual(result.status, 1);
      ok(
        result.stderr.startsWith("Error: The transfer from gold was interrupted (rsync exit "),
        result.stderr,
      );
      ok(
        result.stderr.endsWith(
          "; the image was not changed. Run imgcapture again: it continues from what is in the current rootimg.\n",
        ),
        result.stderr,
      );
    } finally {
      await restore();
    }
    assertEquals(await imageState(t), before);
  },
);

heavyTest(
  "SIGKILL of the osimg process mid-transfer: its rsync dies with it, the previous image is exactly as it was, the next capture clears the leftovers",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    await captureOk(t, client);
    const before = await imageState(t);
    const restore = await slowTransfer(client);
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../main.ts", import.meta.url).pathname,
          "--root",
          t.root,
          "imgcapture",
          NODE,
          "-t",
          "diskless",
          "--ssh-key",
          client.privateKey,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      await waitFor("the transfer of /opt/big.bin", () => transferUnderway(t.root));
      child.kill("SIGKILL");
      await child.status;
      await waitFor(
        "osimg's rsync to die with it",
        () => rsyncPids(`${t.root}/install/`).length === 0,
        10,
      );
    } finally {
      await restore();
    }
    assertEquals(await imageState(t), before);
    ok(
      existsSync(`${t.root}/install/.osimg-staging`),
      "the killed run's staging is where recovery finds it",
    );
    await captureOk(t, client);
    ok(!existsSync(`${t.root}/install/.osimg-staging`), "the next capture removed the leftovers");
  },
);

/** A refusal: the message, status 1, and the image (or its absence) and definitions unchanged. */
async function refused(
  t: TestRoot,
  run: () => Promise<{ status: number; stderr: string }>,
  message: RegExp,
) {
  const before = await imageState(t);
  const result = await run();
  ok(message.test(result.stderr), result.stderr);
  strictEqual(result.status, 1);
  assertEquals(await imageState(t), before);
  ok(!existsSync(`${t.root}/install/.osimg-staging`));
}

heavyTest("an unreachable node: one message naming it and ssh's reason, nothing made", async () => {
  const client = await goldenClient();
  await using t = await testRoot();
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    NODE,
    "groups=all",
    "os=debian12",
    "arch=x86_64",
    "profile=compute",
    `ip=${client.unusedAddress}`,
  ]);
  await refused(
    t,
    () => capture(t, client),
    new RegExp(
      `^Error: Cannot reach gold \\(${
        client.unusedAddress.replaceAll(".", "\\.")
      }\\) over ssh: .*(No route to host|timed out).*\\. Check that the node is up, that hosts\\.ip is its address and that sshd runs on it\\.\\n$`,
    ),
  );
});

heavyTest(
  "a node whose host key changed is refused with the way to accept the new one, nothing made",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    const stranger = (await Deno.readTextFile(`${client.strangerKey}.pub`)).split(" ").slice(0, 2)
      .join(" ");
    await Deno.mkdir(`${t.root}/etc/xcat/osimg`, { recursive: true });
    await Deno.writeTextFile(`${t.root}${KNOWN_HOSTS}`, `${client.address} ${stranger}\n`);
    await refused(
      t,
      () => capture(t, client),
      /^Error: The ssh host key of gold \(198\.51\.100\.\d+\) is not the one recorded in .*\/etc\/xcat\/osimg\/ssh_known_hosts: refusing to capture from it\. If the node was reinstalled, remove its old key with 'ssh-keygen -R 198\.51\.100\.\d+ -f .*' and run imgcapture again\.\n$/,
    );
  },
);

heavyTest(
  "no ssh key the node accepts (--ssh-key of another key, or ssh's defaults): one message, nothing made",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    await refused(
      t,
      () => t.run(["imgcapture", NODE, "-t", "diskless", "--ssh-key", client.strangerKey]),
      /^Error: root@gold \(198\.51\.100\.\d+\) accepted no ssh key of ours \(--ssh-key .*stranger\): add the public key to the node's \/root\/\.ssh\/authorized_keys or name the right key with --ssh-key FILE\.\n$/,
    );
    await refused(
      t,
      () => t.run(["imgcapture", NODE, "-t", "diskless"]),
      /^Error: root@gold \(198\.51\.100\.\d+\) accepted no ssh key of ours \(ssh's default keys of the user running osimg\)/,
    );
  },
);

heavyTest("rsync missing on the node: one message saying to install it, nothing made", async () => {
  const client = await goldenClient();
  await using t = await testRoot();
  await defineGolden(t, client);
  await Deno.rename(`${client.root}/usr/bin/rsync`, `${client.root}/usr/bin/rsync.hidden`);
  try {
    await refused(
      t,
      () => capture(t, client),
      /^Error: rsync is not installed on gold \(198\.51\.100\.\d+\): imgcapture pulls the root with it; install it there \(apt-get install rsync, dnf install rsync or zypper install rsync\) and run imgcapture again\.\n$/,
    );
  } finally {
    await Deno.rename(`${client.root}/usr/bin/rsync.hidden`, `${client.root}/usr/bin/rsync`);
  }
});

heavyTest(
  "a node defined with another os than it runs: refused naming both, nothing made",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await t.ok([
      "mkdef",
      "-t",
      "node",
      "-o",
      NODE,
      "groups=all",
      "os=debian11",
      "arch=x86_64",
      "profile=compute",
      `ip=${client.address}`,
    ]);
    await refused(
      t,
      () => capture(t, client),
      /^Error: gold runs debian 12 \(its \/etc\/os-release\), but its definition says os=debian11: correct it with 'chdef gold os=<osvers>' or capture a node that runs that os\.\n$/,
    );
  },
);

heavyTest(
  "a full disk under the install dir: one message, no half-made image or definition",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    await Deno.mkdir(`${t.root}/install`);
    await run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", `${t.root}/install`]);
    try {
      await refused(
        t,
        () => capture(t, client),
        /^Error: Not enough space in \/install for the image captured from gold \(No space left on device\): free some space and run imgcapture again; the image was not changed\.\n$/,
      );
      assertEquals([...Deno.readDirSync(`${t.root}/install`)], []);
    } finally {
      await run(["umount", `${t.root}/install`]);
    }
  },
);

heavyTest(
  "a node whose root is tmpfs (a diskless node) is refused with xCAT's message",
  async () => {
    const golden = await goldenClient();
    const client = await tmpfsRootClient(golden);
    try {
      await using t = await testRoot();
      await defineGolden(t, client);
      await refused(
        t,
        () => capture(t, client),
        /^Error: gold: its root file system is tmpfs\. This node might not be diskful Linux node, please check it\.\n$/,
      );
    } finally {
      await client.stop();
    }
  },
);

heavyTest(
  "an <profile>.<os>.<arch>.imgcapture.exlist under /install/custom/netboot/<platform> replaces the default list, its + lines put paths back",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    const exlist = "/install/custom/netboot/debian/compute.debian12.x86_64.imgcapture.exlist";
    await Deno.mkdir(`${t.root}/install/custom/netboot/debian`, { recursive: true });
    await Deno.writeTextFile(
      `${t.root}${exlist}`,
      "# xCAT's find -path patterns\n./opt/tuned/*\n+./opt/tuned/settings.conf\n./usr/share/doc*\n",
    );
    await captureOk(t, client);
    const rootimg = `${t.root}${ROOTIMGDIR}/rootimg`;
    assertEquals(
      [...Deno.readDirSync(`${rootimg}/opt/tuned`)].map((entry) => entry.name),
      ["settings.conf"],
    );
    ok(!existsSync(`${rootimg}/usr/share/doc`));
    ok(
      existsSync(`${rootimg}/usr/share/man`) || existsSync(`${rootimg}/usr/share/common-licenses`),
    );
    // Not the default list any more: the files of /var/log are captured...
    const logs = [...Deno.readDirSync(`${client.root}/var/log`)].filter((entry) => entry.isFile);
    ok(logs.length > 0);
    ok(existsSync(`${rootimg}/var/log/${logs[0]!.name}`), logs[0]!.name);
    // ...but the scrubs still hold whatever the exlist says.
    ok(!existsSync(`${rootimg}/etc/ssh/ssh_host_ed25519_key`));
    strictEqual(await Deno.readTextFile(`${rootimg}/etc/machine-id`), "");
  },
);

heavyTest(
  "with site.osimgsnapshots=yes a recapture first keeps the previous image as a snapshot",
  async () => {
    const client = await goldenClient();
    await using t = await testRoot();
    await defineGolden(t, client);
    const first = await captureOk(t, client);
    ok(!first.stdout.includes("Snapshot "), "no snapshot of an image that did not exist");
    await t.ok(["chdef", "-t", "site", "-o", "clustersite", "osimgsnapshots=yes"]);
    // A deployed image is packed: the snapshot keeps the packed root and the tree.
    await t.ok(["packimage", "-m", "cpio", "-c", "gzip", IMAGE]);
    const issue = `${client.root}/etc/issue`;
    const original = await Deno.readTextFile(issue);
    try {
      await Deno.writeTextFile(issue, `${original}changed for the snapshot test\n`);
      const started = performance.now();
      const { stdout } = await captureOk(t, client);
      console.log(
        `recapture with snapshot: ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      ok(
        stdout.includes(`Snapshot 1 of ${IMAGE} keeps the image as it was before this capture.`),
        stdout,
      );
    } finally {
      await Deno.writeTextFile(issue, original);
    }
    const list = JSON.parse((await t.ok(["snapshot", "--list", IMAGE, "--json"])).stdout);
    strictEqual(list.length, 1);
    strictEqual(list[0].note, "before imgcapture from gold");
    // The snapshot holds the old /etc/issue: rolled back, the image has it again.
    await t.ok(["rollback", IMAGE, "1"]);
    strictEqual(await Deno.readTextFile(`${t.root}${ROOTIMGDIR}/rootimg/etc/issue`), original);
  },
);
