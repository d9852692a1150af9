// copycds end to end on media folders carrying each family's real metadata files.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { join } from "node:path";
import {
  assertGolden,
  snapshotTree,
  type TestRoot,
  testRoot,
} from "../../testdata/support/testing.ts";
import {
  MEDIA_FIXTURES,
  type MediaFixture,
  writeMediaTree,
} from "../../testdata/support/media_fixture.ts";
import type { Context } from "../context.ts";
import { silentProgress } from "../progress.ts";
import { silentReporter } from "../reporter.ts";
import { systemRunner } from "../process.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";
import type { Store } from "../store/store.ts";
import { copycds } from "./copycds.ts";
import { openDirectoryMedia } from "./directory_media.ts";

const fixture = (label: string): MediaFixture =>
  MEDIA_FIXTURES.find((item) => item.label === label)!;

/** A media folder of `fixture` under the test's root (outside its install dir). */
async function media(t: TestRoot, item: MediaFixture): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: t.root, prefix: "media-" });
  return await writeMediaTree(dir, item);
}

/** The media folder's listing without its own name: what the copy must equal. */
async function tables(t: TestRoot): Promise<string> {
  let text = "";
  for (const table of ["osdistro", "osimage", "linuximage"]) {
    text += (await t.ok(["tabdump", table])).stdout;
  }
  return text;
}

/** The state "nothing changed" is judged by: every file under the root but the media folders, and the tables. */
async function state(t: TestRoot): Promise<{ tree: string[]; tables: string }> {
  // The tables first: reading them creates the database the first time.
  const rows = await tables(t);
  const tree = (await snapshotTree(t.root)).filter((line) => !/^. media-/.test(line));
  return { tree, tables: rows };
}

for (const item of MEDIA_FIXTURES) {
  Deno.test(`copycds names ${item.label} as xCAT does and copies it whole`, async () => {
    await using t = await testRoot();
    const dir = await media(t, item);
    const inspection = await t.ok(["copycds", "-i", dir]);
    assertEquals(
      inspection.stdout,
      `OS Image:${dir}\nDISTNAME:${item.distname}\nARCH:${item.arch}\n` +
        (item.discno ? `DISCNO:${item.discno}\n` : ""),
    );
    const copy = await t.ok(["copycds", dir]);
    const destination = `/install/${item.distname}/${item.arch}` +
      (item.distname.startsWith("sle") ? `/${item.discno}` : "");
    assertEquals(
      copy.stdout,
      `Copying media to ${destination}\nMedia copy operation successful\n`,
    );
    const copied = await snapshotTree(join(t.root, destination));
    const source = await snapshotTree(dir);
    assertEquals(copied, source);
    // Modes and mtimes come along (snapshotTree compares modes, not times).
    assertEquals(
      (await Deno.stat(join(t.root, destination, "EULA"))).mtime?.getTime(),
      1_700_000_000_000,
    );
    assertEquals(
      (await Deno.lstat(join(t.root, destination, "isolinux"))).mode! & 0o7777,
      0o555,
    );
    const osdistro = (await t.ok(["tabdump", "osdistro"])).stdout;
    ok(osdistro.includes(`"${item.distname}-${item.arch}"`), osdistro);
    const images = (await t.ok(["lsdef", "-t", "osimage", "-s"])).stdout;
    ok(images.includes(`${item.distname}-${item.arch}-netboot-compute`), images);
    ok(images.includes(`${item.distname}-${item.arch}-install-compute`), images);
    const statelite = images.includes(`${item.distname}-${item.arch}-statelite-compute`);
    // Debian and Ubuntu get install and netboot images only, as in xCAT.
    assertEquals(statelite, !/^(ubuntu|debian)/.test(item.distname));
  });
}

Deno.test("copycds of every family: osdistro rows and default osimages (golden tabdump)", async () => {
  await using t = await testRoot();
  for (const item of MEDIA_FIXTURES) await t.ok(["copycds", await media(t, item)]);
  await assertGolden("copycds_tables.csv", await tables(t));
  const lsdef = await t.ok([
    "lsdef",
    "-t",
    "osimage",
    "-o",
    "rhels9.2-x86_64-install-compute,rhels9.2-x86_64-netboot-compute,sle15.5-x86_64-statelite-compute,ubuntu22.04.3-x86_64-install-compute",
  ]);
  await assertGolden("copycds_lsdef.txt", lsdef.stdout);
});

Deno.test("the default files the osimages point at are written, executable where they run", async () => {
  await using t = await testRoot();
  await t.ok(["copycds", await media(t, fixture("Rocky 9.3"))]);
  const lsdef = (await t.ok(["lsdef", "-t", "osimage", "-o", "rocky9.3-x86_64-netboot-compute"]))
    .stdout;
  for (const attribute of ["pkglist", "exlist", "postinstall"]) {
    const path = new RegExp(`\\s${attribute}=(\\S+)`).exec(lsdef)![1]!;
    const info = await Deno.stat(join(t.root, path));
    ok(info.isFile && info.size > 0, path);
    assertEquals((info.mode! & 0o111) !== 0, attribute === "postinstall", path);
  }
  const pkglist = await Deno.readTextFile(
    join(t.root, "/opt/xcat/share/xcat/netboot/rocky/compute.rocky9.x86_64.pkglist"),
  );
  ok(/^dracut-network$/m.test(pkglist) && /^nfs-utils$/m.test(pkglist), pkglist);
  const template = await Deno.readTextFile(
    join(t.root, "/opt/xcat/share/xcat/install/rocky/compute.rocky9.tmpl"),
  );
  ok(template.includes("#INCLUDE_DEFAULT_PKGLIST#"), template);
});

Deno.test("a file in <installdir>/custom wins over osimg's own, and an existing shipped file is kept", async () => {
  await using t = await testRoot();
  const custom = join(t.root, "install/custom/netboot/rh/compute.rhels9.x86_64.pkglist");
  await Deno.mkdir(join(custom, ".."), { recursive: true });
  await Deno.writeTextFile(custom, "bash\n");
  const shipped = join(t.root, "opt/xcat/share/xcat/netboot/rh/compute.rhels9.x86_64.exlist");
  await Deno.mkdir(join(shipped, ".."), { recursive: true });
  await Deno.writeTextFile(shipped, "./usr/share/doc*\n");
  await t.ok(["copycds", await media(t, fixture("RHEL 9.2"))]);
  const lsdef = (await t.ok(["lsdef", "-t", "osimage", "-o", "rhels9.2-x86_64-netboot-compute"]))
    .stdout;
  ok(lsdef.includes("pkglist=/install/custom/netboot/rh/compute.rhels9.x86_64.pkglist"), lsdef);
  ok(lsdef.includes("exlist=/opt/xcat/share/xcat/netboot/rh/compute.rhels9.x86_64.exlist"), lsdef);
  assertEquals(await Deno.readTextFile(shipped), "./usr/share/doc*\n");
});

Deno.test("copycds -i copies nothing and ignores -n and -a with xCAT's warnings", async () => {
  await using t = await testRoot();
  const dir = await media(t, fixture("Alma 9.3"));
  const before = await state(t);
  const output = await t.ok(["copycds", "-i", "-n", "rhels9.9", "-a", "ppc64le", dir]);
  ok(output.stdout.includes("DISTNAME:alma9.3\nARCH:x86_64\n"), output.stdout);
  assertEquals(
    output.stderr,
    "Warning: copycds: option --inspection specified, argument specified with option --name is ignored\n" +
      "Warning: copycds: option --inspection specified, argument specified with option --arch is ignored\n",
  );
  assertEquals(await state(t), before);
});

Deno.test("copycds -o copies and writes the osdistro row but no osimages", async () => {
  await using t = await testRoot();
  await t.ok(["copycds", "-o", await media(t, fixture("RHEL 9.2"))]);
  ok((await t.ok(["tabdump", "osdistro"])).stdout.includes('"rhels9.2-x86_64"'));
  assertEquals((await t.ok(["tabdump", "osimage"])).stdout.split("\n").length, 2);
  ok((await Deno.stat(join(t.root, "install/rhels9.2/x86_64/.discinfo"))).isFile);
});

Deno.test("a second copycds of the same media copies nothing: files and mtimes untouched", async () => {
  await using t = await testRoot();
  const dir = await media(t, fixture("Rocky 9.3"));
  await t.ok(["copycds", dir]);
  const copied = join(t.root, "install/rocky9.3/x86_64");
  const mtime = (await Deno.stat(join(copied, "images/pxeboot/vmlinuz"))).mtime;
  const inode = (await Deno.stat(copied)).ino;
  const before = await state(t);
  const again = await t.ok(["copycds", dir]);
  assertEquals(
    again.stdout,
    "/install/rocky9.3/x86_64 already holds a copy of this media; nothing copied.\n",
  );
  assertEquals(await state(t), before);
  assertEquals((await Deno.stat(join(copied, "images/pxeboot/vmlinuz"))).mtime, mtime);
  assertEquals((await Deno.stat(copied)).ino, inode);
});

Deno.test("copycds -w refuses media already copied with xCAT's message, changing nothing", async () => {
  await using t = await testRoot();
  const dir = await media(t, fixture("Rocky 9.3"));
  await t.ok(["copycds", dir]);
  await t.ok(["chdef", "-t", "osimage", "-o", "rocky9.3-x86_64-netboot-compute", "exlist="]);
  const before = await state(t);
  const again = await t.ok(["copycds", "-w", dir]);
  assertEquals(again.stdout, "The disc iso has already been copied in!\n");
  assertEquals(await state(t), before);
});

Deno.test("different media for the same osvers replaces the copy whole; the admin's addkcmdline stays", async () => {
  await using t = await testRoot();
  await t.ok(["copycds", await media(t, fixture("Rocky 9.3"))]);
  await t.ok([
    "chdef",
    "-t",
    "osimage",
    "-o",
    "rocky9.3-x86_64-netboot-compute",
    "addkcmdline=console=ttyS0",
  ]);
  const other = await media(t, fixture("Rocky 9.3"));
  await Deno.writeTextFile(join(other, "EXTRA"), "only on the second disc\n");
  await Deno.remove(join(other, "EULA"));
  await t.ok(["copycds", other]);
  assertEquals(
    await snapshotTree(join(t.root, "install/rocky9.3/x86_64")),
    await snapshotTree(other),
  );
  const lsdef =
    (await t.ok(["lsdef", "-t", "osimage", "-o", "rocky9.3-x86_64-netboot-compute"])).stdout;
  ok(lsdef.includes("addkcmdline=console=ttyS0"), lsdef);
  const osdistro = (await t.ok(["tabdump", "osdistro"])).stdout;
  ok(osdistro.includes('"/install/rocky9.3/x86_64",'), osdistro);
});

Deno.test("copycds -p copies to the given directory, warns outside the install dir, and records it", async () => {
  await using t = await testRoot();
  const dir = await media(t, fixture("RHEL 9.2"));
  const inside = await t.ok(["copycds", "-p", "/install/rhel92", dir]);
  assertEquals(inside.stderr, "");
  assertEquals(await snapshotTree(join(t.root, "install/rhel92")), await snapshotTree(dir));
  const outside = await t.ok(["copycds", "-p", "/srv/media/rhel92/", dir]);
  ok(
    outside.stderr.startsWith(
      'Warning: copycds: the specified path "/srv/media/rhel92" is not a subdirectory under /install.',
    ),
    outside.stderr,
  );
  assertEquals(await snapshotTree(join(t.root, "srv/media/rhel92")), await snapshotTree(dir));
  const osdistro = (await t.ok(["tabdump", "osdistro"])).stdout;
  ok(osdistro.includes('"/install/rhel92,/srv/media/rhel92"'), osdistro);
  const lsdef =
    (await t.ok(["lsdef", "-t", "osimage", "-o", "rhels9.2-x86_64-install-compute"])).stdout;
  ok(lsdef.includes("pkgdir=/srv/media/rhel92"), lsdef);
});

Deno.test("copycds -n names the media; -n and -a copy media that has no metadata at all", async () => {
  await using t = await testRoot();
  const named = await t.ok(["copycds", "-n", "rhels9.2-hpc", await media(t, fixture("RHEL 9.2"))]);
  ok(named.stdout.includes("Copying media to /install/rhels9.2-hpc/x86_64"), named.stdout);
  const bare = await Deno.makeTempDir({ dir: t.root, prefix: "media-" });
  await Deno.writeTextFile(join(bare, "README"), "no metadata\n");
  const noArch = await t.run(["copycds", "-n", "rocky9.4", bare]);
  assertEquals(noArch.status, 1);
  assertEquals(
    noArch.stderr,
    "Error: copycds could not identify the ARCH, you may wish to try -a <arch>.\n",
  );
  await t.ok(["copycds", "-n", "rocky9.4", "-a", "aarch64", bare]);
  assertEquals(
    await snapshotTree(join(t.root, "install/rocky9.4/aarch64")),
    await snapshotTree(bare),
  );
  const lsdef =
    (await t.ok(["lsdef", "-t", "osimage", "-o", "rocky9.4-aarch64-netboot-compute"])).stdout;
  ok(
    lsdef.includes("pkglist=/opt/xcat/share/xcat/netboot/rocky/compute.rocky9.aarch64.pkglist"),
    lsdef,
  );
});

Deno.test("a SLE 15 Full disc goes to <osvers>/<arch>/1 with 2 linked to it", async () => {
  await using t = await testRoot();
  await t.ok(["copycds", await media(t, fixture("SLE 15 SP5 Full"))]);
  assertEquals(await Deno.readLink(join(t.root, "install/sle15.5/x86_64/2")), "1");
  const lsdef =
    (await t.ok(["lsdef", "-t", "osimage", "-o", "sle15.5-x86_64-install-compute"])).stdout;
  ok(lsdef.includes("pkgdir=/install/sle15.5/x86_64\n"), lsdef);
});

Deno.test("copycds on Ubuntu/Debian refuses -p and -w as xCAT does, changing nothing", async () => {
  await using t = await testRoot();
  const dir = await media(t, fixture("Ubuntu 24.04"));
  const before = await state(t);
  for (const flags of [["-p", "/install/u"], ["-w"]]) {
    const output = await t.run(["copycds", ...flags, dir]);
    assertEquals(output.status, 1);
    assertEquals(
      output.stderr,
      "Error: copycds on Ubuntu/Debian does not support -p or -w option.\n",
    );
  }
  assertEquals(await state(t), before);
});

Deno.test("unknown media: xCAT's error suggesting -n, nothing copied or defined", async () => {
  await using t = await testRoot();
  const dir = await Deno.makeTempDir({ dir: t.root, prefix: "media-" });
  await Deno.writeTextFile(join(dir, ".discinfo"), "1.0\nSome Other Linux 1.0\nx86_64\n");
  const before = await state(t);
  const output = await t.run(["copycds", dir]);
  assertEquals(output.status, 1);
  assertEquals(
    output.stderr,
    "Error: copycds could not identify the ISO supplied, you may wish to try -n <osver>\n",
  );
  const foreignName = await t.run(["copycds", "-n", "plan9", "-a", "x86_64", dir]);
  assertEquals(foreignName.stderr, output.stderr);
  assertEquals(await state(t), before);
});

Deno.test("an -a that contradicts the media: xCAT's error per family, nothing changed", async () => {
  await using t = await testRoot();
  const cases: [string, string][] = [
    ["Rocky 9.3", "Requested distribution architecture ppc64le, but media is x86_64"],
    ["SLE 15 SP5 Full", "Requested SLES architecture ppc64le, but media is x86_64"],
    ["Debian 12", "Requested Debian architecture ppc64le, but media is x86_64"],
  ];
  for (const [label, message] of cases) {
    const dir = await media(t, fixture(label));
    const before = await state(t);
    const output = await t.run(["copycds", "-a", "ppc64le", dir]);
    assertEquals(output.status, 1, label);
    assertEquals(output.stderr, `Error: ${message}\n`);
    assertEquals(await state(t), before);
  }
  // amd64 is Debian's name for x86_64: not a contradiction.
  await t.ok(["copycds", "-a", "amd64", await media(t, fixture("Debian 12"))]);
});

Deno.test("a disc naming itself '../../etc' is refused before anything is written", async () => {
  await using t = await testRoot();
  const dir = await Deno.makeTempDir({ dir: t.root, prefix: "media-" });
  await Deno.writeTextFile(join(dir, ".discinfo"), "1.0\nRocky Linux 9/../../../etc\nx86_64\n");
  const before = await state(t);
  const output = await t.run(["copycds", dir]);
  assertEquals(output.status, 1);
  ok(
    output.stderr.startsWith("Error: The osvers 'rocky9/../../../etc' of the media"),
    output.stderr,
  );
  assertEquals(await state(t), before);
});

Deno.test("a destination holding files copycds did not copy is refused, not replaced", async () => {
  await using t = await testRoot();
  await Deno.mkdir(join(t.root, "install/rocky9.3/x86_64"), { recursive: true });
  await Deno.writeTextFile(join(t.root, "install/rocky9.3/x86_64/keep"), "mine\n");
  const dir = await media(t, fixture("Rocky 9.3"));
  const before = await state(t);
  const output = await t.run(["copycds", dir]);
  assertEquals(output.status, 1);
  ok(
    output.stderr.startsWith(
      "Error: /install/rocky9.3/x86_64 already holds files that copycds did not copy there.",
    ),
    output.stderr,
  );
  assertEquals(await state(t), before);
});

Deno.test("a copy that fails half way leaves no tree, no record and no rows", async () => {
  await using t = await testRoot();
  const dir = await media(t, fixture("RHEL 9.2"));
  const before = await state(t);
  let store: Store | undefined;
  const ctx: Context = {
    root: t.root,
    dbPath: `${t.root}/etc/xcat/osimg.sqlite`,
    cwd: t.root,
    env: {},
    io: {
      out() {},
      err() {},
      readStdin: () => Promise.resolve(""),
      stdoutIsTerminal: false,
      stderrIsTerminal: false,
    },
    reporter: silentReporter,
    debug: false,
    color: false,
    runner: systemRunner,
    now: () => new Date(),
    store: () => Promise.resolve(store ??= openSqliteStore(`${t.root}/etc/xcat/osimg.sqlite`)),
    progress: () => silentProgress,
  };
  let failure: unknown;
  try {
    await copycds(ctx, [dir], {
      // The media is listed, then a file on it turns into a directory: reading it fails mid-copy.
      openMedia: async (path) => {
        const opened = await openDirectoryMedia(path);
        const file = join(path, "images/pxeboot/initrd.img");
        await Deno.remove(file);
        await Deno.mkdir(file);
        return opened;
      },
    });
  } catch (error) {
    failure = error;
  } finally {
    store?.close();
  }
  ok(failure instanceof Error && /initrd\.img/.test(failure.message), String(failure));
  assertEquals(await state(t), before);
});

Deno.test("leftovers of a killed copycds are cleaned by the next one", async () => {
  await using t = await testRoot();
  const stale = join(t.root, "install/alma9.3/.x86_64.osimg-staging-999999");
  await Deno.mkdir(join(stale, "images"), { recursive: true });
  await Deno.writeTextFile(join(stale, "images/half"), "half a file");
  await t.ok(["copycds", await media(t, fixture("Alma 9.3"))]);
  const names = [...Deno.readDirSync(join(t.root, "install/alma9.3"))].map((entry) => entry.name)
    .sort();
  assertEquals(names, [".x86_64.osimg-media", "x86_64"]);
});

Deno.test("copycds --help prints its usage (golden)", async () => {
  await using t = await testRoot();
  await assertGolden("copycds_usage.txt", (await t.ok(["copycds", "--help"])).stdout);
});
