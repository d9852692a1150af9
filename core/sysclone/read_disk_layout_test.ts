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

Deno.test("readDiskLayout: an LVM physical volume is refused (LVM is not recorded from disks yet)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-layout-" });
  try {
    await using disk = await loopDisk(
      `${dir}/disk.img`,
      64 * MIB,
      `label: gpt\ntype=${GPT_TYPES.lvm}\n`,
    );
    await rejects(
      readDiskLayout(systemRunner, disk.device, ""),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        error.message.endsWith(
          `${
            disk.partition(1)
          } is an LVM physical volume; osimg does not record LVM from a disk yet`,
        ),
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
