// Test support for sysclone: sample disk layouts, loop-backed disks, the clone image's root.

import { existsSync } from "node:fs";
import { type DiskLayout, GPT_TYPES } from "../../formats/sysclone/disk_layout.ts";
import { run, runTool, sh } from "./process.ts";

/** A BIOS+UEFI GPT layout with swap, as a golden client installed by debian-installer has. */
export const HYBRID_LAYOUT: DiskLayout = {
  format: "osimg-disklayout",
  version: 1,
  disks: [{
    name: "vda",
    size: 4 * 1024 ** 3,
    table: "gpt",
    partitions: [
      { number: 1, size: 1024 ** 2, type: GPT_TYPES.biosBoot, name: "bios", flags: ["bios_grub"] },
      {
        number: 2,
        size: 64 * 1024 ** 2,
        type: GPT_TYPES.esp,
        name: "EFI",
        flags: ["esp"],
        filesystem: {
          type: "vfat",
          label: "EFI",
          uuid: "8E60-C713",
          mountpoint: "/boot/efi",
          options: "umask=0077",
          dump: 0,
          pass: 1,
        },
      },
      {
        number: 3,
        size: 32 * 1024 ** 2,
        type: GPT_TYPES.swap,
        flags: [],
        filesystem: { type: "swap", label: "swap", uuid: "6b77afc7-bea9-ed4b-ac37-1b6f605db324" },
      },
      {
        number: 4,
        size: 3 * 1024 ** 3,
        grow: true,
        minSize: 1536 * 1024 ** 2,
        type: GPT_TYPES.linux,
        name: "root",
        flags: [],
        filesystem: {
          type: "ext4",
          label: "root",
          uuid: "1417731a-652a-004e-b156-0f46c836e1b5",
          mountpoint: "/",
          options: "errors=remount-ro",
          dump: 0,
          pass: 1,
        },
      },
    ],
    volumeGroups: [],
  }],
};

/** A file attached to a loop device with its partitions visible as /dev/loopNpM. */
export interface LoopDisk extends AsyncDisposable {
  /** `/dev/loopN`. */
  device: string;
  /** `/dev/loopNp<number>`. */
  partition(number: number): string;
}

/**
 * Makes `file` a `bytes`-long sparse disk partitioned by `sfdiskScript`, attached to a free loop
 * device with its partitions scanned. Use with `await using`: disposal removes the partition
 * nodes and detaches the loop device even when the test failed.
 *
 * @example
 * ```ts
 * await using disk = await loopDisk(`${dir}/disk.img`, 256 * 1024 ** 2, "label: gpt\ntype=L\n");
 * await sh(["mkfs.ext4", "-q", disk.partition(1)]);
 * ```
 */
export async function loopDisk(
  file: string,
  bytes: number,
  sfdiskScript: string,
): Promise<LoopDisk> {
  await sh(["truncate", "-s", String(bytes), file]);
  await run(["sfdisk", "-q", file], { stdin: new TextEncoder().encode(sfdiskScript) });
  const device = (await sh(["losetup", "-P", "-f", "--show", file])).trim();
  const dispose = async () => {
    await runTool("partx", ["-d", device]);
    await runTool("losetup", ["-d", device]);
  };
  try {
    const count = (await sh(["sfdisk", "-l", "-o", "Device", file])).split("\n")
      .filter((line) => line.startsWith(file)).length;
    const partition = (number: number) => `${device}p${number}`;
    // In a container the kernel's own scan at attach may find nothing; partx adds them, and
    // devtmpfs creates the nodes shortly after.
    if (!existsSync(partition(count))) await runTool("partx", ["-a", device]);
    for (let tries = 0; !existsSync(partition(count)); tries++) {
      if (tries > 50) throw new Error(`${partition(count)} did not appear`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { device, partition, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
