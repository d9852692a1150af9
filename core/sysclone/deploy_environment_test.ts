// The deploy environment's refusals, through nodeset: each one line, nothing written.

import { deepStrictEqual as assertEquals, strictEqual } from "node:assert/strict";
import { type DiskLayout, serializeDiskLayout } from "../../formats/sysclone/disk_layout.ts";
import { kernelImageRoot } from "../../testdata/support/debian_kernel.ts";
import {
  defineQemuNode,
  defineSyscloneImage,
  HYBRID_LAYOUT,
  LVM_LAYOUT,
} from "../../testdata/support/sysclone_testing.ts";
import { snapshotTree, type TestRoot, testRoot } from "../../testdata/support/testing.ts";
import { run } from "../../testdata/support/process.ts";

const IMAGE = "golden-clone";

async function defineSysclone(t: TestRoot): Promise<void> {
  await defineSyscloneImage(t, IMAGE);
  await defineQemuNode(t, "cn01", "52:54:00:12:34:56");
}

/** Runs nodeset expecting `message`, and checks that the tree and the chain table did not change. */
async function refused(t: TestRoot, message: string): Promise<void> {
  const before = await snapshotTree(t.root);
  const chain = (await t.ok(["tabdump", "chain"])).stdout;
  const result = await t.run(["nodeset", "cn01", `osimage=${IMAGE}`]);
  strictEqual(result.stderr, `Error: ${message}\n`);
  strictEqual(result.status, 1);
  assertEquals(await snapshotTree(t.root), before);
  strictEqual((await t.ok(["tabdump", "chain"])).stdout, chain);
}

Deno.test("sysclone nodeset: an image without a repository is refused, nothing written", async () => {
  await using t = await testRoot();
  await defineSysclone(t);
  await refused(
    t,
    `The sysclone image ${IMAGE} has no repository at ${t.root}/install/sysclone/images/${IMAGE}: ` +
      `capture it with 'imgcapture <node> -t sysclone -o ${IMAGE}'`,
  );
});

Deno.test("sysclone nodeset: an image without its disk layout is refused, nothing written", async () => {
  await using t = await testRoot();
  await defineSysclone(t);
  await Deno.mkdir(`${t.root}/install/sysclone/images/${IMAGE}/boot`, { recursive: true });
  await refused(
    t,
    `The sysclone image ${IMAGE} has no disk layout at ${t.root}/install/sysclone/images/${IMAGE}.layout.json: ` +
      `capture it again with imgcapture -t sysclone`,
  );
});

Deno.test("sysclone nodeset: a layout of a newer version is refused, nothing written", async () => {
  await using t = await testRoot();
  await defineSysclone(t);
  await Deno.mkdir(`${t.root}/install/sysclone/images/${IMAGE}/boot`, { recursive: true });
  const layout = `${t.root}/install/sysclone/images/${IMAGE}.layout.json`;
  await Deno.writeTextFile(
    layout,
    serializeDiskLayout(HYBRID_LAYOUT).replace('"version": 1', '"version": 7'),
  );
  await refused(
    t,
    `The disk layout ${layout} is not usable: it is version 7, newer than this osimg reads (1); ` +
      `use the osimg that captured it or a newer one`,
  );
});

Deno.test("sysclone nodeset: an image without a kernel is refused, nothing written", async () => {
  await using t = await testRoot();
  await defineSysclone(t);
  await Deno.mkdir(`${t.root}/install/sysclone/images/${IMAGE}/boot`, { recursive: true });
  await Deno.writeTextFile(
    `${t.root}/install/sysclone/images/${IMAGE}.layout.json`,
    serializeDiskLayout(HYBRID_LAYOUT),
  );
  await refused(
    t,
    `The sysclone image ${IMAGE} has no kernel (/boot/vmlinuz-<version>): the golden client must boot a kernel installed in its root`,
  );
});

/** nodeset on an image of Debian's kernel and modules and a static busybox, but no util-linux, fdisk, e2fsprogs, lvm2... */
async function refusedForTools(layout: DiskLayout, message: string): Promise<void> {
  await using t = await testRoot();
  await defineSysclone(t);
  const image = await kernelImageRoot();
  try {
    const repository = `${t.root}/install/sysclone/images/${IMAGE}`;
    await Deno.mkdir(`${t.root}/install/sysclone/images`, { recursive: true });
    await run(["cp", "-a", image.rootimg, repository]);
    await Deno.mkdir(`${repository}/boot`);
    await Deno.writeTextFile(`${repository}/boot/vmlinuz-${image.kernelVersion}`, "kernel\n");
    await Deno.writeTextFile(
      `${t.root}/install/sysclone/images/${IMAGE}.layout.json`,
      serializeDiskLayout(layout),
    );
    await refused(t, message);
  } finally {
    await Deno.remove(image.rootimg, { recursive: true });
  }
}

Deno.test("sysclone nodeset: an image lacking the disk tools names each with its package, nothing written", async () => {
  await refusedForTools(
    HYBRID_LAYOUT,
    `Cannot build the sysclone deploy initrd of ${IMAGE}: its image lacks sfdisk (fdisk (util-linux on RHEL)), ` +
      `wipefs (util-linux), blkid (util-linux), tar (tar), mkfs.fat (dosfstools), mkswap (util-linux), ` +
      `mke2fs (e2fsprogs); install them on the golden client and capture again`,
  );
});

Deno.test("sysclone nodeset: an LVM layout also needs the image's lvm (lvm2), nothing written", async () => {
  await refusedForTools(
    LVM_LAYOUT,
    `Cannot build the sysclone deploy initrd of ${IMAGE}: its image lacks sfdisk (fdisk (util-linux on RHEL)), ` +
      `wipefs (util-linux), blkid (util-linux), tar (tar), mkfs.fat (dosfstools), mke2fs (e2fsprogs), ` +
      `mkswap (util-linux), lvm (lvm2); install them on the golden client and capture again`,
  );
});
