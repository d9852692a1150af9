// The deploy /init parses as busybox sh, and says what it does in the order that keeps a failed
// clone from looking bootable.

import { ok, strictEqual } from "node:assert/strict";
import { SYSCLONE_DEPLOY_INIT } from "./deploy_init_script.ts";
import { staticBusybox } from "../../testdata/support/debian_kernel.ts";
import { runTool } from "../../testdata/support/process.ts";

Deno.test("deploy init: busybox sh parses it (sh -n)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-deploy-init-" });
  try {
    await Deno.writeTextFile(`${dir}/init`, SYSCLONE_DEPLOY_INIT);
    const result = await runTool(staticBusybox(), ["sh", "-n", `${dir}/init`]);
    strictEqual(result.stderr, "");
    strictEqual(result.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deploy init: disk checks, then wipe, partitions, copy, identity, postscripts, boot loader last", () => {
  const steps = [
    "no disk is big enough",
    "if ! wget -q --spider",
    "WIPE_ON_FAILURE=yes",
    'wipe_disk\nsay "partitioning',
    "/osimg/bin/sfdisk -q --wipe always",
    "/osimg/bin/mke2fs -q -F",
    "/osimg/bin/tar -x -p --numeric-owner",
    "> /target/etc/fstab.osimg",
    ": > /target/etc/machine-id",
    "ssh-keygen -A",
    "running postscript",
    "grub-install --target=",
    "grub-mkconfig",
    "is installed from",
  ];
  let at = -1;
  for (const step of steps) {
    const found = SYSCLONE_DEPLOY_INIT.indexOf(step, at + 1);
    ok(found > at, `"${step}" is not after the step before it`);
    at = found;
  }
});

Deno.test("deploy init: an update is tried before the image tar is asked for or anything is wiped, and a full clone stamps its disk before the boot loader", () => {
  const steps = [
    "sysclone_update() {",
    "\nnetwork_up\nsysclone_update\n",
    "if ! wget -q --spider",
    "WIPE_ON_FAILURE=yes",
    "mv /target/etc/fstab.osimg /target/etc/fstab\nwrite_clone_stamp\n",
    "grub-install --target=",
  ];
  let at = -1;
  for (const step of steps) {
    const found = SYSCLONE_DEPLOY_INIT.indexOf(step, at + 1);
    ok(found > at, `"${step}" is not after the step before it`);
    at = found;
  }
});

Deno.test("deploy init: LVM groups and volumes are made after the partitions and before the file systems, and stopped before a wipe", () => {
  const init = SYSCLONE_DEPLOY_INIT;
  const sfdisk = init.indexOf("/osimg/bin/sfdisk -q --wipe always");
  const create = init.indexOf("\nlvm_create\n");
  const mkfs = init.indexOf("/osimg/bin/mke2fs -q -F");
  ok(sfdisk > 0 && create > sfdisk && mkfs > create, "lvm_create is not between sfdisk and mkfs");
  ok(init.includes("wipe_disk() {\n  lvm_stop\n"), "wipe_disk does not stop LVM first");
  ok(init.includes('/osimg/bin/lvm vgcreate -y -s "$((name / 1024))k" "$group" "$@"'));
  ok(init.includes("/osimg/bin/lvm lvcreate -y -W y -Z y"));
  // Every file system is reached through fs_device (a partition number or <vg>/<lv>).
  strictEqual(init.match(/dev="\$\(fs_device "\$number"\)"/g)?.length, 3);
  strictEqual(init.includes('"${PART_PREFIX}$number" '), false);
});
