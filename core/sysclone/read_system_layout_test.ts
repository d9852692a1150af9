// blockDeviceDisks: which disk a mounted block device is on, from lsblk's flat JSON listing.

import { strictEqual } from "node:assert/strict";
import { blockDeviceDisks } from "./read_system_layout.ts";
import { loopDisk } from "../../testdata/support/sysclone_testing.ts";
import { sh } from "../../testdata/support/process.ts";
import { GPT_TYPES } from "../../formats/sysclone/disk_layout.ts";

Deno.test("blockDeviceDisks: a partition of a real loop disk is on that disk, the disk itself on none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-lsblk-" });
  try {
    await using disk = await loopDisk(
      `${dir}/disk.img`,
      64 * 1024 ** 2,
      `label: gpt\nsize=8MiB, type=${GPT_TYPES.linux}\ntype=${GPT_TYPES.lvm}\n`,
    );
    const diskOf = blockDeviceDisks(
      await sh(["lsblk", "-J", "--list", "-o", "PATH,KNAME,PKNAME,TYPE", disk.device]),
    );
    const name = disk.device.replace("/dev/", "");
    strictEqual(diskOf(disk.partition(1)), name);
    strictEqual(diskOf(disk.partition(2)), name);
    strictEqual(diskOf(disk.device), undefined);
    strictEqual(diskOf("/dev/nonexistent"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * lsblk --list's rows for a disk whose partitions 3 and 4 are physical volumes of vg0: root on
 * both (one row per parent), swap on 3 — the shape lsblk 2.38 prints (this machine's kernel has
 * no device-mapper to show real ones).
 */
const LVM_ROWS = JSON.stringify({
  blockdevices: [
    { path: "/dev/vda", kname: "vda", pkname: null, type: "disk" },
    { path: "/dev/vda3", kname: "vda3", pkname: "vda", type: "part" },
    { path: "/dev/vda4", kname: "vda4", pkname: "vda", type: "part" },
    { path: "/dev/vdb", kname: "vdb", pkname: null, type: "disk" },
    { path: "/dev/vdb1", kname: "vdb1", pkname: "vdb", type: "part" },
    { path: "/dev/mapper/vg0-root", kname: "dm-0", pkname: "vda3", type: "lvm" },
    { path: "/dev/mapper/vg0-root", kname: "dm-0", pkname: "vda4", type: "lvm" },
    { path: "/dev/mapper/vg0-swap", kname: "dm-1", pkname: "vda3", type: "lvm" },
    { path: "/dev/mapper/vg1-data", kname: "dm-2", pkname: "vda4", type: "lvm" },
    { path: "/dev/mapper/vg1-data", kname: "dm-2", pkname: "vdb1", type: "lvm" },
    { path: "/dev/md0", kname: "md0", pkname: "vdb1", type: "raid1" },
  ],
});

Deno.test("blockDeviceDisks: an LV is on the disk of its physical volumes; one spanning two disks, or RAID, is on none", () => {
  const diskOf = blockDeviceDisks(LVM_ROWS);
  strictEqual(diskOf("/dev/mapper/vg0-root"), "vda");
  strictEqual(diskOf("/dev/mapper/vg0-swap"), "vda");
  strictEqual(diskOf("/dev/mapper/vg1-data"), undefined);
  strictEqual(diskOf("/dev/md0"), undefined);
});
