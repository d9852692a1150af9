import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { existsSync } from "node:fs";
import { snapshotTree, type TestRoot, testRoot } from "../testdata/support/testing.ts";
import { hostPath } from "../core/paths.ts";
import { openSqliteStore } from "../core/store/sqlite_store.ts";
import type { Row } from "../core/store/store.ts";
import { DEFAULT_DB } from "../main.ts";

Deno.test("rmimage removes the image's generated files and, with --xcatdef, its definition", async () => {
  await using t = await testRoot();
  const dir = `${t.root}/install/netboot/rocky9/x86_64/compute`;
  await Deno.mkdir(`${dir}/rootimg/etc`, { recursive: true });
  await Deno.writeTextFile(`${dir}/rootimg/etc/hostname`, "n\n");
  for (const name of ["kernel", "initrd-stateless.gz", "rootimg.cpio.gz", "rootimg.sfs"]) {
    await Deno.writeTextFile(`${dir}/${name}`, name);
  }
  await Deno.writeTextFile(`${dir}/keep.me`, "not generated");
  await Deno.mkdir(`${t.root}/tftpboot/xcat/osimage/img`, { recursive: true });
  await t.ok([
    "mkdef",
    "-t",
    "osimage",
    "-o",
    "img",
    "provmethod=netboot",
    "osvers=rocky9",
    "osarch=x86_64",
    "profile=compute",
  ]);
  const { stdout } = await t.ok(["rmimage", "-V", "img"]);
  ok(stdout.includes("Removed /install/netboot/rocky9/x86_64/compute/rootimg\n"), stdout);
  ok(stdout.includes("Removed /tftpboot/xcat/osimage/img\n"), stdout);
  assertEquals([...Deno.readDirSync(dir)].map((entry) => entry.name), ["keep.me"]);
  assertEquals(existsSync(`${t.root}/tftpboot/xcat/osimage/img`), false);
  assertEquals((await t.ok(["lsdef", "-t", "osimage"])).stdout, "img  (osimage)\n");
  await t.ok(["rmimage", "img", "--xcatdef"]);
  assertEquals(
    (await t.ok(["lsdef", "-t", "osimage"])).stdout,
    "Could not find any object definitions to display.\n",
  );
});

Deno.test("rmimage refuses while something is mounted inside rootimg", async () => {
  await using t = await testRoot();
  const rootimg = `${t.root}/install/netboot/r/x86_64/p/rootimg`;
  await Deno.mkdir(`${rootimg}/proc`, { recursive: true });
  await t.ok([
    "mkdef",
    "-t",
    "osimage",
    "-o",
    "img",
    "provmethod=netboot",
    "osvers=r",
    "osarch=x86_64",
    "profile=p",
  ]);
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "none", `${rootimg}/proc`],
  })
    .output();
  assertEquals(mount.code, 0, "this test needs root to mount a tmpfs");
  try {
    await Deno.writeTextFile(`${rootimg}/proc/precious`, "host data");
    const output = await t.run(["rmimage", "img"]);
    assertEquals(output.status, 1);
    ok(output.stderr.includes("is mounted inside its rootimg"), output.stderr);
    assertEquals(await Deno.readTextFile(`${rootimg}/proc/precious`), "host data");
  } finally {
    await new Deno.Command("umount", { args: [`${rootimg}/proc`] }).output();
  }
});

Deno.test("rmimage of an unknown image fails with xCAT's message", async () => {
  await using t = await testRoot();
  const output = await t.run(["rmimage", "nosuch"]);
  assertEquals(output.status, 1);
  assertEquals(
    output.stderr,
    "Error: Could not find an object named 'nosuch' of type 'osimage'.\n",
  );
});

/** Writes rows straight into the store, as an older osimg or a tabrestore from xCAT could have. */
async function insertRows(t: TestRoot, rows: Record<string, Row[]>): Promise<void> {
  await t.ok(["tabdump", "site"]); // creates the database
  const store = openSqliteStore(hostPath(t.root, DEFAULT_DB));
  try {
    await store.write(async (writer) => {
      for (const [table, list] of Object.entries(rows)) {
        for (const row of list) await writer.upsert(table, row);
      }
    });
  } finally {
    store.close();
  }
}

/** The tree and every row rmimage could touch, for "nothing changed" checks. */
async function state(t: TestRoot): Promise<string[]> {
  const tree = (await snapshotTree(t.root)).filter((line) => !/osimg\.sqlite/.test(line));
  const rows = [];
  for (const table of ["osimage", "linuximage", "site"]) {
    rows.push((await t.ok(["tabdump", table])).stdout);
  }
  return [...tree, ...rows];
}

async function refusedWithoutChange(t: TestRoot, args: string[], message: string) {
  const before = await state(t);
  const output = await t.run(args);
  assertEquals(output.stderr, `Error: ${message}\n`);
  assertEquals(output.status, 1);
  assertEquals(await state(t), before);
}

/** Two images' boot files under <tftpdir>/xcat, and their rootimgdirs. */
async function twoImagesOnDisk(t: TestRoot): Promise<void> {
  for (const image of ["img1", "img2"]) {
    await Deno.mkdir(`${t.root}/tftpboot/xcat/osimage/${image}`, { recursive: true });
    await Deno.writeTextFile(`${t.root}/tftpboot/xcat/osimage/${image}/vmlinuz`, image);
    const dir = `${t.root}/install/netboot/r/x86_64/${image}`;
    await Deno.mkdir(`${dir}/rootimg/etc`, { recursive: true });
    await Deno.writeTextFile(`${dir}/kernel`, image);
    await Deno.writeTextFile(`${dir}/rootimg.cpio.gz`, image);
  }
  await Deno.mkdir(`${t.root}/tftpboot/xcat/xnba/nodes`, { recursive: true });
  await Deno.writeTextFile(`${t.root}/tftpboot/xcat/xnba/nodes/cn01`, "#!gpxe\n");
  for (const image of ["img1", "img2"]) {
    await t.ok([
      "mkdef",
      "-t",
      "osimage",
      "-o",
      image,
      "provmethod=netboot",
      "osvers=r",
      "osarch=x86_64",
      `profile=${image}`,
    ]);
  }
}

Deno.test("rmimage .. and rmimage . are refused; every image's files under <tftpdir>/xcat stay", async () => {
  await using t = await testRoot();
  await twoImagesOnDisk(t);
  // Rows an older osimg accepted: with them, '..' was <tftpdir>/xcat and '.' every image's
  // boot files.
  await insertRows(t, {
    osimage: [
      { imagename: "..", provmethod: "netboot", imagetype: "linux" },
      { imagename: ".", provmethod: "netboot", imagetype: "linux" },
    ],
  });
  for (const name of ["..", "."]) {
    await refusedWithoutChange(
      t,
      ["rmimage", name],
      `The object name '${name}' is invalid: '.' and '..' name directories, not objects.`,
    );
    await refusedWithoutChange(
      t,
      ["rmimage", name, "--xcatdef"],
      `The object name '${name}' is invalid: '.' and '..' name directories, not objects.`,
    );
  }
  ok(existsSync(`${t.root}/tftpboot/xcat/osimage/img1/vmlinuz`));
  ok(existsSync(`${t.root}/tftpboot/xcat/xnba/nodes/cn01`));
  // rmdef still clears such a row, and chdef -n can rename it.
  await t.ok(["chdef", "-t", "osimage", "-o", ".", "-n", "dot"]);
  await t.ok(["rmdef", "-t", "osimage", "-o", ".."]);
});

Deno.test("rmimage refuses an existing row whose rootimgdir or profile leaves its directory, removing nothing", async () => {
  await using t = await testRoot();
  await twoImagesOnDisk(t);
  await Deno.mkdir(`${t.root}/etc`, { recursive: true });
  await Deno.writeTextFile(`${t.root}/etc/kernel`, "not an image's\n");
  await Deno.writeTextFile(`${t.root}/install/netboot/r/kernel`, "not an image's\n");
  await insertRows(t, {
    osimage: [
      { imagename: "outside", provmethod: "netboot", imagetype: "linux" },
      { imagename: "climbs", provmethod: "netboot", imagetype: "linux" },
      { imagename: "atinstall", provmethod: "netboot", imagetype: "linux" },
      {
        imagename: "dotdot",
        provmethod: "netboot",
        imagetype: "linux",
        osvers: "r",
        osarch: "x86_64",
        profile: "..",
      },
    ],
    linuximage: [
      { imagename: "outside", rootimgdir: "/etc" },
      { imagename: "climbs", rootimgdir: "/install/../etc" },
      { imagename: "atinstall", rootimgdir: "/install/" },
    ],
  });
  await refusedWithoutChange(
    t,
    ["rmimage", "outside"],
    "The rootimgdir '/etc' of the osimage 'outside' is invalid: it is not below '/install'. " +
      "Set it with 'chdef -t osimage -o outside rootimgdir=<directory below /install>'.",
  );
  await refusedWithoutChange(
    t,
    ["rmimage", "climbs"],
    "The rootimgdir '/install/../etc' of the osimage 'climbs' is invalid: it has '.' or '..' parts. " +
      "Set it with 'chdef -t osimage -o climbs rootimgdir=<directory below /install>'.",
  );
  await refusedWithoutChange(
    t,
    ["rmimage", "atinstall"],
    "The rootimgdir '/install' of the osimage 'atinstall' is invalid: it is not below '/install'. " +
      "Set it with 'chdef -t osimage -o atinstall rootimgdir=<directory below /install>'.",
  );
  await refusedWithoutChange(
    t,
    ["rmimage", "dotdot"],
    "The profile '..' of the osimage 'dotdot' is invalid: '.' and '..' name directories, not objects.",
  );
  // packimage refuses the same rows.
  const pack = await t.run(["packimage", "outside"]);
  assertEquals(pack.status, 1);
  ok(pack.stderr.startsWith("Error: The rootimgdir '/etc' of the osimage 'outside' is invalid"));
});

Deno.test("rmimage refuses when site.installdir or site.tftpdir confine nothing", async () => {
  await using t = await testRoot();
  await twoImagesOnDisk(t);
  await t.ok(["chdef", "-t", "site", "clustersite", "tftpdir=/"]);
  await refusedWithoutChange(
    t,
    ["rmimage", "img1"],
    "The site attribute tftpdir='/' is invalid: it is the root directory. " +
      "Set it with 'chdef -t site tftpdir=<directory>'.",
  );
  await t.ok([
    "chdef",
    "-t",
    "site",
    "clustersite",
    "tftpdir=/tftpboot",
    "installdir=/x/../install",
  ]);
  await refusedWithoutChange(
    t,
    ["rmimage", "img1"],
    "The site attribute installdir='/x/../install' is invalid: it has '.' or '..' parts. " +
      "Set it with 'chdef -t site installdir=<directory>'.",
  );
});
