// Tests for the deploy plan: golden files for a GPT and an msdos layout, and each refusal.

import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { InvalidInputError } from "../../core/errors.ts";
import { type DiskLayout, GPT_TYPES } from "./disk_layout.ts";
import { deployPlan } from "./deploy_plan.ts";
import { HYBRID_LAYOUT } from "../../testdata/support/sysclone_testing.ts";
import { assertGolden } from "../../testdata/support/testing.ts";

function render(plan: ReturnType<typeof deployPlan>): string {
  return `==> layout.conf <==\n${plan.conf}==> partitions.sfdisk <==\n${plan.sfdisk}` +
    `==> filesystems <==\n${plan.filesystems}`;
}

const MSDOS_LAYOUT: DiskLayout = {
  format: "osimg-disklayout",
  version: 1,
  disks: [{
    name: "sda",
    size: 8 * 1024 ** 3,
    table: "msdos",
    partitions: [
      {
        number: 1,
        size: 256 * 1024 ** 2,
        type: "83",
        flags: ["boot"],
        filesystem: { type: "ext4", mountpoint: "/boot" },
      },
      { number: 2, size: 512 * 1024 ** 2, type: "82", flags: [], filesystem: { type: "swap" } },
      {
        number: 3,
        size: 7 * 1024 ** 3,
        type: "83",
        flags: [],
        filesystem: { type: "xfs", label: "root", mountpoint: "/" },
      },
    ],
    volumeGroups: [],
  }],
};

Deno.test("deploy plan: a GPT layout for BIOS and UEFI (golden)", async () => {
  const plan = deployPlan(HYBRID_LAYOUT, "debian12-clone");
  // 1 MiB lead + 1 + 64 + 32 MiB fixed + 1536 MiB for the growing root + 1 MiB tail.
  assertEquals(plan.minBytes, (1 + 1 + 64 + 32 + 1536 + 1) * 1024 ** 2);
  await assertGolden("sysclone/deploy_plan_gpt.txt", render(plan));
});

Deno.test("deploy plan: an msdos layout mounts / before /boot and grows its last partition (golden)", async () => {
  await assertGolden("sysclone/deploy_plan_msdos.txt", render(deployPlan(MSDOS_LAYOUT, "rh9")));
});

function refused(layout: DiskLayout, message: RegExp): void {
  throws(() => deployPlan(layout, "img"), (error: unknown) => {
    if (!(error instanceof InvalidInputError)) throw error;
    if (!message.test(error.message)) throw new Error(`unexpected message: ${error.message}`);
    return true;
  });
}

Deno.test("deploy plan: a layout with LVM is refused, naming the volume group", () => {
  const disk = HYBRID_LAYOUT.disks[0]!;
  refused({
    ...HYBRID_LAYOUT,
    disks: [{ ...disk, volumeGroups: [{ name: "vg0", physicalVolumes: [4], logicalVolumes: [] }] }],
  }, /uses LVM \(volume group vg0\), which osimg records but does not deploy yet/);
});

Deno.test("deploy plan: a layout of two disks is refused", () => {
  const disk = HYBRID_LAYOUT.disks[0]!;
  refused({ ...HYBRID_LAYOUT, disks: [disk, { ...disk, name: "vdb" }] }, /has 2 disks/);
});

Deno.test("deploy plan: a layout without a root file system is refused", () => {
  const disk = HYBRID_LAYOUT.disks[0]!;
  refused({
    ...HYBRID_LAYOUT,
    disks: [{
      ...disk,
      partitions: [{ number: 1, size: 1024 ** 3, type: GPT_TYPES.linux, flags: [] }],
    }],
  }, /has no file system mounted at \//);
});
