// Tests for the deploy plan: golden files for a GPT and an msdos layout, and each refusal.

import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { InvalidInputError } from "../../core/errors.ts";
import { type DiskLayout, GPT_TYPES } from "./disk_layout.ts";
import { deployPlan } from "./deploy_plan.ts";
import { HYBRID_LAYOUT, LVM_LAYOUT } from "../../testdata/support/sysclone_testing.ts";
import { assertGolden } from "../../testdata/support/testing.ts";

function render(plan: ReturnType<typeof deployPlan>): string {
  return `==> layout.conf <==\n${plan.conf}==> partitions.sfdisk <==\n${plan.sfdisk}` +
    `==> filesystems <==\n${plan.filesystems}` + (plan.lvm ? `==> lvm <==\n${plan.lvm}` : "");
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

Deno.test("deploy plan: an LVM layout makes vg0 on the growing partition, the fixed swap LV, then the root LV taking the rest (golden)", async () => {
  const plan = deployPlan(LVM_LAYOUT, "debian12-lvm");
  // 1 MiB lead + 1 + 64 + 256 MiB fixed; the physical volume: 1 MiB of LVM metadata, 32 swap
  // extents and the root LV's 384-extent minimum of 4 MiB each; 1 MiB tail.
  assertEquals(plan.minBytes, (1 + 1 + 64 + 256 + 1 + (32 + 384) * 4 + 1) * 1024 ** 2);
  await assertGolden("sysclone/deploy_plan_lvm.txt", render(plan));
});

Deno.test("deploy plan: a group on a fixed partition its LVs do not fit is refused", () => {
  const disk = LVM_LAYOUT.disks[0]!;
  const [bios, esp, boot, pv] = disk.partitions;
  refused({
    ...LVM_LAYOUT,
    disks: [{
      ...disk,
      // The PV partition (now fixed, 100 MiB: 24 extents after the metadata) before a growing /srv.
      partitions: [bios!, esp!, boot!, { ...pv!, grow: undefined, size: 100 * 1024 ** 2 }, {
        number: 5,
        size: 1024 ** 3,
        grow: true,
        type: GPT_TYPES.linux,
        flags: [],
        filesystem: { type: "xfs", mountpoint: "/srv" },
      }],
    }],
  }, /the logical volumes of vg0 need 416 extents of 4194304 bytes; its physical volumes hold 24/);
});

Deno.test("deploy plan: a layout without LVM has an empty lvm file and LVM=no", () => {
  const plan = deployPlan(HYBRID_LAYOUT, "img");
  assertEquals(plan.lvm, "");
  assertEquals(plan.conf.includes("\nLVM=no\n"), true);
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
