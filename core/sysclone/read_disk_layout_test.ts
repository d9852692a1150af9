// readDiskLayout against real loop-backed disks partitioned and formatted by sfdisk and mkfs.

import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { InvalidInputError } from "../errors.ts";
import { systemRunner } from "../process.ts";
import { readDiskLayout } from "./read_disk_layout.ts";
import { GPT_TYPES } from "../../formats/sysclone/disk_layout.ts";
import { loopDisk } from "../../testdata/support/sysclone_testing.ts";
import { sh } from "../../testdata/support/process.ts";

const MIB = 1024 ** 2;

async function blkid(device: string, tag: string): Promise<string> {
  return (await sh(["blkid", "-p", "-s", tag, "-o", "value", device])).trim();
}

Deno.test("readDiskLayout: a GPT disk with BIOS boot, ESP, swap and ext4 root, mounts from fstab", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-layout-" });
  try {
    await using disk = await loopDisk(
      `${dir}/disk.img`,
      300 * MIB,
      [
        "label: gpt",
        `size=1MiB, type=${GPT_TYPES.biosBoot}, name="bios"`,
        `size=64MiB, type=${GPT_TYPES.esp}, name="EFI"`,
        `size=32MiB, type=${GPT_TYPES.swap}`,
        `type=${GPT_TYPES.linux}, name="root"`,
        "",
      ].join("\n"),
    );
    await sh(["mkfs.vfat", "-n", "EFI", disk.partition(2)]);
    await sh(["mkswap", "-L", "swap", disk.partition(3)]);
    await sh(["mkfs.ext4", "-q", "-L", "root", disk.partition(4)]);
    const rootUuid = await blkid(disk.partition(4), "UUID");
    const espUuid = await blkid(disk.partition(2), "UUID");
    const swapUuid = await blkid(disk.partition(3), "UUID");
    // One spec per naming style the reader must match: UUID=, LABEL=, a device path.
    const fstab = [
      "# written by the installer",
      `UUID=${rootUuid} / ext4 errors=remount-ro 0 1`,
      "LABEL=EFI /boot/efi vfat umask=0077 0 1",
      `${disk.partition(3)} none swap sw 0 0`,
      "",
    ].join("\n");
    const layout = await readDiskLayout(systemRunner, disk.device, fstab);
    assertEquals(layout, {
      format: "osimg-disklayout",
      version: 1,
      disks: [{
        name: disk.device.replace("/dev/", ""),
        size: 300 * MIB,
        table: "gpt",
        partitions: [
          { number: 1, size: MIB, type: GPT_TYPES.biosBoot, name: "bios", flags: ["bios_grub"] },
          {
            number: 2,
            size: 64 * MIB,
            type: GPT_TYPES.esp,
            name: "EFI",
            flags: ["esp"],
            filesystem: {
              type: "vfat",
              label: "EFI",
              uuid: espUuid,
              mountpoint: "/boot/efi",
              options: "umask=0077",
              dump: 0,
              pass: 1,
            },
          },
          {
            number: 3,
            size: 32 * MIB,
            type: GPT_TYPES.swap,
            flags: [],
            filesystem: {
              type: "swap",
              label: "swap",
              uuid: swapUuid,
              options: "sw",
              dump: 0,
              pass: 0,
            },
          },
          {
            number: 4,
            // 300 MiB less the 1 MiB lead and 97 MiB of partitions; sfdisk ends the last one at
            // the last whole MiB before GPT's backup table.
            size: (300 - 1 - 97 - 1) * MIB,
            grow: true,
            type: GPT_TYPES.linux,
            name: "root",
            flags: [],
            filesystem: {
              type: "ext4",
              label: "root",
              uuid: rootUuid,
              mountpoint: "/",
              options: "errors=remount-ro",
              dump: 0,
              pass: 1,
            },
          },
        ],
        volumeGroups: [],
      }],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDiskLayout: an msdos disk keeps the active flag and its type bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-layout-" });
  try {
    await using disk = await loopDisk(
      `${dir}/disk.img`,
      128 * MIB,
      "label: dos\nsize=32MiB, type=83, bootable\ntype=83\n",
    );
    await sh(["mkfs.ext4", "-q", disk.partition(1)]);
    await sh(["mkfs.ext4", "-q", "-L", "rootfs", disk.partition(2)]);
    const layout = await readDiskLayout(
      systemRunner,
      disk.device,
      `${disk.partition(1)} /boot ext4 defaults 0 2\nLABEL=rootfs / ext4 defaults 0 1\n`,
    );
    const disk0 = layout.disks[0]!;
    assertEquals(disk0.table, "msdos");
    assertEquals(
      disk0.partitions.map((part) => [part.number, part.type, part.flags, part.grow ?? false]),
      [[1, "83", ["boot"], false], [2, "83", [], true]],
    );
    assertEquals(disk0.partitions.map((part) => part.filesystem?.mountpoint), ["/boot", "/"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDiskLayout: a disk without a partition table is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-layout-" });
  try {
    await sh(["truncate", "-s", "16M", `${dir}/disk.img`]);
    const device = (await sh(["losetup", "-f", "--show", `${dir}/disk.img`])).trim();
    try {
      await rejects(
        readDiskLayout(systemRunner, device, ""),
        (error: unknown) =>
          error instanceof InvalidInputError &&
          error.message ===
            `Cannot read the disk layout of ${device}: it has no partition table sfdisk can read (osimg clones partitioned disks)`,
      );
    } finally {
      await sh(["losetup", "-d", device]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A volume group `name` made by lvm2 on `devices`, with `volumes` ([name, size]) created without
 * activation: this machine's kernel may have no device-mapper, and LVM's metadata is what the
 * reports read. Disposal removes the group.
 */
async function volumeGroup(
  name: string,
  devices: string[],
  volumes: [string, string][],
): Promise<AsyncDisposable> {
  for (const device of devices) await sh(["pvcreate", "-q", device]);
  await sh(["vgcreate", "-q", "-s", "4M", name, ...devices]);
  const dispose = async () => {
    await sh(["vgremove", "-q", "-f", "--driverloaded", "n", name]);
    for (const device of devices) await sh(["pvremove", "-q", device]);
  };
  try {
    for (const [lv, size] of volumes) {
      await sh(["lvcreate", "-q", "--driverloaded", "n", "-an", "-Zn", "-n", lv, "-L", size, name]);
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return { [Symbol.asyncDispose]: dispose };
}

Deno.test("readDiskLayout: an LVM physical volume brings its volume group, extent size and LVs from lvm2's reports; the last LV grows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-layout-" });
  const group = `osimgtest${crypto.randomUUID().slice(0, 8)}`;
  try {
    await using disk = await loopDisk(
      `${dir}/disk.img`,
      300 * MIB,
      `label: gpt\nsize=50MiB, type=${GPT_TYPES.linux}, name="boot"\ntype=${GPT_TYPES.lvm}\n`,
    );
    await sh(["mkfs.ext4", "-q", "-L", "boot", disk.partition(1)]);
    await using _vg = await volumeGroup(group, [disk.partition(2)], [
      ["root", "150M"],
      ["swap", "32M"],
    ]);
    const layout = await readDiskLayout(
      systemRunner,
      disk.device,
      "LABEL=boot /boot ext4 defaults 0 2\n",
    );
    const [boot, pv] = layout.disks[0]!.partitions;
    assertEquals(pv, {
      number: 2,
      size: 300 * MIB - 51 * MIB - MIB, // GPT's backup takes the last MiB's sectors
      grow: true,
      type: GPT_TYPES.lvm,
      flags: ["lvm"],
    });
    assertEquals(boot!.filesystem?.mountpoint, "/boot");
    // What lvm2 itself says about the group and its volumes, in bytes.
    const vgs = (await sh([
      "vgs",
      "--noheadings",
      "--units",
      "b",
      "--nosuffix",
      "-o",
      "vg_extent_size",
      group,
    ])).trim();
    const lvs = (await sh([
      "lvs",
      "--noheadings",
      "--units",
      "b",
      "--nosuffix",
      "-o",
      "lv_name,lv_size",
      group,
    ]))
      .trim().split("\n").map((line) => line.trim().split(/\s+/));
    assertEquals(layout.disks[0]!.volumeGroups, [{
      name: group,
      extentSize: Number(vgs),
      physicalVolumes: [2],
      // Inactive LVs (no device to probe) are recorded without a file system; the swap LV's
      // extents come after root's, so with no LV mounted at / it is the one that grows.
      logicalVolumes: [
        { name: "root", size: 152 * MIB },
        { name: "swap", size: 32 * MIB, grow: true },
      ],
    }]);
    assertEquals(lvs, [["root", String(152 * MIB)], ["swap", String(32 * MIB)]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDiskLayout: a volume group that also spans another disk is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-layout-" });
  const group = `osimgtest${crypto.randomUUID().slice(0, 8)}`;
  try {
    const script = `label: gpt\ntype=${GPT_TYPES.lvm}\n`;
    await using disk = await loopDisk(`${dir}/a.img`, 64 * MIB, script);
    await using other = await loopDisk(`${dir}/b.img`, 64 * MIB, script);
    await using _vg = await volumeGroup(group, [disk.partition(1), other.partition(1)], []);
    await rejects(
      readDiskLayout(systemRunner, disk.device, ""),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        error.message ===
          `Cannot read the disk layout of ${disk.device}: its volume group ${group} also uses ${
            other.partition(1)
          }, which is not on it; osimg clones one disk`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDiskLayout: a label fstab would mis-read is refused at capture", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-layout-" });
  try {
    await using disk = await loopDisk(`${dir}/disk.img`, 64 * MIB, "label: gpt\ntype=L\n");
    await sh(["mkfs.ext4", "-q", "-L", "my root", disk.partition(1)]);
    await rejects(
      readDiskLayout(systemRunner, disk.device, ""),
      (error: unknown) =>
        error instanceof InvalidInputError && /label "my root" must be 1-64 of/.test(error.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
