// Every packing packimage writes travels through imgexport, verify, imgimport, snapshot and rollback under its own name.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { archiveName, type PackCompression, type PackMethod } from "../pack/pack.ts";
import {
  buildFixture,
  NETBOOT,
  NETBOOT_DIR,
} from "../../testdata/support/bundle_export_fixture.ts";
import { hostPath } from "../paths.ts";
import { testRoot } from "../../testdata/support/testing.ts";

const PACKINGS: [PackMethod, PackCompression][] = [
  ["cpio", "gzip"],
  ["cpio", "xz"],
  ["cpio", "zstd"],
  ["cpio", "none"],
  ["tar", "gzip"],
  ["tar", "xz"],
  ["tar", "zstd"],
  ["tar", "none"],
  ["squashfs", "gzip"],
];

Deno.test("every packing packimage writes is exported, verified and imported back under its own name", async () => {
  for (const [method, compression] of PACKINGS) {
    await using source = await testRoot();
    await buildFixture(source.root);
    await source.ok(["packimage", "--nosyncfiles", NETBOOT, "-m", method, "-c", compression]);
    const name = archiveName(method, compression);
    const packed = await Deno.readFile(hostPath(source.root, `${NETBOOT_DIR}/${name}`));
    await source.ok(["imgexport", NETBOOT, "out.tgz"]);
    await source.ok(["verify", "out.tgz"]);
    await using target = await testRoot();
    await Deno.copyFile(`${source.root}/out.tgz`, `${target.root}/out.tgz`);
    await target.ok(["imgimport", "out.tgz"]);
    assertEquals(
      await Deno.readFile(hostPath(target.root, `${NETBOOT_DIR}/${name}`)),
      packed,
      `${method}/${compression}: ${name} restored byte for byte`,
    );
    const rootimg = (await target.ok(["lsdef", "-t", "osimage", NETBOOT])).stdout;
    ok(rootimg.includes(`rootimgdir=${NETBOOT_DIR}`), rootimg);
  }
});

Deno.test("imgexport of a zstd pack warns once that xCAT cannot read it; a gzip pack does not", async () => {
  await using t = await testRoot();
  await buildFixture(t.root);
  await t.ok(["packimage", "--nosyncfiles", NETBOOT, "-c", "zstd"]);
  const zstd = await t.ok(["imgexport", NETBOOT, "zstd.tgz"]);
  const warnings = zstd.stderr.split("\n").filter((line) => line.includes("xCAT cannot read"));
  assertEquals(warnings, [
    "Warning: The bundle carries rootimg.cpio.zst, which xCAT cannot read (its nodeset and " +
    "packimage know only rootimg.cpio.gz, rootimg.cpio.xz, rootimg.tar.gz, rootimg.tar.xz, " +
    "rootimg.sfs); for a bundle meant for xCAT, pack the image with 'packimage -c gzip' or " +
    "'-c xz' first",
  ]);
  await t.ok(["packimage", "--nosyncfiles", NETBOOT, "-c", "gzip"]);
  const gzip = await t.ok(["imgexport", NETBOOT, "gzip.tgz"]);
  ok(!gzip.stderr.includes("xCAT cannot read"), gzip.stderr);
});

Deno.test("snapshot and rollback of a zstd-packed image restore rootimg.cpio.zst", async () => {
  await using t = await testRoot();
  await buildFixture(t.root);
  await t.ok(["packimage", "--nosyncfiles", NETBOOT, "-c", "zstd"]);
  const packedPath = hostPath(t.root, `${NETBOOT_DIR}/rootimg.cpio.zst`);
  const packed = await Deno.readFile(packedPath);
  const taken = await t.ok(["snapshot", NETBOOT]);
  ok(!taken.stderr.includes("xCAT cannot read"), "a snapshot is not meant for xCAT");
  // The image changes and is packed again: a different rootimg.cpio.zst.
  await Deno.writeTextFile(hostPath(t.root, `${NETBOOT_DIR}/rootimg/etc/hostname`), "changed\n");
  await t.ok(["packimage", "--nosyncfiles", NETBOOT, "-c", "zstd"]);
  ok(!(await Deno.readFile(packedPath)).every((byte, index) => byte === packed[index]));
  await t.ok(["rollback", NETBOOT, "1"]);
  assertEquals(await Deno.readFile(packedPath), packed);
  assertEquals(
    await Deno.readTextFile(hostPath(t.root, `${NETBOOT_DIR}/rootimg/etc/hostname`)),
    "node\n",
  );
});
