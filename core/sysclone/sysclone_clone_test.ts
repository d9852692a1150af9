// A real clone of a captured golden client: imgcapture -t sysclone reads a golden client installed
// on a partitioned loop disk, nodeset builds the deploy environment from what it captured, a QEMU
// VM with an empty disk boots it, is partitioned and installed, then boots its own disk with no
// network to the image's userspace — once with SeaBIOS, once with OVMF —; the failures; and a
// recapture after a change on the client, whose second clone has the change.

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { existsSync } from "node:fs";
import { serveRoot } from "../../testdata/support/boot_clients.ts";
import { diskGoldenClient } from "../../testdata/support/golden_client.ts";
import { run, runTool, sh } from "../../testdata/support/process.ts";
import { testRoot } from "../../testdata/support/testing.ts";
import { parseDiskLayout } from "../../formats/sysclone/disk_layout.ts";
import {
  defineQemuNode,
  deployArgs,
  diskArgs,
  entryBoot,
  markerServiceUnit,
  OVMF_CODE,
  OVMF_VARS,
  runVm,
} from "../../testdata/support/sysclone_testing.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";
import { defineGolden, syscloneCaptureArgs } from "../../testdata/support/capture_testing.ts";

const IMAGE = "debian12-x86_64-sysclone";
const NODE = "cn01";
const MAC = "52:54:00:12:34:56";
const MIB = 1024 ** 2;
/** A clone under software emulation copies ~700 MB through the guest: allow it time. */
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const BOOT_TIMEOUT_MS = 10 * 60_000;

/** A file of the golden client the marker prints: a recapture changes it, a second clone shows it. */
const PAYLOAD = "/etc/osimg-clone-payload";

/** The systemd unit that proves the clone reached its own userspace, and what it saw. */
function markerUnit(marker: string): string {
  const report = [
    `OSIMG-CLONE-MARKER ${marker}`,
    "host=$(cat /etc/hostname)",
    "post=$(cat /etc/osimg-postscript-ran)",
    "root=$(findmnt -n -o UUID /)",
    "machineid=$(cat /etc/machine-id)",
    "hostkey=$(sha256sum /etc/ssh/ssh_host_ed25519_key.pub | cut -c1-16)",
    `payload=$(cat ${PAYLOAD})`,
    "END",
  ].join(" ");
  return markerServiceUnit(report);
}

/** The fields of the marker line, once the whole line is on the console. */
function markerFields(serial: string, marker: string): Record<string, string> | undefined {
  const line = new RegExp(`OSIMG-CLONE-MARKER ${marker} (.*?) END`).exec(serial)?.[1];
  if (line === undefined) return undefined;
  return Object.fromEntries(
    line.split(" ").map((pair) => {
      const equals = pair.indexOf("=");
      return [pair.slice(0, equals), pair.slice(equals + 1)];
    }),
  );
}

/** Firmware arguments: SeaBIOS is QEMU's default; OVMF with a private copy of its variables. */
async function firmwareArgs(firmware: "bios" | "uefi", work: string): Promise<string[]> {
  if (firmware === "bios") return [];
  const vars = `${work}/OVMF_VARS.fd`;
  if (!existsSync(vars)) await Deno.copyFile(OVMF_VARS, vars);
  return [
    "-drive",
    `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
    "-drive",
    `if=pflash,format=raw,unit=1,file=${vars}`,
  ];
}

heavyTest(
  "sysclone: imgcapture -t sysclone of a golden client on a partitioned disk, then nodeset's deploy environment clones it onto empty disks that boot by themselves (BIOS and UEFI), refuses a disk too small, and a recapture's change reaches a second clone and, fetching only that file, the first clone",
  async (t) => {
    const timings: string[] = [];
    const client = await diskGoldenClient();
    await using osimg = await testRoot();
    const root = osimg.root;
    const work = await Deno.makeTempDir({ prefix: "osimg-sysclone-" });
    // What the admin tuned on the golden client before capturing it: a unit that proves a
    // clone reached its userspace, GRUB on the serial console, a file a recapture changes.
    const marker = `osimg-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeTextFile(
      `${client.root}/etc/systemd/system/osimg-marker.service`,
      markerUnit(marker),
    );
    const wants = `${client.root}/etc/systemd/system/multi-user.target.wants`;
    await Deno.symlink(
      "/etc/systemd/system/osimg-marker.service",
      `${wants}/osimg-marker.service`,
    );
    await Deno.writeTextFile(
      `${client.root}/etc/default/grub`,
      'GRUB_DEFAULT=0\nGRUB_TIMEOUT=1\nGRUB_CMDLINE_LINUX="console=ttyS0,115200"\nGRUB_TERMINAL=console\n',
    );
    await Deno.writeTextFile(`${client.root}${PAYLOAD}`, "first-capture\n");
    try {
      const goldenMachineId = (await Deno.readTextFile(`${client.root}/etc/machine-id`)).trim();
      const goldenHostKey =
        (await sh(["sha256sum", `${client.root}/etc/ssh/ssh_host_ed25519_key.pub`])).slice(0, 16);

      // The image: imgcapture -t sysclone of the golden client (layout and files).
      await defineGolden(osimg, client.address);
      const captureArgs = syscloneCaptureArgs(IMAGE, client.privateKey);
      let started = performance.now();
      await osimg.ok(captureArgs);
      timings.push(
        `imgcapture -t sysclone: ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      const layout = parseDiskLayout(
        await Deno.readTextFile(`${root}/install/sysclone/images/${IMAGE}.layout.json`),
        "captured",
      );
      const rootPartition = layout.disks[0]!.partitions.at(-1)!;
      const goldenRootUuid = rootPartition.filesystem!.uuid!;
      strictEqual(rootPartition.filesystem!.mountpoint, "/");

      await Deno.mkdir(`${root}/install/postscripts`, { recursive: true });
      await Deno.writeTextFile(
        `${root}/install/postscripts/osimg-test-post`,
        '#!/bin/sh\necho "ran-on-$NODE" > /etc/osimg-postscript-ran\n',
      );

      await using server = serveRoot(root);
      await osimg.ok(["chdef", "-t", "site", "clustersite", `httpport=${server.port}`]);
      await osimg.ok(["chdef", "-t", "osimage", "-o", IMAGE, "postscripts=osimg-test-post"]);
      await defineQemuNode(osimg, NODE, MAC, ["serialport=0", "serialspeed=115200"]);

      await t.step("nodeset builds the deploy environment and writes the entry", async () => {
        started = performance.now();
        const output = await osimg.ok(["nodeset", NODE, `osimage=${IMAGE}`]);
        timings.push(
          `nodeset (deploy build): ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
        strictEqual(output.stdout, `${NODE}: sysclone debian12-x86_64\n`);
        const boot = entryBoot(`${root}/tftpboot`, NODE);
        ok(existsSync(boot.kernel) && existsSync(boot.initrd), JSON.stringify(boot));
        ok(
          boot.append.startsWith(
            `imgurl=http://10.0.2.2:${server.port}/install/sysclone/deploy/${IMAGE}/rootimg.tar `,
          ),
          boot.append,
        );
        // A second nodeset with nothing changed rebuilds nothing.
        const stamp = await Deno.stat(`${root}/install/sysclone/deploy/${IMAGE}/deploy.stamp`);
        started = performance.now();
        await osimg.ok(["nodeset", NODE, `osimage=${IMAGE}`]);
        timings.push(
          `nodeset (up to date): ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
        const again = await Deno.stat(`${root}/install/sysclone/deploy/${IMAGE}/deploy.stamp`);
        strictEqual(again.mtime?.getTime(), stamp.mtime?.getTime());
      });

      /**
       * Installs a clone onto an empty 3 GiB disk, boots it alone, returns its marker fields;
       * `keep` leaves the disk for a later update.
       */
      const cloneAndBoot = async (firmware: "bios" | "uefi", name: string, keep = false) => {
        const target = `${work}/${name}.raw`;
        await sh(["truncate", "-s", "3G", target]);
        try {
          const fw = await firmwareArgs(firmware, work);
          const install = await runVm({
            args: deployArgs(`${root}/tftpboot`, NODE, MAC, target, fw),
            until: (serial) => /Kernel panic|osimg sysclone: ERROR/.test(serial),
            timeoutMs: INSTALL_TIMEOUT_MS,
          });
          timings.push(`${name} install: ${install.seconds} s`);
          ok(
            install.serial.includes(
              `osimg sysclone: ${NODE} is installed from ${IMAGE} on /dev/vda; poweroff`,
            ),
            install.serial.slice(-6000),
          );
          ok(
            install.serial.includes(`osimg sysclone: target disk /dev/vda (${firmware} firmware)`),
          );
          // The table is the golden client's; the last partition grew to the 3 GiB disk (the
          // golden one was 2 GiB).
          const table = JSON.parse(await sh(["sfdisk", "-J", target])).partitiontable;
          strictEqual(table.label, "gpt");
          strictEqual(table.partitions.length, layout.disks[0]!.partitions.length);
          ok(table.partitions.at(-1).size * 512 > 2.5 * 1024 * MIB, JSON.stringify(table));

          const own = await runVm({
            args: [...fw, ...diskArgs(target), "-nic", "none", "-boot", "c"],
            until: (serial) => markerFields(serial, marker) !== undefined,
            timeoutMs: BOOT_TIMEOUT_MS,
          });
          timings.push(`${name} boot from disk: ${own.seconds} s`);
          const fields = markerFields(own.serial, marker);
          ok(
            fields,
            own.serial.split("\n").filter((line) => /osimg|OSIMG|Failed|rror/.test(line)).join(
              "\n",
            ) +
              own.serial.slice(-3000),
          );
          strictEqual(fields.host, NODE);
          strictEqual(fields.post, `ran-on-${NODE}`);
          ok(fields.root && fields.root !== goldenRootUuid, `root UUID ${fields.root}`);
          ok(/^[0-9a-f]{32}$/.test(fields.machineid!) && fields.machineid !== goldenMachineId);
          ok(/^[0-9a-f]{16}$/.test(fields.hostkey!) && fields.hostkey !== goldenHostKey);
          return fields;
        } finally {
          if (!keep) await Deno.remove(target).catch(() => {});
        }
      };

      /** The BIOS clone, kept for the update after the recapture. */
      let biosClone: Record<string, string> | undefined;
      /** The payload the recapture wrote. */
      let recaptured: string | undefined;

      /**
       * The first BIOS clone, network-booted again with the same entry after the recapture: its
       * disk holds a clone of the image, so the deploy fetches only what changed (never the
       * image tar), keeps the disk's partitions and the node's identity, and the node then
       * boots its disk with the new file.
       */
      const updateBiosClone = async (changed: string) => {
        ok(biosClone, "the BIOS clone step ran");
        const target = `${work}/bios.raw`;
        server.requests.length = 0;
        const update = await runVm({
          args: deployArgs(`${root}/tftpboot`, NODE, MAC, target),
          until: (serial) => /Kernel panic|osimg sysclone: ERROR/.test(serial),
          timeoutMs: INSTALL_TIMEOUT_MS,
        });
        timings.push(`bios update: ${update.seconds} s`);
        const fetched = server.requests.map((request) => request.path);
        const summary = new RegExp(
          `osimg sysclone: ${NODE} is updated from ${IMAGE} on /dev/vda: (\\d+) files updated \\((\\d+) fetched, (\\d+) bytes\\), (\\d+) removed, (\\d+) changed in place; poweroff`,
        ).exec(update.serial);
        ok(summary, update.serial.slice(-6000));
        ok(update.serial.includes(`osimg sysclone: /dev/vda holds a clone of ${IMAGE}: updating`));
        ok(!update.serial.includes("wiping /dev/vda"));
        const deploy = `/install/sysclone/deploy/${IMAGE}`;
        const payloadObject = `${deploy}/files/${
          (await sh(["sha256sum", `${root}/install/sysclone/images/${IMAGE}${PAYLOAD}`])).slice(
            0,
            64,
          )
        }`;
        // Exactly the manifest and the one changed file: never the image tar. What else the
        // node's first boot changed is metadata (directory mtimes), set in place.
        deepStrictEqual(fetched, [`${deploy}/rootimg.manifest`, payloadObject]);
        strictEqual(summary[1], "1");
        strictEqual(summary[2], "1");
        strictEqual(Number(summary[3]), changed.length + 1);
        strictEqual(summary[4], "0");

        const own = await runVm({
          args: [...diskArgs(target), "-nic", "none", "-boot", "c"],
          until: (serial) => markerFields(serial, marker) !== undefined,
          timeoutMs: BOOT_TIMEOUT_MS,
        });
        timings.push(`bios boot after the update: ${own.seconds} s`);
        const fields = markerFields(own.serial, marker);
        ok(fields, own.serial.slice(-3000));
        strictEqual(fields.payload, changed);
        // The same disk and the same node: not repartitioned, identity kept.
        strictEqual(fields.root, biosClone!.root);
        strictEqual(fields.host, NODE);
        strictEqual(fields.machineid, biosClone!.machineid);
        strictEqual(fields.hostkey, biosClone!.hostkey);
        strictEqual(fields.post, `ran-on-${NODE}`);
      };

      for (const firmware of ["bios", "uefi"] as const) {
        await t.step(
          `${firmware}: the clone installs onto an empty disk, then boots from it alone`,
          async () => {
            const fields = await cloneAndBoot(firmware, firmware, firmware === "bios");
            strictEqual(fields.payload, "first-capture");
            if (firmware === "bios") biosClone = fields;
          },
        );
      }

      await t.step(
        "a disk too small: the console says so and the disk is left untouched",
        async () => {
          const target = `${work}/small.raw`;
          await sh(["truncate", "-s", "512M", target]);
          const outcome = await runVm({
            args: deployArgs(`${root}/tftpboot`, NODE, MAC, target),
            until: () => false,
            timeoutMs: INSTALL_TIMEOUT_MS,
          });
          timings.push(`small disk refusal: ${outcome.seconds} s`);
          // 1 MiB of alignment, the fixed partitions (1 + 64 + 160 + 32 MiB), the root's
          // captured minimum, 1 MiB for GPT's backup.
          const needed = 1 + 1 + 64 + 160 + 32 + Math.ceil(rootPartition.minSize! / MIB) + 1;
          ok(needed > 512 && needed * MIB < 2 * 1024 * MIB, `needed ${needed} MiB`);
          ok(
            outcome.serial.includes(
              `osimg sysclone: ERROR: no disk is big enough for ${IMAGE}: it needs ${needed} MiB; disks found: vda (512 MiB)`,
            ),
            outcome.serial.slice(-4000),
          );
          ok(outcome.serial.includes(`osimg sysclone: nothing was installed on ${NODE}`));
          ok(outcome.exited, "the deploy powered the node off (osimg.done=poweroff)");
          strictEqual((await runTool("sfdisk", ["-d", target])).code, 1);
          strictEqual((await runTool("blkid", ["-p", target])).code, 2);
          await Deno.remove(target);
        },
      );

      await t.step("a download that breaks mid-copy: the half-written disk is wiped", async () => {
        const target = `${work}/broken.raw`;
        await sh(["truncate", "-s", "3G", target]);
        const archive = `${root}/install/sysclone/deploy/${IMAGE}/rootimg.tar`;
        const whole = `${work}/rootimg.tar.whole`;
        await Deno.rename(archive, whole);
        try {
          // The first 200 MB of the archive: tar meets its end in the middle of the copy.
          await run(["head", "-c", String(200 * MIB), whole], {}).then((bytes) =>
            Deno.writeFile(archive, bytes)
          );
          const outcome = await runVm({
            args: deployArgs(`${root}/tftpboot`, NODE, MAC, target),
            until: () => false,
            timeoutMs: INSTALL_TIMEOUT_MS,
          });
          timings.push(`broken download: ${outcome.seconds} s`);
          ok(
            outcome.serial.includes("osimg sysclone: ERROR: the download or unpacking of") &&
              outcome.serial.includes(
                "osimg sysclone: the disk /dev/vda was wiped: it holds no partition table and no boot loader",
              ),
            outcome.serial.slice(-4000),
          );
          strictEqual((await runTool("sfdisk", ["-d", target])).code, 1);
          const head = new Uint8Array(512);
          const file = await Deno.open(target);
          await file.read(head);
          file.close();
          ok(head.every((byte) => byte === 0), "the MBR (boot code and table) is zeroed");
        } finally {
          await Deno.remove(archive).catch(() => {});
          await Deno.rename(whole, archive);
          await Deno.remove(target).catch(() => {});
        }
      });

      await t.step(
        "a recapture after a change on the golden client transfers only the change; a second clone (BIOS) has it",
        async () => {
          const changed = `second-capture-${crypto.randomUUID().slice(0, 8)}`;
          await Deno.writeTextFile(`${client.root}${PAYLOAD}`, `${changed}\n`);
          started = performance.now();
          const { stdout } = await osimg.ok([...captureArgs, "-V"]);
          timings.push(`recapture: ${((performance.now() - started) / 1000).toFixed(1)} s`);
          ok(stdout.includes("\nNumber of regular files transferred: 1\n"), stdout);
          ok(
            stdout.includes(`\nTransferred 1 file (${changed.length + 1} bytes) from gold\n`),
            stdout,
          );
          started = performance.now();
          await osimg.ok(["nodeset", NODE, `osimage=${IMAGE}`]);
          timings.push(
            `nodeset (rebuild): ${((performance.now() - started) / 1000).toFixed(1)} s`,
          );
          const fields = await cloneAndBoot("bios", "second-bios");
          strictEqual(fields.payload, changed);
          recaptured = changed;
        },
      );

      await t.step(
        "the first BIOS clone, network-booted again after the recapture, fetches only the changed file (not the image tar), keeps its partitions and identity, and boots its disk with the change",
        async () => {
          ok(recaptured, "the recapture step ran");
          await updateBiosClone(recaptured);
        },
      );
    } finally {
      console.log(`sysclone timings:\n  ${timings.join("\n  ")}`);
      await Deno.remove(
        `${client.root}/etc/systemd/system/multi-user.target.wants/osimg-marker.service`,
      )
        .catch(() => {});
      await Deno.remove(`${client.root}/etc/systemd/system/osimg-marker.service`).catch(() => {});
      await Deno.remove(`${client.root}${PAYLOAD}`).catch(() => {});
      await Deno.remove(work, { recursive: true });
    }
  },
);
