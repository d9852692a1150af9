// copycds of ISO images xorriso makes from the media fixtures, and of real ISOs from Debian
// packages. PENDING: needs core/copycds/iso_media.ts (openIsoMedia) wired into open_media.ts;
// rename to copycds_iso_test.ts when the ISO decoder is merged. Needs xorriso and bsdtar.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { join } from "node:path";
import { snapshotTree, testRoot } from "../../testdata/support/testing.ts";
import { MEDIA_FIXTURES, writeMediaTree } from "../../testdata/support/media_fixture.ts";
import { run } from "../../testdata/support/process.ts";

/** An ISO 9660 image (Rock Ridge and Joliet) of `dir`, written by xorriso. */
async function makeIso(dir: string, iso: string): Promise<void> {
  await run(["xorriso", "-as", "mkisofs", "-R", "-J", "-V", "OSIMG_TEST", "-o", iso, dir]);
}

for (const item of MEDIA_FIXTURES) {
  Deno.test(`copycds of an xorriso ISO of ${item.label}: named as xCAT does, copied whole`, async () => {
    await using t = await testRoot();
    const dir = await writeMediaTree(join(t.root, "media"), item);
    const iso = join(t.root, "media.iso");
    await makeIso(dir, iso);
    const inspection = await t.ok(["copycds", "-i", iso]);
    ok(
      inspection.stdout.includes(`DISTNAME:${item.distname}\nARCH:${item.arch}\n`),
      inspection.stdout,
    );
    await t.ok(["copycds", iso]);
    const destination = `install/${item.distname}/${item.arch}` +
      (item.distname.startsWith("sle") ? `/${item.discno}` : "");
    assertEquals(await snapshotTree(join(t.root, destination)), await snapshotTree(dir));
    const images = (await t.ok(["lsdef", "-t", "osimage"])).stdout;
    ok(images.includes(`${item.distname}-${item.arch}-netboot-compute`), images);
  });
}

Deno.test("a second copycds of the same ISO copies nothing; -w says it is already copied", async () => {
  await using t = await testRoot();
  const dir = await writeMediaTree(join(t.root, "media"), MEDIA_FIXTURES[0]!);
  const iso = join(t.root, "media.iso");
  await makeIso(dir, iso);
  await t.ok(["copycds", iso]);
  const before = await snapshotTree(join(t.root, "install"));
  const again = await t.ok(["copycds", iso]);
  ok(again.stdout.includes("already holds a copy of this media; nothing copied."), again.stdout);
  assertEquals(
    (await t.ok(["copycds", "-w", iso])).stdout,
    "The disc iso has already been copied in!\n",
  );
  assertEquals(await snapshotTree(join(t.root, "install")), before);
});

/** Real ISOs no one here wrote, from Debian packages, copied with -n and -a. */
const REAL_ISOS = [
  "/usr/lib/ipxe/ipxe.iso",
  "/usr/lib/grub-rescue/grub-rescue-cdrom.iso",
];

for (const iso of REAL_ISOS) {
  Deno.test(`copycds -n -a of ${iso} equals bsdtar's extraction byte for byte`, async () => {
    await using t = await testRoot();
    const extracted = join(t.root, "bsdtar");
    await Deno.mkdir(extracted);
    await run(["bsdtar", "-xf", iso, "-C", extracted]);
    await t.ok(["copycds", "-n", "rhels9.2", "-a", "x86_64", "-o", iso]);
    assertEquals(
      await snapshotTree(join(t.root, "install/rhels9.2/x86_64")),
      await snapshotTree(extracted),
    );
  });
}
