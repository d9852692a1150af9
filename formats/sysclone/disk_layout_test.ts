// Tests for the sysclone disk layout file: a round trip, golden text, one test per bad field.

import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { InvalidInputError } from "../../core/errors.ts";
import { fileSystems, parseDiskLayout, serializeDiskLayout } from "./disk_layout.ts";
import { assertGolden } from "../../testdata/support/testing.ts";
import { HYBRID_LAYOUT, LVM_LAYOUT } from "../../testdata/support/sysclone_testing.ts";

/** The hybrid layout's text with one edit applied to its parsed JSON. */
// deno-lint-ignore no-explicit-any -- the test edits raw JSON, fields of any shape
function edited(edit: (data: any) => void): string {
  const data = JSON.parse(serializeDiskLayout(HYBRID_LAYOUT));
  edit(data);
  return JSON.stringify(data);
}

function refused(text: string, message: RegExp): void {
  throws(() => parseDiskLayout(text, "layout.json"), (error: unknown) => {
    if (!(error instanceof InvalidInputError)) throw error;
    if (!message.test(error.message)) throw new Error(`unexpected message: ${error.message}`);
    return true;
  });
}

Deno.test("disk layout: serialize then parse gives the same layout, and the text is stable", async () => {
  const text = serializeDiskLayout(HYBRID_LAYOUT);
  assertEquals(parseDiskLayout(text, "layout.json"), HYBRID_LAYOUT);
  assertEquals(serializeDiskLayout(parseDiskLayout(text, "layout.json")), text);
  await assertGolden("sysclone/disk_layout_hybrid.json", text);
});

Deno.test("disk layout: fileSystems lists partitions' then logical volumes' file systems", () => {
  const layout = parseDiskLayout(
    edited((data) => {
      data.disks[0].partitions[3].filesystem = undefined;
      data.disks[0].partitions[3].flags = ["lvm"];
      data.disks[0].volumeGroups = [{
        name: "vg0",
        physicalVolumes: [4],
        logicalVolumes: [{
          name: "root",
          size: 1024 ** 3,
          grow: true,
          filesystem: { type: "xfs", mountpoint: "/" },
        }],
      }];
    }),
    "layout.json",
  );
  assertEquals(fileSystems(layout).map((fs) => fs.type), ["vfat", "swap", "xfs"]);
});

Deno.test("disk layout: a newer version is refused with the versions named", () => {
  refused(edited((data) => data.version = 2), /is version 2, newer than this osimg reads \(1\)/);
});

Deno.test("disk layout: another format is refused", () => {
  refused(edited((data) => data.format = "systemimager"), /"format" is "systemimager"/);
});

Deno.test("disk layout: text that is not JSON is refused", () => {
  refused("label: gpt\n", /it is not JSON/);
});

Deno.test("disk layout: an unknown partition table type is refused", () => {
  refused(edited((data) => data.disks[0].table = "bsd"), /table must be "gpt" or "msdos"/);
});

Deno.test("disk layout: a GPT partition type that is not a GUID is refused", () => {
  refused(edited((data) => data.disks[0].partitions[1].type = "ef"), /is not a GPT type GUID/);
});

Deno.test("disk layout: a growing partition that is not the last is refused", () => {
  refused(edited((data) => data.disks[0].partitions[1].grow = true), /grows but is not the last/);
});

Deno.test("disk layout: a label with a space or shell character is refused", () => {
  refused(
    edited((data) => data.disks[0].partitions[3].filesystem.label = "root;reboot"),
    /label "root;reboot" must be 1-64 of/,
  );
});

Deno.test("disk layout: a mount point with .. is refused", () => {
  refused(
    edited((data) => data.disks[0].partitions[3].filesystem.mountpoint = "/boot/../etc"),
    /is not a plain absolute path/,
  );
});

Deno.test("disk layout: mount options with a space are refused", () => {
  refused(
    edited((data) => data.disks[0].partitions[3].filesystem.options = "defaults 0 0\n/x"),
    /are not fstab mount options/,
  );
});

Deno.test("disk layout: an unknown file system type is refused", () => {
  refused(
    edited((data) => data.disks[0].partitions[3].filesystem.type = "zfs"),
    /"zfs" is not one osimg recreates/,
  );
});

Deno.test("disk layout: two file systems at one mount point are refused", () => {
  refused(
    edited((data) => data.disks[0].partitions[1].filesystem.mountpoint = "/"),
    /two file systems are mounted at \//,
  );
});

Deno.test("disk layout: an EFI system partition without vfat is refused", () => {
  refused(
    edited((data) => data.disks[0].partitions[1].filesystem.type = "ext4"),
    /EFI system partition without a vfat file system/,
  );
});

Deno.test("disk layout: a volume group on a partition the disk lacks is refused", () => {
  refused(
    edited((data) =>
      data.disks[0].volumeGroups = [{ name: "vg0", physicalVolumes: [9], logicalVolumes: [] }]
    ),
    /physicalVolumes names 9, not a partition of its disk/,
  );
});

Deno.test("disk layout: an msdos logical partition is refused", () => {
  refused(
    edited((data) => {
      data.disks[0].table = "msdos";
      for (const part of data.disks[0].partitions) {
        part.type = "83";
        delete part.name;
      }
      data.disks[0].partitions[0].number = 5;
    }),
    /is a logical partition \(5\)/,
  );
});

/** The LVM layout's text with one edit applied to its parsed JSON. */
// deno-lint-ignore no-explicit-any -- the test edits raw JSON, fields of any shape
function editedLvm(edit: (data: any) => void): string {
  const data = JSON.parse(serializeDiskLayout(LVM_LAYOUT));
  edit(data);
  return JSON.stringify(data);
}

Deno.test("disk layout: an LVM layout (extent size, growing root LV) round-trips, and the text is stable", async () => {
  const text = serializeDiskLayout(LVM_LAYOUT);
  assertEquals(parseDiskLayout(text, "layout.json"), LVM_LAYOUT);
  await assertGolden("sysclone/disk_layout_lvm.json", text);
});

Deno.test("disk layout: a volume group recorded without an extent size still reads", () => {
  const layout = parseDiskLayout(
    editedLvm((data) => delete data.disks[0].volumeGroups[0].extentSize),
    "layout.json",
  );
  assertEquals(layout.disks[0]!.volumeGroups[0]!.extentSize, undefined);
});

Deno.test("disk layout: two growing logical volumes in one group are refused", () => {
  refused(
    editedLvm((data) => data.disks[0].volumeGroups[0].logicalVolumes[1].grow = true),
    /volumeGroups\[0\] has more than one growing logical volume/,
  );
});

Deno.test("disk layout: two logical volumes of one name are refused", () => {
  refused(
    editedLvm((data) => data.disks[0].volumeGroups[0].logicalVolumes[1].name = "root"),
    /has two logical volumes named root/,
  );
});

Deno.test("disk layout: a physical volume on a partition not flagged lvm is refused", () => {
  refused(
    editedLvm((data) => data.disks[0].volumeGroups[0].physicalVolumes = [3]),
    /names partition 3, which is not flagged "lvm" or holds a file system/,
  );
});

Deno.test("disk layout: an extent size that is not a power of two is refused", () => {
  refused(
    editedLvm((data) => data.disks[0].volumeGroups[0].extentSize = 3 * 1024 * 1024),
    /extentSize must be a power of two of at least 1024 bytes/,
  );
});

Deno.test("disk layout: one partition in two volume groups is refused", () => {
  refused(
    editedLvm((data) => {
      const group = data.disks[0].volumeGroups[0];
      data.disks[0].volumeGroups.push({ ...group, name: "vg1", logicalVolumes: [] });
    }),
    /uses partition 4, a physical volume of another group/,
  );
});

Deno.test("disk layout: two volume groups of one name are refused", () => {
  refused(
    editedLvm((data) => {
      data.disks[0].partitions[2].flags = ["lvm"];
      delete data.disks[0].partitions[2].filesystem;
      const group = data.disks[0].volumeGroups[0];
      data.disks[0].volumeGroups.push({ ...group, physicalVolumes: [3], logicalVolumes: [] });
    }),
    /has two volume groups named vg0/,
  );
});

Deno.test("disk layout: a logical volume name lvm would read as an option is refused", () => {
  refused(
    editedLvm((data) => data.disks[0].volumeGroups[0].logicalVolumes[1].name = "-an"),
    /logicalVolumes\[1\]\.name "-an" is not an LVM name/,
  );
});

Deno.test("disk layout: a volume group named .. is refused", () => {
  refused(
    editedLvm((data) => data.disks[0].volumeGroups[0].name = ".."),
    /volumeGroups\[0\]\.name "\.\." is not an LVM name/,
  );
});
