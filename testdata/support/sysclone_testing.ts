// Test support for sysclone: sample disk layouts, loop-backed disks, the clone image's root.

import { type DiskLayout, GPT_TYPES } from "../../formats/sysclone/disk_layout.ts";

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
