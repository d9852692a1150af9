// A real clone onto LVM: nodeset's deploy environment for a sysclone image whose layout puts /
// and swap on logical volumes of vg0 (LVM_LAYOUT) makes the PV, the group and the LVs on an empty QEMU disk
// with the image's own lvm, installs, and the disk then boots alone (SeaBIOS) from its root LV.
//
// The image's repository is the cached Debian root with lvm2, and its layout is written here:
// this machine's kernel has no device-mapper, so no golden client can run with / on an LV and
// be captured (core/sysclone/read_disk_layout_test.ts reads LVM metadata from a real loop
// disk instead).

import { ok, strictEqual } from "node:assert/strict";
import { serveRoot } from "../../testdata/support/boot_clients.ts";
import { debianRoot } from "../../testdata/support/debian_root.ts";
import { run, runTool, sh } from "../../testdata/support/process.ts";
import { testRoot } from "../../testdata/support/testing.ts";
import { GPT_TYPES, serializeDiskLayout } from "../../formats/sysclone/disk_layout.ts";
import {
  defineQemuNode,
  defineSyscloneImage,
  deployArgs,
  diskArgs,
  LVM_LAYOUT,
  LVM_SYSCLONE_PKGLIST,
  markerServiceUnit,
  runVm,
} from "../../testdata/support/sysclone_testing.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";
import {
  lvmReportArgv,
  parseLvsReport,
  parseVgsReport,
} from "../../formats/sysclone/lvm_report.ts";

const IMAGE = "debian12-x86_64-lvm";
const NODE = "cn02";
const MAC = "52:54:00:12:34:57";
const MIB = 1024 ** 2;
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const BOOT_TIMEOUT_MS = 10 * 60_000;

/** A unit printing where / and swap are once the clone reached its userspace, then powering off. */
function markerUnit(marker: string): string {
  const report = `OSIMG-LVM-MARKER ${marker} root=$(findmnt -n -o SOURCE /) ` +
    "swap=$(swapon --show=NAME --noheadings | paste -sd,) END";
  return markerServiceUnit(report);
}

heavyTest(
  "sysclone LVM: nodeset's deploy environment makes vg0 with a 128 MiB swap LV and a root LV taking the free space on an empty disk, and the disk boots alone (BIOS) from its root LV",
  async () => {
    await using osimg = await testRoot();
    const root = osimg.root;
    const work = await Deno.makeTempDir({ prefix: "osimg-sysclone-lvm-" });
    const timings: string[] = [];
    try {
      const repository = `${root}/install/sysclone/images/${IMAGE}`;
      await Deno.mkdir(`${root}/install/sysclone/images`, { recursive: true });
      await run(["cp", "-a", await debianRoot({ pkglist: LVM_SYSCLONE_PKGLIST }), repository]);
      const marker = `osimg-${crypto.randomUUID().slice(0, 8)}`;
      await Deno.writeTextFile(
        `${repository}/etc/systemd/system/osimg-lvm-marker.service`,
        markerUnit(marker),
      );
      await Deno.symlink(
        "/etc/systemd/system/osimg-lvm-marker.service",
        `${repository}/etc/systemd/system/multi-user.target.wants/osimg-lvm-marker.service`,
      );
      await Deno.writeTextFile(
        `${repository}/etc/default/grub`,
        'GRUB_DEFAULT=0\nGRUB_TIMEOUT=1\nGRUB_CMDLINE_LINUX="console=ttyS0,115200"\nGRUB_TERMINAL=console\n',
      );
      await Deno.writeTextFile(
        `${root}/install/sysclone/images/${IMAGE}.layout.json`,
        serializeDiskLayout(LVM_LAYOUT),
      );

      await using server = serveRoot(root);
      await osimg.ok(["chdef", "-t", "site", "clustersite", `httpport=${server.port}`]);
      await defineSyscloneImage(osimg, IMAGE);
      await defineQemuNode(osimg, NODE, MAC, ["serialport=0", "serialspeed=115200"]);
      let started = performance.now();
      strictEqual(
        (await osimg.ok(["nodeset", NODE, `osimage=${IMAGE}`])).stdout,
        `${NODE}: sysclone debian12-x86_64\n`,
      );
      timings.push(`nodeset: ${((performance.now() - started) / 1000).toFixed(1)} s`);

      const target = `${work}/disk.raw`;
      await sh(["truncate", "-s", "3G", target]);
      const install = await runVm({
        args: deployArgs(`${root}/tftpboot`, NODE, MAC, target),
        until: (serial) => /Kernel panic|osimg sysclone: ERROR/.test(serial),
        timeoutMs: INSTALL_TIMEOUT_MS,
      });
      timings.push(`install: ${install.seconds} s`);
      ok(
        install.serial.includes("osimg sysclone: making the volume group vg0 on /dev/vda4") &&
          install.serial.includes(
            `osimg sysclone: ${NODE} is installed from ${IMAGE} on /dev/vda; poweroff`,
          ),
        install.serial.slice(-6000),
      );

      // The disk as the node left it: the PV is the last partition, grown to the 3 GiB disk.
      const table = JSON.parse(await sh(["sfdisk", "-J", target])).partitiontable;
      strictEqual(table.partitions.length, 4);
      strictEqual(table.partitions[3].type, GPT_TYPES.lvm);
      ok(table.partitions[3].size * 512 > 2.5 * 1024 * MIB, JSON.stringify(table));
      // LVM's own reports of that disk (metadata only: no device-mapper needed on this side).
      const device = (await sh(["losetup", "-P", "-f", "--show", target])).trim();
      try {
        await runTool("partx", ["-a", device]);
        const report = async (kind: "vgs" | "lvs") => await sh([...lvmReportArgv(kind), "vg0"]);
        const [group] = parseVgsReport(await report("vgs"), target);
        const volumes = parseLvsReport(await report("lvs"), target);
        strictEqual(group?.extentSize, 4 * MIB);
        strictEqual(group?.free, 0, "the root LV took the group's free space");
        strictEqual(volumes.find((lv) => lv.name === "swap")?.size, 128 * MIB);
        ok((volumes.find((lv) => lv.name === "root")?.size ?? 0) > 2.3 * 1024 * MIB);
      } finally {
        await runTool("partx", ["-d", device]);
        await runTool("losetup", ["-d", device]);
      }

      started = performance.now();
      const own = await runVm({
        args: [...diskArgs(target), "-nic", "none", "-boot", "c"],
        until: (serial) => serial.includes(`OSIMG-LVM-MARKER ${marker} `) && /END/.test(serial),
        timeoutMs: BOOT_TIMEOUT_MS,
      });
      timings.push(`boot from disk: ${own.seconds} s`);
      const line = new RegExp(`OSIMG-LVM-MARKER ${marker} (.*?) END`).exec(own.serial)?.[1];
      ok(line, own.serial.slice(-4000));
      timings.push(`marker: ${line}`);
      // Root on the LV the deploy made, swap on the other LV (by the fstab's new UUIDs).
      ok(/^root=\/dev\/mapper\/vg0-root /.test(line), line);
      ok(/ swap=\/dev\/(mapper\/vg0-swap|dm-\d+)$/.test(line), line);
    } finally {
      console.log(`sysclone LVM timings:\n  ${timings.join("\n  ")}`);
      await Deno.remove(work, { recursive: true });
    }
  },
);
