// packimage end to end: archives read back by GNU cpio, GNU tar, bsdtar, unsquashfs and the
// compressors' own testers; exlist and synclist handling; atomic replacement; reproducibility.

import { deepStrictEqual as assertEquals, equal, ok } from "node:assert/strict";
import { assertGolden, testRoot } from "../../testdata/support/testing.ts";
import {
  defineImage,
  defineRows,
  FIXTURE_MTIME,
  listTree,
  makeFixtureTree,
} from "../../testdata/support/pack_testing.ts";
import { pipeline, sh } from "../../testdata/support/process.ts";
import { systemRunner } from "../process.ts";
import { recordingRunner } from "../recording_runner.ts";

const SOCKET = "run/control.sock";

/** A test root holding image `img` with the fixture tree (plus a socket) as its rootimg. */
async function fixtureImage(
  osimage: Record<string, string> = {},
  linux: Record<string, string> = {},
) {
  const t = await testRoot();
  const image = await defineImage(t.root, "img", osimage, linux);
  await makeFixtureTree(image.rootimgHost);
  Deno.mkdirSync(`${image.rootimgHost}/run`);
  // Deno removes a unix socket's file when its listener closes: keep it open for the test.
  const listener = Deno.listen({ transport: "unix", path: `${image.rootimgHost}/${SOCKET}` });
  const dispose = async () => {
    listener.close();
    await t.cleanup();
  };
  return { t: { ...t, [Symbol.asyncDispose]: dispose }, ...image };
}

/**
 * The fixture as it should come out of an archive: the socket cannot be archived. GNU cpio
 * does not restore the mtimes of symlinks (tar does), so `cpio` leaves those out.
 */
function expected(rootimgHost: string, extractor: "cpio" | "tar") {
  return listTree(rootimgHost, {
    mtimes: true,
    symlinkMtimes: extractor === "tar",
    skip: (path) => path === SOCKET,
  });
}

Deno.test("packimage cpio.gz: GNU cpio restores the tree exactly; gzip -t and bsdtar read it", async () => {
  const { t, rootimgHost, dirHost, rootimgdir } = await fixtureImage();
  await using _ = t;
  const result = await t.ok(["packimage", "img"]);
  assertEquals(result.stdout.split("\n").slice(0, 3), [
    `Packing contents of ${rootimgdir}/rootimg`,
    "archive method:cpio",
    "compress method:gzip",
  ]);
  ok(result.stderr.includes(`skipped ${rootimgdir}/rootimg/${SOCKET}`), result.stderr);
  ok(/Note: 2 entries have extended attributes/.test(result.stderr), result.stderr);
  const archive = `${dirHost}/rootimg.cpio.gz`;
  equal(Deno.statSync(archive).mode! & 0o777, 0o644);
  await sh(["gzip", "-t", archive]);
  const out = `${t.root}/out`;
  Deno.mkdirSync(out);
  await pipeline(
    `gzip -dc '${archive}' | cpio -idm --no-absolute-filenames --quiet`,
    out,
  );
  assertEquals(
    await listTree(out, { mtimes: true, symlinkMtimes: false }),
    await expected(rootimgHost, "cpio"),
  );
  const listing = await sh(["bsdtar", "-tvf", archive]);
  ok(listing.includes("dev/null") && listing.includes("usr/bin/second"), listing);
});

Deno.test("packimage tar.xz: GNU tar restores the tree with xattrs; xz -t passes", async () => {
  const { t, rootimgHost, dirHost } = await fixtureImage();
  await using _ = t;
  const result = await t.ok(["packimage", "-m", "tar", "-c", "xz", "img"]);
  ok(!result.stderr.includes("extended attributes"), "tar keeps xattrs: no note");
  const archive = `${dirHost}/rootimg.tar.xz`;
  await sh(["xz", "-t", archive]);
  const out = `${t.root}/out`;
  Deno.mkdirSync(out);
  await sh([
    "tar",
    "--xattrs",
    "--xattrs-include=*",
    "--numeric-owner",
    "-xpJf",
    archive,
    "-C",
    out,
  ]);
  assertEquals(await listTree(out, { mtimes: true }), await expected(rootimgHost, "tar"));
  ok(
    (await sh(["getfattr", "-n", "user.comment", "-e", "hex", `${out}/etc/hostname`]))
      .includes("user.comment=0x00ff10"),
  );
  ok((await sh(["getcap", `${out}/usr/bin/tool`])).includes("cap_net_raw=ep"));
  ok((await sh(["bsdtar", "-tvf", archive])).includes("usr/bin/su"));
});

Deno.test("packimage cpio.zst and tar.zst: zstd -t passes and the contents match", async () => {
  const { t, rootimgHost, dirHost } = await fixtureImage();
  await using _ = t;
  await t.ok(["packimage", "-c", "zstd", "img"]);
  ok(!Deno.statSync(`${dirHost}/rootimg.cpio.zst`).isDirectory);
  await sh(["zstd", "-q", "-t", `${dirHost}/rootimg.cpio.zst`]);
  const out = `${t.root}/out`;
  Deno.mkdirSync(out);
  await pipeline(
    `zstd -dc '${dirHost}/rootimg.cpio.zst' | cpio -idm --no-absolute-filenames --quiet`,
    out,
  );
  assertEquals(
    await listTree(out, { mtimes: true, symlinkMtimes: false }),
    await expected(rootimgHost, "cpio"),
  );
  await t.ok(["packimage", "-m", "tar", "-c", "zstd", "img"]);
  await sh(["zstd", "-q", "-t", `${dirHost}/rootimg.tar.zst`]);
  assertEquals([...Deno.readDirSync(dirHost)].map((e) => e.name).sort(), [
    "rootimg",
    "rootimg.tar.zst",
  ]);
});

Deno.test("packimage -c zstd and -c xz ask the runner for exactly these compressor commands (argv golden)", async () => {
  // The real tools run (passThrough), so the archives are checked as well as the argv.
  const runner = recordingRunner({ passThrough: systemRunner });
  await using t = await testRoot({ runner });
  const { rootimgdir, rootimgHost, dirHost } = await defineImage(t.root, "img");
  await makeFixtureTree(rootimgHost);
  const env = { SOURCE_DATE_EPOCH: String(FIXTURE_MTIME) };
  await t.ok(["packimage", "-c", "zstd", "img"], { env });
  await sh(["zstd", "-q", "-t", `${dirHost}/rootimg.cpio.zst`]);
  await t.ok(["packimage", "-c", "xz", "img"], { env });
  await sh(["xz", "-q", "-t", `${dirHost}/rootimg.cpio.xz`]);
  const transcript = runner.transcript({
    [t.root]: "<root>",
    [Deno.env.get("PATH") ?? "/usr/bin:/bin"]: "<PATH>",
  }).replace(/\.osimg-tmp-\d+-[0-9a-f]+/g, ".osimg-tmp-<pid>-<random>");
  ok(transcript.includes(`<root>${rootimgdir}/.rootimg.cpio.zst.osimg-tmp-`), transcript);
  await assertGolden("packimage_zstd_xz.argv", transcript);
});

Deno.test("packimage -c none writes a plain rootimg.cpio that cpio lists", async () => {
  const { t, dirHost } = await fixtureImage();
  await using _ = t;
  await t.ok(["packimage", "-c", "none", "img"]);
  const names = (await sh(["cpio", "-it", "--quiet", "-F", `${dirHost}/rootimg.cpio`])).split("\n");
  ok(names.includes("usr/bin/tool") && names.includes("."), names.join(","));
});

Deno.test("packimage squashfs: unsquashfs lists the same files as the cpio archive", async () => {
  const { t, dirHost } = await fixtureImage({}, {
    exlist: "/install/custom/img.exlist",
  });
  await using _ = t;
  Deno.mkdirSync(`${t.root}/install/custom`, { recursive: true });
  Deno.writeTextFileSync(
    `${t.root}/install/custom/img.exlist`,
    "./usr/share/man*\n+./usr/share/man/man8*\n./etc/empty\n",
  );
  await t.ok(["packimage", "-m", "cpio", "img"]);
  const cpioNames = (await pipeline(`gzip -dc '${dirHost}/rootimg.cpio.gz' | cpio -it --quiet`))
    .split("\n").filter((name) => name !== "" && name !== ".").sort();
  await t.ok(["packimage", "-m", "squashfs", "-c", "zstd", "img"]);
  const sfs = `${dirHost}/rootimg.sfs`;
  const squashNames = (await sh(["unsquashfs", "-l", "-d", "", sfs])).split("\n")
    .filter((line) => line.startsWith("/")).map((line) => line.slice(1)).sort();
  assertEquals(squashNames, cpioNames);
  ok(!cpioNames.includes("usr/share/man/man1/ls.1"));
  ok(cpioNames.includes("usr/share/man/man8/mount.8"));
  const lls = await sh(["unsquashfs", "-lls", sfs]);
  ok(/crw-r--r-- 0\/0\s+1,\s*3 .*dev\/null/.test(lls) || /c.* 1,\s*3 .*dev\/null/.test(lls), lls);
  assertEquals([...Deno.readDirSync(dirHost)].map((e) => e.name).sort(), [
    "rootimg",
    "rootimg.sfs",
  ]);
});

Deno.test("packimage squashfs is reproducible and keeps owners", async () => {
  const { t, dirHost } = await fixtureImage();
  await using _ = t;
  await t.ok(["packimage", "-m", "squashfs", "img"]);
  const first = Deno.readFileSync(`${dirHost}/rootimg.sfs`);
  await t.ok(["packimage", "-m", "squashfs", "img"]);
  assertEquals(Deno.readFileSync(`${dirHost}/rootimg.sfs`), first);
  ok((await sh(["unsquashfs", "-lln", `${dirHost}/rootimg.sfs`])).includes("1000/1001"));
});

Deno.test("exlist: find -path globs, + re-include, #INCLUDE#, and always-excluded statelite paths", async () => {
  const { t, rootimgHost, dirHost } = await fixtureImage({}, {
    exlist: "/install/custom/main.exlist,/install/custom/second.exlist",
  });
  await using _ = t;
  const custom = `${t.root}/install/custom`;
  Deno.mkdirSync(`${custom}/parts`, { recursive: true });
  Deno.writeTextFileSync(
    `${custom}/main.exlist`,
    "# main\n./usr/share/man*   # manuals\n#INCLUDE:parts/inc.exlist#\n+./usr/share/man/man1/ls.1\n",
  );
  Deno.writeTextFileSync(`${custom}/parts/inc.exlist`, "-./etc/empty\n./dev/loop*\n");
  Deno.writeTextFileSync(`${custom}/second.exlist`, "./home*\n");
  Deno.mkdirSync(`${rootimgHost}/.statelite/tmpfs`, { recursive: true });
  Deno.writeTextFileSync(`${rootimgHost}/.statelite/litefile.save`, "link /etc/x\n");
  Deno.mkdirSync(`${rootimgHost}/.default/etc`, { recursive: true });
  await t.ok(["packimage", "img"]);
  const names = (await pipeline(`gzip -dc '${dirHost}/rootimg.cpio.gz' | cpio -it --quiet`))
    .split("\n").filter((name) => name !== "");
  for (const gone of ["etc/empty", "dev/loop0", "home", "home/user/owned", "usr/share/man/man8"]) {
    ok(!names.includes(gone), `${gone} is excluded`);
  }
  for (const gone of [".statelite", ".statelite/litefile.save", ".default", ".default/etc"]) {
    ok(!names.includes(gone), `${gone} is always excluded`);
  }
  // The re-included file comes with the directories above it, so the archive unpacks.
  for (
    const kept of ["usr/share/man", "usr/share/man/man1", "usr/share/man/man1/ls.1", "dev/null"]
  ) {
    ok(names.includes(kept), `${kept} is kept`);
  }
});

Deno.test("exlist: a hard link whose first name is excluded still carries the data", async () => {
  const { t, dirHost } = await fixtureImage({}, { exlist: "/install/x.exlist" });
  await using _ = t;
  Deno.writeTextFileSync(`${t.root}/install/x.exlist`, "./usr/bin/first\n");
  await t.ok(["packimage", "img"]);
  const out = `${t.root}/out`;
  Deno.mkdirSync(out);
  await pipeline(`gzip -dc '${dirHost}/rootimg.cpio.gz' | cpio -idm --quiet`, out);
  equal(Deno.readTextFileSync(`${out}/usr/bin/second`), "hard linked\n");
  ok(!(await Deno.lstat(`${out}/usr/bin/first`).then(() => true, () => false)));
});

Deno.test("a missing exlist file fails clearly and writes nothing", async () => {
  const { t, dirHost } = await fixtureImage({}, { exlist: "/install/none.exlist" });
  await using _ = t;
  const result = await t.run(["packimage", "img"]);
  equal(result.status, 1);
  ok(result.stderr.includes("Cannot read the exlist file '/install/none.exlist'"), result.stderr);
  assertEquals([...Deno.readDirSync(dirHost)].map((e) => e.name), ["rootimg"]);
});

Deno.test("stale variants are removed and the new archive replaces the old one atomically", async () => {
  const { t, dirHost } = await fixtureImage();
  await using _ = t;
  for (
    const stale of [
      "rootimg.cpio.gz",
      "rootimg.gz",
      "rootimg.tar.xz",
      "rootimg.sfs",
      "rootimg.cpio.zst",
    ]
  ) {
    Deno.writeTextFileSync(`${dirHost}/${stale}`, `old ${stale}\n`);
  }
  Deno.writeTextFileSync(`${dirHost}/kernel`, "kernel\n");
  Deno.writeTextFileSync(`${dirHost}/initrd-stateless.gz`, "initrd\n");
  // A node downloading the old image keeps reading it whole: the new one is renamed over it.
  using reader = Deno.openSync(`${dirHost}/rootimg.cpio.gz`);
  const result = await t.ok(["packimage", "-v", "img"]);
  ok(result.stdout.includes("removed stale"), result.stdout);
  const buffer = new Uint8Array(64);
  const count = reader.readSync(buffer)!;
  equal(new TextDecoder().decode(buffer.subarray(0, count)), "old rootimg.cpio.gz\n");
  assertEquals([...Deno.readDirSync(dirHost)].map((e) => e.name).sort(), [
    "initrd-stateless.gz",
    "kernel",
    "rootimg",
    "rootimg.cpio.gz",
  ]);
  await sh(["gzip", "-t", `${dirHost}/rootimg.cpio.gz`]);
});

Deno.test("reproducible: same bytes twice; with SOURCE_DATE_EPOCH, touching files changes nothing", async () => {
  const { t, rootimgHost, dirHost } = await fixtureImage();
  await using _ = t;
  for (const method of ["cpio", "tar"]) {
    const archive = `${dirHost}/rootimg.${method}.gz`;
    await t.ok(["packimage", "-m", method, "img"]);
    const first = Deno.readFileSync(archive);
    await t.ok(["packimage", "-m", method, "img"]);
    assertEquals(Deno.readFileSync(archive), first, `${method}: unchanged tree, same bytes`);
    const env = { SOURCE_DATE_EPOCH: "1600000000" };
    await t.ok(["packimage", "-m", method, "img"], { env });
    const clamped = Deno.readFileSync(archive);
    await sh(["touch", `${rootimgHost}/etc/hostname`, `${rootimgHost}/usr/bin/tool`]);
    await t.ok(["packimage", "-m", method, "img"], { env });
    assertEquals(Deno.readFileSync(archive), clamped, `${method}: touch does not leak`);
    await t.ok(["packimage", "-m", method, "img"]);
    ok(!equalBytes(Deno.readFileSync(archive), first), `${method}: without the epoch it does`);
    await sh([
      "touch",
      "-h",
      "-d",
      "@1609459200",
      `${rootimgHost}/etc/hostname`,
      `${rootimgHost}/usr/bin/tool`,
    ]);
  }
  // gzip headers carry no name and no time: bytes 4..7 (MTIME) are zero, FLG has no FNAME.
  const head = Deno.readFileSync(`${dirHost}/rootimg.tar.gz`).subarray(0, 10);
  equal(head[3]! & 0x08, 0);
  assertEquals([...head.subarray(4, 8)], [0, 0, 0, 0]);
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

Deno.test("a file over 4 GiB is refused in cpio with a clear message and nothing changes", async () => {
  const t = await testRoot();
  await using _ = t;
  const { rootimgHost, dirHost } = await defineImage(t.root, "big");
  Deno.mkdirSync(`${rootimgHost}/var`, { recursive: true });
  await sh(["truncate", "-s", "5G", `${rootimgHost}/var/sparse.img`]);
  Deno.writeTextFileSync(`${dirHost}/rootimg.cpio.gz`, "previous image\n");
  const result = await t.run(["packimage", "big"]);
  equal(result.status, 1);
  ok(result.stderr.includes("var/sparse.img"), result.stderr);
  ok(/4 GiB/.test(result.stderr) && result.stderr.includes("-m tar"), result.stderr);
  assertEquals([...Deno.readDirSync(dirHost)].map((e) => e.name).sort(), [
    "rootimg",
    "rootimg.cpio.gz",
  ]);
  equal(Deno.readTextFileSync(`${dirHost}/rootimg.cpio.gz`), "previous image\n");
});

Deno.test("synclists are copied into the image before packing; --nosyncfiles skips them", async () => {
  const { t, rootimgHost } = await fixtureImage({ synclists: "/install/custom/img.synclist" });
  await using _ = t;
  const sync = `${t.root}/install/custom/sync`;
  Deno.mkdirSync(`${sync}/conf.d`, { recursive: true });
  Deno.writeTextFileSync(`${sync}/hosts`, "10.0.0.1 mn\n");
  Deno.writeTextFileSync(`${sync}/conf.d/a.conf`, "a\n");
  Deno.writeTextFileSync(`${sync}/extra-passwd`, "alice:x:1000:1000::/home/alice:/bin/sh\n");
  Deno.writeTextFileSync(
    `${t.root}/install/custom/img.synclist`,
    [
      "/install/custom/sync/hosts -> /etc/hosts",
      "/install/custom/sync/conf.d -> /etc/conf.d",
      "/install/custom/sync/hosts -> (node1) /etc/node-only",
      "EXECUTE:",
      "/install/custom/sync/post.sh",
      "MERGE:",
      "/install/custom/sync/extra-passwd -> /etc/passwd",
    ].join("\n"),
  );
  await t.ok(["packimage", "--nosyncfiles", "img"]);
  ok(!(await Deno.lstat(`${rootimgHost}/etc/hosts`).then(() => true, () => false)));
  const result = await t.ok(["packimage", "img"]);
  ok(result.stderr.includes("runs on nodes, not in an image"), result.stderr);
  equal(Deno.readTextFileSync(`${rootimgHost}/etc/hosts`), "10.0.0.1 mn\n");
  equal(Deno.readTextFileSync(`${rootimgHost}/etc/conf.d/a.conf`), "a\n");
  equal(
    Deno.readTextFileSync(`${rootimgHost}/etc/passwd`),
    "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
  );
  ok(!(await Deno.lstat(`${rootimgHost}/etc/node-only`).then(() => true, () => false)));
});

Deno.test("synclist APPEND is refused before anything changes", async () => {
  const { t, rootimgHost, dirHost } = await fixtureImage({ synclists: "/install/s.synclist" });
  await using _ = t;
  Deno.writeTextFileSync(`${t.root}/install/hosts`, "x\n");
  Deno.writeTextFileSync(
    `${t.root}/install/s.synclist`,
    "/install/hosts -> /etc/hosts\nAPPEND:\n/install/hosts -> /etc/profile\n",
  );
  const before = await listTree(rootimgHost);
  const result = await t.run(["packimage", "img"]);
  equal(result.status, 1);
  ok(result.stderr.includes("line 3: APPEND is not supported"), result.stderr);
  assertEquals(await listTree(rootimgHost), before);
  assertEquals([...Deno.readDirSync(dirHost)].map((e) => e.name), ["rootimg"]);
});

Deno.test("packimage errors: provmethod, missing name, missing rootimg, bad method", async () => {
  const t = await testRoot();
  await using _ = t;
  await defineImage(t.root, "inst", { provmethod: "install" });
  await defineImage(t.root, "norootimg");
  let result = await t.run(["packimage", "inst"]);
  equal(result.status, 1);
  equal(
    result.stderr,
    "Error: 'inst' cannot be used to build diskless image. Make sure osimage.provmethod is 'netboot'.\n",
  );
  result = await t.run(["packimage"]);
  equal(result.status, 2);
  ok(result.stderr.includes("An image name is required, use 'packimage <osimage name>'."));
  result = await t.run(["packimage", "norootimg"]);
  equal(result.status, 1);
  ok(result.stderr.includes("/install/netboot/test/x86_64/norootimg/rootimg' does not exist"));
  result = await t.run(["packimage", "-m", "zip", "norootimg"]);
  equal(result.status, 2);
  ok(result.stderr.includes("Invalid archive method 'zip' requested"), result.stderr);
  result = await t.run(["packimage", "norootimg"], { env: { SOURCE_DATE_EPOCH: "yesterday" } });
  equal(result.status, 2);
  ok(result.stderr.includes("SOURCE_DATE_EPOCH must be whole seconds"), result.stderr);
  result = await t.run(["packimage", "nosuch"]);
  equal(result.status, 1);
  ok(result.stderr.includes("Could not find an object named 'nosuch' of type 'osimage'."));
});

Deno.test("packimage -o -p -a: says it is obsolete, then packs the netboot image it names", async () => {
  const t = await testRoot();
  await using _ = t;
  const { rootimgHost, dirHost } = await defineImage(t.root, "rh9-compute", {
    osvers: "rhels9",
    profile: "compute",
  });
  await defineRows(t.root, {
    osimage: [{
      imagename: "rh9-install",
      provmethod: "install",
      osvers: "rhels9",
      profile: "compute",
      osarch: "x86_64",
    }],
  });
  Deno.mkdirSync(`${rootimgHost}/etc`, { recursive: true });
  const result = await t.ok(["packimage", "-o", "rhels9", "-p", "compute", "-a", "x86_64"]);
  ok(result.stderr.includes("-o, -p and -a options are obsoleted"), result.stderr);
  ok(Deno.statSync(`${dirHost}/rootimg.cpio.gz`).isFile);
  const missing = await t.run(["packimage", "-o", "rhels8", "-p", "compute", "-a", "x86_64"]);
  equal(missing.status, 1);
  ok(missing.stderr.includes("No netboot osimage has osvers=rhels8"), missing.stderr);
});

Deno.test("hostile synclist: a destination through a symlink leading out of the image is refused", async () => {
  const { t, rootimgHost } = await fixtureImage({ synclists: "/install/evil.synclist" });
  await using _ = t;
  const outside = `${t.root}/outside`;
  Deno.mkdirSync(outside);
  Deno.symlinkSync(outside, `${rootimgHost}/etc/escape`);
  Deno.writeTextFileSync(`${t.root}/install/payload`, "payload\n");
  Deno.writeTextFileSync(
    `${t.root}/install/evil.synclist`,
    "/install/payload -> /etc/fine\n/install/payload -> /etc/escape/pwned\n",
  );
  const before = await listTree(rootimgHost);
  const result = await t.run(["packimage", "img"]);
  equal(result.status, 1);
  ok(result.stderr.includes("leads outside the image through a symbolic link"), result.stderr);
  assertEquals([...Deno.readDirSync(outside)], []);
  assertEquals(await listTree(rootimgHost), before, "not even the first, harmless line applied");
});

Deno.test("one file system: a mount inside the rootimg is listed, its contents are not (find -xdev)", async () => {
  const { t, rootimgHost, dirHost } = await fixtureImage();
  await using _ = t;
  const mountPoint = `${rootimgHost}/proc`;
  Deno.mkdirSync(mountPoint);
  await sh(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
  let cpioNames: string[];
  let squashNames: string[];
  try {
    Deno.writeTextFileSync(`${mountPoint}/cpuinfo`, "not for the image\n");
    await t.ok(["packimage", "img"]);
    cpioNames = (await pipeline(`gzip -dc '${dirHost}/rootimg.cpio.gz' | cpio -it --quiet`))
      .split("\n");
    await t.ok(["packimage", "-m", "squashfs", "img"]);
    squashNames = (await sh(["unsquashfs", "-l", "-d", "", `${dirHost}/rootimg.sfs`])).split("\n");
  } finally {
    await sh(["umount", mountPoint]);
  }
  ok(cpioNames.includes("proc") && !cpioNames.includes("proc/cpuinfo"), cpioNames.join(","));
  ok(squashNames.includes("/proc") && !squashNames.includes("/proc/cpuinfo"));
});
