// Tests for imgexport: layout and manifest per provmethod, GNU tar/sha256sum read-back, reproducibility, errors.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { snapshotTree, testRoot } from "../../testdata/support/testing.ts";
import { hostPath } from "../paths.ts";
import { parseManifest } from "../../formats/xcat/manifest_xml.ts";
import { MANIFEST_COLUMNS } from "../store/schema.ts";
import { planExport, writeBundle } from "./bundle_export.ts";
import { silentReporter } from "../reporter.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";
import { systemRunner } from "../process.ts";
import { DEFAULT_DB } from "../../main.ts";
import {
  buildFixture,
  FIXTURE_FILES,
  INSTALL,
  KIT,
  NETBOOT,
  NETBOOT_DIR,
  setTimes,
  STATELITE,
  STATELITE_DIR,
} from "../../testdata/support/bundle_export_fixture.ts";
import { runTool } from "../../testdata/support/process.ts";

async function fixtureRoot() {
  const t = await testRoot();
  await buildFixture(t.root);
  return t;
}

/** `tar tzvf` lines as [mode/owner column, name]. */
async function tarListing(bundle: string, flag = "-z"): Promise<string[]> {
  const listing = await runTool("tar", [flag, "-tvf", bundle]);
  assertEquals(listing.code, 0, listing.stderr);
  return listing.stdout.trimEnd().split("\n");
}

async function extract(bundle: string, into: string, flag = "-z"): Promise<void> {
  await Deno.mkdir(into, { recursive: true });
  const result = await runTool("tar", [flag, "-xf", bundle, "-C", into]);
  assertEquals(result.code, 0, result.stderr);
}

async function sha256sumCheck(dir: string): Promise<void> {
  const result = await runTool("sha256sum", ["-c", "--strict", "SHA256SUMS"], { cwd: dir });
  assertEquals(result.code, 0, result.stdout + result.stderr);
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

const EXTRAS = ["-e", "/install/postscripts/myscript1", "-e", "/tmp/mydir:/usr/mydir"];

Deno.test("netboot export with -e file/dir and -p: xCAT layout, manifest, GNU tar and sha256sum read it", async () => {
  await using t = await fixtureRoot();
  const output = await t.ok(["imgexport", NETBOOT, ...EXTRAS, "-p", "cn1", "-v"]);
  ok(output.stdout.startsWith(`Exporting ${NETBOOT} to ${t.root}/${NETBOOT}.tgz...\n`));
  ok(output.stdout.endsWith("Done!\n"));
  ok(output.stdout.includes(`${NETBOOT_DIR}/kernel\n`), "verbose lists the files");
  ok(output.stderr.includes("nfsrootopts"), "dropping nfsrootopts is announced");
  const bundle = `${t.root}/${NETBOOT}.tgz`;

  const lines = await tarListing(bundle);
  const names = lines.map((line) => line.split(/\s+/).slice(5).join(" "));
  assertEquals(names.slice(0, 3), [
    `${NETBOOT}/manifest.xml`,
    `${NETBOOT}/SHA256SUMS`,
    `${NETBOOT}/`,
  ]);
  for (const line of lines) ok(line.split(/\s+/)[1] === "root/root", line);
  assertEquals(names.slice(3), [
    `${NETBOOT}/compute.otherpkgs.pkglist`,
    `${NETBOOT}/compute.rhels8.x86_64.exlist`,
    `${NETBOOT}/compute.rhels8.x86_64.pkglist`,
    `${NETBOOT}/compute.rhels8.x86_64.postinstall`,
    `${NETBOOT}/compute.synclist`,
    `${NETBOOT}/extra/`,
    `${NETBOOT}/extra/myscript1`,
    `${NETBOOT}/extra/tmp/`,
    `${NETBOOT}/extra/tmp/mydir/`,
    `${NETBOOT}/extra/tmp/mydir/a.conf`,
    `${NETBOOT}/extra/tmp/mydir/sub/`,
    `${NETBOOT}/extra/tmp/mydir/sub/b.conf`,
    `${NETBOOT}/initrd-stateless.gz`,
    `${NETBOOT}/kernel`,
    `${NETBOOT}/rootimg.cpio.gz`,
  ]);
  ok(lines.find((line) => line.endsWith("extra/myscript1"))!.startsWith("-rwxr-xr-x"));

  const out = `${t.root}/out`;
  await extract(bundle, out);
  const imageDir = `${out}/${NETBOOT}`;
  await sha256sumCheck(imageDir);
  const sums = await Deno.readTextFile(`${imageDir}/SHA256SUMS`);
  assertEquals(sums.split("\n").filter(Boolean).length, 12, "every file but SHA256SUMS");
  ok(sums.includes("  manifest.xml\n"));
  assertEquals(
    await Deno.readFile(`${imageDir}/rootimg.cpio.gz`),
    FIXTURE_FILES[`${NETBOOT_DIR}/rootimg.cpio.gz`],
  );
  assertEquals(
    await Deno.readTextFile(`${imageDir}/extra/tmp/mydir/sub/b.conf`),
    FIXTURE_FILES["/tmp/mydir/sub/b.conf"],
  );

  const manifest = parseManifest(
    await Deno.readTextFile(`${imageDir}/manifest.xml`),
    MANIFEST_COLUMNS,
  );
  assertEquals(manifest.osimage.nfsrootopts, undefined, "a column released xCAT lacks");
  assertEquals(manifest.osimage.synclists, "/install/custom/netboot/rh/compute.synclist");
  assertEquals(manifest.kernel, `${NETBOOT_DIR}/kernel`);
  assertEquals(manifest.ramdisk, `${NETBOOT_DIR}/initrd-stateless.gz`);
  assertEquals(manifest.rootimg, `${NETBOOT_DIR}/rootimg.cpio.gz`);
  assertEquals(manifest.rootimgtree, undefined, "xCAT's bundle has no root tree");
  assertEquals(manifest.postscripts, "syslog,remoteshell,syncfiles,myscript1");
  assertEquals(manifest.postbootscripts, "otherpkgs");
  assertEquals(manifest.extra, [
    { src: "/install/postscripts/myscript1", dest: "/install/postscripts" },
    { src: "/tmp/mydir", dest: "/usr/mydir" },
  ]);
  // bsdtar agrees on the content.
  const bsd = await runTool("bsdtar", ["-tf", bundle]);
  assertEquals(bsd.code, 0, bsd.stderr);
});

Deno.test("statelite export: rootimgtree.gz is gzip'd cpio newc of rootimg/, litefile.csv as xCAT writes it", async () => {
  await using t = await fixtureRoot();
  const output = await t.ok(["imgexport", STATELITE, "out.tgz"]);
  ok(output.stdout.includes("Getting litefile settings\n"));
  const out = `${t.root}/x`;
  await extract(`${t.root}/out.tgz`, out);
  const imageDir = `${out}/${STATELITE}`;
  await sha256sumCheck(imageDir);
  assertEquals(await listDir(imageDir), [
    "SHA256SUMS",
    "compute.rhels8.x86_64.pkglist",
    "initrd-statelite.gz",
    "kernel",
    "litefile.csv",
    "manifest.xml",
    "rootimgtree.gz",
  ]);
  assertEquals(
    await Deno.readTextFile(`${imageDir}/litefile.csv`),
    `"${STATELITE}","/etc/adjtime","tmpfs",,\n` +
      `"${STATELITE}","/etc/ssh/","tmpfs",,\n` +
      `"${STATELITE}","/var/log/","persistent",,\n`,
  );
  const gzipTest = await runTool("gzip", ["-t", `${imageDir}/rootimgtree.gz`]);
  assertEquals(gzipTest.code, 0, gzipTest.stderr);
  const tree = `${out}/tree`;
  await Deno.mkdir(tree);
  const cpio = await runTool("sh", [
    "-c",
    `gzip -dc '${imageDir}/rootimgtree.gz' | cpio -idm --quiet && find . | LC_ALL=C sort`,
  ], { cwd: tree });
  assertEquals(cpio.code, 0, cpio.stderr);
  assertEquals(cpio.stdout.split("\n").filter(Boolean), [
    ".",
    "./rootimg",
    "./rootimg/etc",
    "./rootimg/etc/adjtime",
    "./rootimg/etc/fstab",
    "./rootimg/etc/fstab.hardlink",
    "./rootimg/etc/mtab",
  ]);
  assertEquals(await Deno.readLink(`${tree}/rootimg/etc/mtab`), "/etc/fstab");
  const fstab = await Deno.stat(`${tree}/rootimg/etc/fstab`);
  assertEquals(fstab.nlink, 2, "the hard link survives");
  assertEquals(
    await Deno.readTextFile(`${tree}/rootimg/etc/fstab`),
    FIXTURE_FILES[`${STATELITE_DIR}/rootimg/etc/fstab`],
  );
  const manifest = parseManifest(
    await Deno.readTextFile(`${imageDir}/manifest.xml`),
    MANIFEST_COLUMNS,
  );
  assertEquals(manifest.rootimgtree, `${STATELITE_DIR}/rootimgtree.gz`);
  assertEquals(manifest.litefile, `${STATELITE_DIR}/litefile.csv`);
  assertEquals(manifest.ramdisk, `${STATELITE_DIR}/initrd-statelite.gz`);
  assertEquals(manifest.rootimg, undefined);
});

Deno.test("install export with a kit: media=required, kit rows by name, the whole kit directory", async () => {
  await using t = await fixtureRoot();
  const noDir = await t.run(["imgexport", INSTALL, "bundles/"]);
  assertEquals(noDir.status, 1);
  ok(noDir.stderr.includes("bundles/' does not exist"), noDir.stderr);
  await Deno.mkdir(`${t.root}/bundles`);
  await t.ok(["imgexport", INSTALL, "bundles/"]);
  const bundle = `${t.root}/bundles/${INSTALL}.tgz`;
  const out = `${t.root}/x`;
  await extract(bundle, out);
  const imageDir = `${out}/${INSTALL}`;
  await sha256sumCheck(imageDir);
  assertEquals(await listDir(imageDir), [
    "SHA256SUMS",
    "compute.rhels8.pkglist",
    "compute.rhels8.tmpl",
    "manifest.xml",
    KIT,
  ]);
  assertEquals(await Deno.readLink(`${imageDir}/${KIT}/repos/kit.conf.link`), "../kit.conf");
  const text = await Deno.readTextFile(`${imageDir}/manifest.xml`);
  ok(text.includes(`  <kit>\n    <${KIT}>\n`), "element-per-name kit encoding (§8.2)");
  const manifest = parseManifest(text, MANIFEST_COLUMNS);
  assertEquals(manifest.media, "required");
  assertEquals(Object.keys(manifest.kit), [KIT]);
  assertEquals(Object.keys(manifest.kitrepo), [KIT]);
  assertEquals(Object.keys(manifest.kitcomp).sort(), [
    "xlc.compiler-compute-13.1.6-0-rhels-7-x86_64",
    "xlc.rte-compute-13.1.6-0-rhels-7-x86_64",
  ]);
  assertEquals(manifest.linuximage.partitionfile, "/install/custom/my.partition");
});

Deno.test("reproducible: same bytes twice, at another time, and with SOURCE_DATE_EPOCH", async () => {
  await using t = await fixtureRoot();
  const args = ["imgexport", NETBOOT, ...EXTRAS, "-p", "cn1"];
  await t.ok([...args, "a.tgz"]);
  await t.ok([...args, "b.tgz"]);
  const a = await Deno.readFile(`${t.root}/a.tgz`);
  assertEquals(await Deno.readFile(`${t.root}/b.tgz`), a);
  // gzip header: no name flag, mtime 0.
  assertEquals([...a.subarray(0, 8)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);

  const env = { SOURCE_DATE_EPOCH: "1600000000" };
  await t.ok([...args, "c.tgz"], { env });
  await setTimes(t.root, 1_750_000_000); // touched, content unchanged
  await t.ok([...args, "d.tgz"], { env });
  const c = await Deno.readFile(`${t.root}/c.tgz`);
  assertEquals(await Deno.readFile(`${t.root}/d.tgz`), c);
  ok(!a.every((byte, index) => byte === c[index]), "the epoch changes the bytes");
  for (const line of await tarListing(`${t.root}/c.tgz`)) {
    ok(line.includes("2020-09-13 12:26"), line);
  }
  await t.ok([...args, "e.tgz"], { env: { SOURCE_DATE_EPOCH: "1500000000" } });
  await t.ok([...args, "f.tgz"], { env: { SOURCE_DATE_EPOCH: "1500000000" } });
  assertEquals(
    await Deno.readFile(`${t.root}/e.tgz`),
    await Deno.readFile(`${t.root}/f.tgz`),
  );
});

Deno.test("--compress zstd, xz and none give bundles the real tools read", async () => {
  await using t = await fixtureRoot();
  for (
    const [kind, flag] of [["zstd", "--zstd"], ["xz", "-J"], ["none", "--no-auto-compress"]]
  ) {
    await t.ok(["imgexport", INSTALL, "--compress", kind!]);
    const name = { zstd: ".tar.zst", xz: ".tar.xz", none: ".tar" }[kind as "zstd"];
    const bundle = `${t.root}/${INSTALL}${name}`;
    const names = (await tarListing(bundle, flag!)).map((line) => line.split(/\s+/).pop());
    assertEquals(names[0], `${INSTALL}/manifest.xml`);
    const out = `${t.root}/x-${kind}`;
    await extract(bundle, out, flag!);
    await sha256sumCheck(`${out}/${INSTALL}`);
  }
  const bad = await t.run(["imgexport", INSTALL, "--compress", "lz4"]);
  assertEquals(bad.status, 2);
});

Deno.test("errors leave no output: missing file, duplicate basename, bad -e, unknown image", async () => {
  await using t = await fixtureRoot();
  const before = await listDir(t.root);
  const cases: [string[], RegExp][] = [
    [["imgexport", "nosuch"], /Cannot find image 'nosuch' from the osimage table\./],
    [
      ["imgexport", NETBOOT, "-e", "/install/postscripts/myscript1", "-e", "/tmp/other/myscript1"],
      /\/install\/postscripts\/myscript1 and \/tmp\/other\/myscript1 would both be stored as/,
    ],
    [["imgexport", NETBOOT, "-e", "/tmp/nothing"], /Can not find Extra file \/tmp\/nothing/],
    [["imgexport", NETBOOT, "-e", "relative/x"], /absolute management-node paths/],
    [["imgexport", NETBOOT, "-p", "nonode"], /nonode is not a valide node/],
    [["imgexport", NETBOOT, "no/such/dir/x.tgz"], /does not exist/],
  ];
  for (const [args, pattern] of cases) {
    const result = await t.run(args);
    assertEquals(result.status, 1, args.join(" "));
    ok(pattern.test(result.stderr), `${args.join(" ")}: ${result.stderr}`);
  }
  await Deno.remove(hostPath(t.root, `${NETBOOT_DIR}/initrd-stateless.gz`));
  const missing = await t.run(["imgexport", NETBOOT]);
  assertEquals(missing.status, 1);
  ok(missing.stderr.includes("Couldn't find ramdisk (initrd-stateless.gz) for  "), missing.stderr);
  await Deno.remove(hostPath(t.root, "/install/custom/netboot/rh/compute.synclist"));
  const synclist = await t.run(["imgexport", STATELITE, "-e", "/tmp/mydir"]);
  assertEquals(synclist.status, 0, synclist.stderr);
  await Deno.remove(`${t.root}/${STATELITE}.tgz`);
  await Deno.writeTextFile(hostPath(t.root, `${NETBOOT_DIR}/initrd-stateless.gz`), "x");
  const gone = await t.run(["imgexport", NETBOOT]);
  ok(/compute\.synclist \(osimage\.synclists\) is missing or unreadable/.test(gone.stderr));
  assertEquals(await listDir(t.root), before, "no bundle and no temporary file was left");
});

Deno.test("a file that changes between checksum and archive fails the export and leaves nothing", async () => {
  await using t = await fixtureRoot();
  let plan: Awaited<ReturnType<typeof planExport>> | undefined;
  const store = openSqliteStore(hostPath(t.root, DEFAULT_DB));
  try {
    // planExport needs only the root, the cwd, the store and the reporter of a context.
    const ctx = {
      root: t.root,
      cwd: t.root,
      store: () => Promise.resolve(store),
      reporter: silentReporter,
    } as unknown as Parameters<typeof planExport>[0];
    plan = await planExport(ctx, { image: INSTALL });
  } finally {
    store.close();
  }
  const target = plan.members.find((member) => member.entry.path.endsWith(".tmpl"))!;
  const host = (target.source as { hostPath: string }).hostPath;
  let calls = 0;
  const original = target.entry;
  if (original.kind !== "file") throw new Error("fixture");
  target.entry = {
    ...original,
    content: {
      size: original.content.size,
      async *open() {
        calls++;
        // Second read (the archive pass) sees other bytes of the same size.
        if (calls === 2) await Deno.writeTextFile(host, "#KICKSTART\n");
        yield* original.content.open();
      },
    },
  };
  let message = "";
  try {
    await writeBundle(systemRunner, plan, `${t.root}/changed.tgz`, "gzip");
  } catch (error) {
    message = (error as Error).message;
  }
  ok(/compute\.rhels8\.tmpl changed while it was being exported/.test(message), message);
  assertEquals((await listDir(t.root)).filter((name) => name.startsWith("changed")), []);
});

/** The rows of `image` in the root's DB (definition tables only). */
async function definition(root: string, image: string): Promise<Record<string, unknown>> {
  const store = openSqliteStore(hostPath(root, DEFAULT_DB));
  try {
    return await store.read(async (reader) => ({
      osimage: await reader.rows("osimage", { imagename: image }),
      linuximage: await reader.rows("linuximage", { imagename: image }),
      litefile: await reader.rows("litefile", { image }),
    }));
  } finally {
    store.close();
  }
}

Deno.test("round trip: our bundles import into a fresh root with identical definitions and files", async () => {
  await using source = await fixtureRoot();
  await using target = await testRoot();
  await Deno.mkdir(hostPath(target.root, "/install/rhels8.8.0/x86_64"), { recursive: true });
  await source.ok(["imgexport", NETBOOT, ...EXTRAS, "-p", "cn1", "n.tgz"]);
  await source.ok(["imgexport", STATELITE, "s.tgz"]);
  await source.ok(["imgexport", INSTALL, "i.tgz"]);
  for (const [image, bundle] of [[NETBOOT, "n.tgz"], [STATELITE, "s.tgz"], [INSTALL, "i.tgz"]]) {
    const imported = await target.ok([
      "imgimport",
      `${source.root}/${bundle}`,
      "--allow-path",
      "/usr/mydir",
    ]);
    ok(imported.stdout.includes(`Successfully imported the image ${image}.`), imported.stdout);
  }
  const expected = await definition(source.root, NETBOOT);
  delete (expected.osimage as Record<string, string>[])[0]!.nfsrootopts; // not for xCAT
  assertEquals(await definition(target.root, NETBOOT), expected);
  assertEquals(await definition(target.root, INSTALL), await definition(source.root, INSTALL));
  const lite = await definition(target.root, STATELITE);
  assertEquals(lite.osimage, (await definition(source.root, STATELITE)).osimage);
  assertEquals(
    (lite.litefile as Record<string, string>[]).map((row) => `${row.file} ${row.options}`).sort(),
    // The bundle relabels the ALL rows as the image's own (xCAT's make_bundle); the fresh root
    // has no ALL rows for the import to skip them against.
    ["/etc/adjtime tmpfs", "/etc/ssh/ tmpfs", "/var/log/ persistent"],
  );
  for (const [path, content] of Object.entries(FIXTURE_FILES)) {
    if (path.startsWith("/tmp/") || path.includes("/rootimg/") || path.includes("/kits/")) {
      continue;
    }
    const written = hostPath(target.root, path);
    assertEquals(
      typeof content === "string" ? await Deno.readTextFile(written) : await Deno.readFile(written),
      content,
      path,
    );
  }
  assertEquals(
    await Deno.readTextFile(hostPath(target.root, "/usr/mydir/sub/b.conf")),
    FIXTURE_FILES["/tmp/mydir/sub/b.conf"],
  );
  const tree = (root: string) => snapshotTree(hostPath(root, `${STATELITE_DIR}/rootimg`));
  assertEquals(await tree(target.root), await tree(source.root));
  const kit = (root: string) => snapshotTree(hostPath(root, `/install/kits/${KIT}`));
  assertEquals(await kit(target.root), await kit(source.root));
});

Deno.test("extras a bundle cannot carry are refused before writing: escaping symlink, FIFO", async () => {
  await using t = await fixtureRoot();
  const before = await listDir(t.root);
  await Deno.mkdir(hostPath(t.root, "/tmp/links"));
  await Deno.writeTextFile(hostPath(t.root, "/tmp/links/ok"), "ok\n");
  await Deno.symlink("/etc/passwd", hostPath(t.root, "/tmp/links/passwd"));
  const escaping = await t.run(["imgexport", NETBOOT, "-e", "/tmp/links"]);
  assertEquals(escaping.status, 1);
  ok(
    escaping.stderr.includes("/tmp/links/passwd -> /etc/passwd points outside the bundle"),
    escaping.stderr,
  );
  await Deno.remove(hostPath(t.root, "/tmp/links/passwd"));
  const fifo = await runTool("mkfifo", [hostPath(t.root, "/tmp/links/pipe")]);
  assertEquals(fifo.code, 0, fifo.stderr);
  const refused = await t.run(["imgexport", NETBOOT, "-e", "/tmp/links"]);
  assertEquals(refused.status, 1);
  ok(refused.stderr.includes("/tmp/links/pipe is a device node or FIFO"), refused.stderr);
  await Deno.mkdir(hostPath(t.root, "/tmp/empty"));
  const empty = await t.run(["imgexport", NETBOOT, "-e", "/tmp/empty"]);
  assertEquals(empty.status, 1);
  ok(empty.stderr.includes("the extra directory /tmp/empty is empty"), empty.stderr);
  assertEquals(await listDir(t.root), before);
});

Deno.test("bundle members with astral-plane names sort in the walker's UTF-8 byte order", async () => {
  await using t = await fixtureRoot();
  // U+FB01 is one UTF-16 unit (FB01), U+1F600 two (D83D DE00): UTF-16 order puts the emoji
  // first, UTF-8 bytes (EF AC 81 < F0 9F 98 80) and the walker put it last.
  for (const name of ["\u{1F600}.conf", "\uFB01.conf", "z.conf"]) {
    await Deno.writeTextFile(`${t.root}/tmp/mydir/${name}`, `${name}\n`);
  }
  await t.ok(["imgexport", NETBOOT, "-e", "/tmp/mydir:/usr/mydir", "astral.tgz"]);
  const names = (await runTool("tar", ["-tzf", `${t.root}/astral.tgz`])).stdout.split("\n")
    .filter((name) => name.startsWith(`${NETBOOT}/extra/tmp/mydir/`) && !name.includes("sub/"))
    .map((name) => name.slice(`${NETBOOT}/extra/tmp/mydir/`.length));
  assertEquals(names, ["", "a.conf", "z.conf", "\uFB01.conf", "\u{1F600}.conf"]);
});

Deno.test("provider rules: s390x raw and sysclone bundles carry their *.img files, sysclone elsewhere is refused, esx carries no boot files", async () => {
  await using t = await fixtureRoot();
  const store = openSqliteStore(hostPath(t.root, DEFAULT_DB));
  const images: [string, string, string, string][] = [
    ["raw-img", "raw", "rhels7.3", "s390x"],
    ["sysclone-img", "sysclone", "rhels7.3", "s390x"],
    ["sysclone-x86", "sysclone", "rhels7.3", "x86_64"],
    ["esx-img", "netboot", "esxi6.7", "x86_64"],
  ];
  try {
    await store.write(async (writer) => {
      for (const [imagename, provmethod, osvers, osarch] of images) {
        await writer.upsert("osimage", { imagename, provmethod, osvers, osarch, profile: "p" });
        await writer.upsert("linuximage", { imagename });
      }
    });
  } finally {
    store.close();
  }
  for (const dir of ["raw", "sysclone"]) {
    const host = hostPath(t.root, `/install/${dir}/rhels7.3/s390x/p`);
    await Deno.mkdir(host, { recursive: true });
    await Deno.writeTextFile(`${host}/0100.img`, `${dir} disk\n`);
    await Deno.writeTextFile(`${host}/notes.txt`, "not an image\n");
  }
  for (const [image, dir] of [["raw-img", "raw"], ["sysclone-img", "sysclone"]] as const) {
    await t.ok(["imgexport", image, `${image}.tgz`]);
    const listing = await tarListing(`${t.root}/${image}.tgz`);
    ok(listing.some((line) => line.endsWith(`${image}/0100.img`)), listing.join("\n"));
    ok(!listing.some((line) => line.endsWith("notes.txt")), listing.join("\n"));
    await extract(`${t.root}/${image}.tgz`, `${t.root}/out-${image}`);
    const manifest = parseManifest(
      await Deno.readTextFile(`${t.root}/out-${image}/${image}/manifest.xml`),
      MANIFEST_COLUMNS,
    );
    assertEquals(manifest.rawimagefiles, [`/install/${dir}/rhels7.3/s390x/p/0100.img`]);
  }
  const before = await listDir(t.root);
  const refused = await t.run(["imgexport", "sysclone-x86"]);
  assertEquals(refused.status, 1);
  assertEquals(
    refused.stderr,
    "Error: Exporting images with 'provemethod' sysclone is not supported for osarch 'x86_64'\n",
  );
  assertEquals(await listDir(t.root), before, "nothing was written");
  // esx: no pkglist, kernel, initrd or root image is looked for (none exists here).
  await t.ok(["imgexport", "esx-img", "esx.tgz"]);
  await extract(`${t.root}/esx.tgz`, `${t.root}/out-esx`);
  const esx = parseManifest(
    await Deno.readTextFile(`${t.root}/out-esx/esx-img/manifest.xml`),
    MANIFEST_COLUMNS,
  );
  assertEquals([esx.kernel, esx.ramdisk, esx.rootimg, esx.rawimagefiles], [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});
