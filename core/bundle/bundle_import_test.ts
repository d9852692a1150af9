import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  type BundleFile,
  type BundleSpec,
  INITRD_BYTES,
  makeBundle,
  NETBOOT_TARGETS,
  netbootFiles,
  PACKED_ROOT_BYTES,
  rootState,
} from "../../testdata/support/bundle_testing.ts";
import { cp } from "node:fs/promises";
import { importBundle } from "./bundle_import.ts";
import type { Context } from "../context.ts";
import { systemRunner } from "../process.ts";
import { silentProgress } from "../progress.ts";
import { silentReporter } from "../reporter.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";
import type { Store } from "../store/store.ts";
import { assertGolden, testRoot } from "../../testdata/support/testing.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";

async function bundleIn(dir: string, name: string, spec: BundleSpec): Promise<string> {
  const path = `${dir}/${name}`;
  await makeBundle(path, spec);
  return path;
}

Deno.test("compat: an xCAT-made netboot bundle (GNU tar czf ., ./ names) imports with a warning", async () => {
  await using t = await testRoot();
  const bundle = await bundleIn(t.root, "x.tgz", { files: netbootFiles() });
  const output = await t.ok(["imgimport", bundle]);
  ok(
    output.stderr.includes(
      `Warning: The bundle "${bundle}" has no SHA256SUMS for "${IMAGE}": its contents cannot be verified`,
    ),
    output.stderr,
  );
  ok(output.stdout.startsWith("Unbundling image...\n"), output.stdout);
  ok(output.stdout.endsWith(`Successfully imported the image ${IMAGE}.\n`), output.stdout);
  for (const target of NETBOOT_TARGETS) {
    ok((await Deno.stat(`${t.root}/${target}`)).isFile, target);
  }
  assertEquals(
    await Deno.readTextFile(`${t.root}/install/netboot/rhels8.8.0/x86_64/compute/kernel`),
    "vmlinuz bytes\n",
  );
  assertEquals(await Deno.readLink(`${t.root}/install/mydir/link`), "a.conf");
  const osimage = (await t.ok(["tabdump", "osimage"])).stdout;
  ok(osimage.includes(`"${IMAGE}",,"compute","linux",,"netboot"`), osimage);
  const linuximage = (await t.ok(["tabdump", "linuximage"])).stdout;
  ok(linuximage.includes(`"/install/netboot/rhels8.8.0/x86_64/compute"`), linuximage);
  // Nothing of the staging area is left behind.
  ok(!(await Deno.stat(`${t.root}/install/.osimg-staging`).catch(() => false)));
  void rootState;
});

async function fixture(name: string): Promise<string> {
  return await Deno.readTextFile(new URL(`../../testdata/bundles/${name}`, import.meta.url));
}

const FLAT_FILES = (manifest: string) => ({
  "myimage/manifest.xml": manifest,
  "myimage/compute1.exlist": "./usr/share/man*\n",
  "myimage/myscript1": "#!/bin/sh\n",
  "myimage/extra/myscript1": "#!/bin/sh\n",
  "myimage/kernel": "k\n",
  "myimage/compute1.otherpkgs.pkglist": "vim\n",
  "myimage/compute1.pkglist": "bash\n",
  "myimage/compute1.postinstall": "#!/bin/sh\n",
  // Real gzip'd cpio: members named for a format must hold it.
  "myimage/initrd-diskless.gz": INITRD_BYTES,
  "myimage/rootimg.gz": PACKED_ROOT_BYTES,
  "myimage/compute1.list": "/etc/hosts -> /etc/hosts\n",
});

Deno.test("compat: a 2.7 flat manifest imports through xCAT's adapter", async () => {
  await using t = await testRoot();
  const bundle = await bundleIn(t.root, "flat.tgz", {
    files: FLAT_FILES(await fixture("flat-2.7-netboot.manifest.xml")),
  });
  const output = await t.ok(["imgimport", bundle]);
  ok(output.stdout.endsWith("Successfully imported the image myimage.\n"), output.stdout);
  assertEquals(
    await Deno.readFile(`${t.root}/install/netboot/sles12/ppc64le/compute1/initrd-diskless.gz`),
    INITRD_BYTES,
  );
  const osimage = (await t.ok(["tabdump", "osimage"])).stdout;
  // xCAT's adapter quirk: the -p lists are osimage columns in a flat manifest.
  ok(osimage.includes('"syslog,remoteshell,my1,configrmcnode,syncfiles,my1,my2"'), osimage);
  const linuximage = (await t.ok(["tabdump", "linuximage"])).stdout;
  ok(linuximage.includes('"/install/custom/netboot/sles/compute1.pkglist"'), linuximage);
});

for (const compression of ["xz", "zstd", "bzip2", "none"] as const) {
  Deno.test(`compat: a ${compression} bundle is detected by its magic and imports`, async () => {
    await using t = await testRoot();
    const bundle = await bundleIn(t.root, `x.${compression}`, {
      files: netbootFiles(),
      compression,
    });
    // xCAT's -n (--nozip) is accepted: scripts that pass it for plain tar keep working.
    const output = await t.ok(["imgimport", bundle, ...(compression === "none" ? ["-n"] : [])]);
    ok(output.stderr.includes("cannot be verified"), output.stderr);
    ok(output.stdout.endsWith(`Successfully imported the image ${IMAGE}.\n`));
    for (const target of NETBOOT_TARGETS) ok((await Deno.stat(`${t.root}/${target}`)).isFile);
  });
}

Deno.test("verified: an osimg bundle with SHA256SUMS imports without a warning", async () => {
  await using t = await testRoot();
  const bundle = await bundleIn(t.root, "ours.tgz", { files: netbootFiles(), sums: true });
  const output = await t.ok(["imgimport", bundle]);
  assertEquals(output.stderr, "");
  for (const target of NETBOOT_TARGETS) ok((await Deno.stat(`${t.root}/${target}`)).isFile);
});

/** A statelite staging directory with a real `find rootimg | cpio -H newc -o | gzip` tree. */
async function statelitefiles(): Promise<Record<string, BundleFile>> {
  const work = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${work}/rootimg/etc`, { recursive: true });
    await Deno.mkdir(`${work}/rootimg/usr/bin`, { recursive: true });
    await Deno.mkdir(`${work}/rootimg/dev`, { recursive: true });
    await Deno.writeTextFile(`${work}/rootimg/etc/hostname`, "node\n");
    await Deno.writeTextFile(`${work}/rootimg/usr/bin/tool`, "#!/bin/sh\n");
    await Deno.symlink("usr/bin", `${work}/rootimg/bin`);
    await Deno.symlink("/etc/alternatives/awk", `${work}/rootimg/usr/bin/awk`);
    if (Deno.uid() === 0) {
      await new Deno.Command("mknod", { args: [`${work}/rootimg/dev/null`, "c", "1", "3"] })
        .output();
    }
    const cpio = await new Deno.Command("sh", {
      args: ["-c", "find rootimg | cpio -H newc -o --quiet | gzip -n"],
      cwd: work,
      stdout: "piped",
    }).output();
    ok(cpio.success);
    const image = "rhels8.8.0-x86_64-statelite-compute";
    return {
      [`${image}/manifest.xml`]: await fixture("statelite.manifest.xml"),
      [`${image}/rootimgtree.gz`]: cpio.stdout,
      [`${image}/litefile.csv`]: `"${image}","/etc/adjtime","tmpfs",,\n` +
        `"${image}","/etc/ssh/","tmpfs",,\n"${image}","/var/log/","persistent",,\n`,
      [`${image}/kernel`]: "k\n",
      [`${image}/initrd-statelite.gz`]: INITRD_BYTES,
      [`${image}/compute.rhels8.x86_64.pkglist`]: "bash\n",
      [`${image}/compute.rhels8.x86_64.postinstall`]: "#!/bin/sh\n",
      [`${image}/compute.rhels8.x86_64.exlist`]: "./usr/share/doc*\n",
    };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("statelite: rootimgtree unpacked into rootimg/, litefile rows added (ALL duplicates skipped)", async () => {
  await using t = await testRoot();
  const image = "rhels8.8.0-x86_64-statelite-compute";
  const dir = `${t.root}/install/netboot/rhels8.8.0/x86_64/compute`;
  await Deno.writeTextFile(
    `${t.root}/litefile.csv`,
    '#image,file,options,comments,disable\n"ALL","/etc/adjtime","tmpfs",,\n',
  );
  await t.ok(["tabrestore", "litefile.csv"]);
  const bundle = await bundleIn(t.root, "sl.tgz", { files: await statelitefiles(), sums: true });
  const output = await t.ok(["imgimport", bundle]);
  ok(output.stdout.includes("Extracting rootimgtree.gz. It will take a while.\n"));
  ok(output.stdout.includes("Updating the litefile table.\n"));
  ok(output.stdout.endsWith(`Successfully imported the image ${image}.\n`));
  assertEquals(await Deno.readTextFile(`${dir}/rootimg/etc/hostname`), "node\n");
  assertEquals(await Deno.readLink(`${dir}/rootimg/bin`), "usr/bin");
  assertEquals(await Deno.readLink(`${dir}/rootimg/usr/bin/awk`), "/etc/alternatives/awk");
  if (Deno.uid() === 0) ok((await Deno.lstat(`${dir}/rootimg/dev/null`)).isCharDevice);
  ok(!(await Deno.stat(`${dir}/rootimgtree.gz`).catch(() => false)), "tree archive not left");
  ok((await Deno.stat(`${dir}/litefile.csv`)).isFile);
  assertEquals(
    (await t.ok(["tabdump", "litefile"])).stdout,
    "#image,file,options,comments,disable\n" +
      '"ALL","/etc/adjtime","tmpfs",,\n' +
      `"${image}","/etc/ssh/","tmpfs",,\n` +
      `"${image}","/var/log/","persistent",,\n`,
  );
  // Importing again replaces the tree: a file added since does not survive.
  await Deno.writeTextFile(`${dir}/rootimg/etc/stale`, "x");
  await t.ok(["imgimport", bundle]);
  ok(!(await Deno.stat(`${dir}/rootimg/etc/stale`).catch(() => false)));
  assertEquals(await Deno.readTextFile(`${dir}/rootimg/etc/hostname`), "node\n");
});

Deno.test("install: media=required is checked with xCAT's message", async () => {
  await using t = await testRoot();
  const image = "rhels8.8.0-x86_64-install-compute";
  const bundle = await bundleIn(t.root, "inst.tgz", {
    files: {
      [`${image}/manifest.xml`]: await fixture("install.manifest.xml"),
      [`${image}/compute.rhels8.tmpl`]: "#kickstart\n",
      [`${image}/compute.rhels8.pkglist`]: "@core\n",
    },
  });
  const failed = await t.run(["imgimport", bundle]);
  assertEquals(failed.status, 1);
  ok(
    failed.stderr.includes(
      "Error: This image requires that you first copy media for rhels8.8.0-x86_64\n",
    ),
    failed.stderr,
  );
  assertEquals((await t.ok(["tabdump", "osimage"])).stdout.split("\n").length, 2);
  const odd = await bundleIn(t.root, "odd.tgz", {
    files: {
      [`${image}/manifest.xml`]: (await fixture("install.manifest.xml"))
        .replace("<media>required</media>", "<media>optional</media>"),
      [`${image}/compute.rhels8.tmpl`]: "#kickstart\n",
    },
  });
  assertEquals(
    (await t.run(["imgimport", odd])).stderr.split("\n").find((line) => line.startsWith("Error")) +
      "\n",
    `Error: Cannot import bundle "${odd}": ${image}/manifest.xml has <media>optional</media>; ` +
      "only 'required' is known\n",
  );
  await Deno.mkdir(`${t.root}/install/rhels8.8.0/x86_64`, { recursive: true });
  await t.ok(["imgimport", bundle]);
  assertEquals(
    await Deno.readTextFile(`${t.root}/opt/xcat/share/xcat/install/rh/compute.rhels8.tmpl`),
    "#kickstart\n",
  );
});

Deno.test("re-import: old files kept as .ORIG, the definition replaced (not merged)", async () => {
  await using t = await testRoot();
  const bundle = await bundleIn(t.root, "x.tgz", { files: netbootFiles() });
  await t.ok(["imgimport", bundle]);
  await t.ok(["chdef", "-t", "osimage", "-o", IMAGE, "kerneldir=/stale", "description=old"]);
  const kernel = `${t.root}/install/netboot/rhels8.8.0/x86_64/compute/kernel`;
  await Deno.writeTextFile(kernel, "locally rebuilt\n");
  const output = await t.ok(["imgimport", bundle]);
  ok(
    output.stdout.includes(
      `  Moving old /install/netboot/rhels8.8.0/x86_64/compute/kernel to /install/netboot/rhels8.8.0/x86_64/compute/kernel.ORIG.\n`,
    ),
  );
  assertEquals(await Deno.readTextFile(`${kernel}.ORIG`), "locally rebuilt\n");
  assertEquals(await Deno.readTextFile(kernel), "vmlinuz bytes\n");
  const dump = (await t.ok(["tabdump", "osimage"])).stdout +
    (await t.ok(["tabdump", "linuximage"])).stdout;
  ok(!dump.includes("/stale") && !dump.includes('"old"'), dump);
});

Deno.test("-f: new rootimgdir, stock files re-homed under custom, image renamed", async () => {
  await using t = await testRoot();
  const bundle = await bundleIn(t.root, "x.tgz", { files: netbootFiles() });
  const output = await t.ok(["imgimport", bundle, "-f", "compute_test"]);
  const name = "rhels8.8.0-x86_64-netboot-compute_test";
  ok(output.stdout.endsWith(`Successfully imported the image ${name}.\n`), output.stdout);
  const base = `${t.root}/install/netboot/rhels8.8.0/x86_64/compute_test`;
  for (const file of ["kernel", "initrd-stateless.gz", "rootimg.cpio.gz"]) {
    ok((await Deno.stat(`${base}/${file}`)).isFile, file);
  }
  for (
    const file of [
      "compute_test.rhels8.x86_64.pkglist",
      "compute_test.rhels8.x86_64.postinstall",
      "compute_test.rhels8.x86_64.exlist",
      "compute_test.otherpkgs.pkglist",
      "compute_test.synclist",
    ]
  ) {
    ok((await Deno.stat(`${t.root}/install/custom/netboot/rh/${file}`)).isFile, file);
  }
  ok(!(await Deno.stat(`${t.root}/opt/xcat`).catch(() => false)), "share dir untouched");
  const lsdef = (await t.ok(["tabdump", "linuximage"])).stdout;
  ok(
    lsdef.includes(`"${name}"`) &&
      lsdef.includes('"/install/netboot/rhels8.8.0/x86_64/compute_test"'),
  );
  ok(lsdef.includes('"/install/custom/netboot/rh/compute_test.rhels8.x86_64.pkglist"'), lsdef);
  const osimage = (await t.ok(["tabdump", "osimage"])).stdout;
  ok(osimage.includes(`"${name}",,"compute_test"`), osimage);
});

Deno.test("-p: the bundle's lists, minus xcatdefaults, set on the nodes; unknown nodes skipped", async () => {
  await using t = await testRoot();
  await t.ok(["mkdef", "-t", "node", "-o", "cn1,cn2", "groups=compute"]);
  await Deno.writeTextFile(
    `${t.root}/postscripts.csv`,
    "#node,postscripts,postbootscripts,comments,disable\n" +
      '"xcatdefaults","syslog,remoteshell,syncfiles","otherpkgs",,\n',
  );
  await t.ok(["tabrestore", "postscripts.csv"]);
  const bundle = await bundleIn(t.root, "x.tgz", { files: netbootFiles() });
  const output = await t.ok(["imgimport", bundle, "-p", "compute,ghost"]);
  ok(output.stdout.includes("Adding postscripts.\n"));
  ok(
    output.stderr.includes(
      "The following nodes will be skipped because they are not in the nodelist table.\n  ghost",
    ),
    output.stderr,
  );
  assertEquals(
    (await t.ok(["tabdump", "postscripts"])).stdout,
    "#node,postscripts,postbootscripts,comments,disable\n" +
      '"xcatdefaults","syslog,remoteshell,syncfiles","otherpkgs",,\n' +
      '"cn1","myscript1",,,\n"cn2","myscript1",,,\n',
  );
});

Deno.test("--dry-run prints the files and rows and changes nothing", async () => {
  await using t = await testRoot();
  await t.ok(["tabdump", "osimage"]);
  const bundle = `${t.root}/../dry-${crypto.randomUUID()}.tgz`;
  await makeBundle(bundle, { files: netbootFiles() });
  try {
    const before = await rootState(t);
    const output = await t.ok(["imgimport", bundle, "--dry-run"]);
    ok(output.stdout.includes("  file /install/netboot/rhels8.8.0/x86_64/compute/kernel\n"));
    ok(output.stdout.includes(`  osimage imagename=${IMAGE}: replaced by\n`));
    ok(output.stdout.includes(`Would import the image ${IMAGE}.\n`));
    assertEquals(await rootState(t), before);
  } finally {
    await Deno.remove(bundle);
  }
});

Deno.test("a missing bundle is one clear line", async () => {
  await using t = await testRoot();
  const output = await t.run(["imgimport", "nosuch.tgz"]);
  assertEquals(output.status, 1);
  assertEquals(output.stderr, `Error: Cannot find ${t.root}/nosuch.tgz\n`);
});

Deno.test("kits: rows upserted, kit directory placed (old one kept as .ORIG), other_files to postscripts", async () => {
  await using t = await testRoot();
  const image = "rhels8.8.0-x86_64-install-compute";
  const kit = "xlc-13.1.6-0-rhels-7-x86_64";
  await Deno.mkdir(`${t.root}/install/rhels8.8.0/x86_64`, { recursive: true });
  await Deno.mkdir(`${t.root}/install/kits/${kit}`, { recursive: true });
  await Deno.writeTextFile(`${t.root}/install/kits/${kit}/old`, "old kit\n");
  const bundle = await bundleIn(t.root, "kit.tgz", {
    files: {
      [`${image}/manifest.xml`]: await fixture("kit-two-components.manifest.xml"),
      [`${image}/compute.rhels8.tmpl`]: "#kickstart\n",
      [`${image}/compute.rhels8.pkglist`]: "@core\n",
      [`${image}/${kit}/repos/${kit}/repodata/repomd.xml`]: "<repomd/>\n",
      [`${image}/${kit}/other_files/kitscript`]: "#!/bin/sh\n",
      [`${image}/${kit}/other_files/skip.exlist`]: "x\n",
      [`${image}/${kit}/other_files/.hidden`]: "x\n",
    },
    sums: true,
  });
  const output = await t.ok(["imgimport", bundle]);
  ok(output.stdout.endsWith(`Successfully imported the image ${image}.\n`), output.stdout);
  assertEquals(
    await Deno.readTextFile(`${t.root}/install/kits/${kit}/repos/${kit}/repodata/repomd.xml`),
    "<repomd/>\n",
  );
  assertEquals(await Deno.readTextFile(`${t.root}/install/kits/${kit}.ORIG/old`), "old kit\n");
  assertEquals((await Deno.stat(`${t.root}/install/postscripts/kitscript`)).mode! & 0o777, 0o755);
  ok(!(await Deno.stat(`${t.root}/install/postscripts/skip.exlist`).catch(() => false)));
  ok(!(await Deno.stat(`${t.root}/install/postscripts/.hidden`).catch(() => false)));
  const kits = (await t.ok(["tabdump", "kit"])).stdout;
  ok(
    kits.includes(`"${kit}","xlc","XLC for Linux","13.1.6","0","Linux",,,"/install/kits/${kit}"`),
    kits,
  );
  const components = (await t.ok(["tabdump", "kitcomponent"])).stdout;
  ok(components.includes('"xlc.rte-compute-13.1.6-0-rhels-7-x86_64"'), components);
  const repos = (await t.ok(["tabdump", "kitrepo"])).stdout;
  ok(repos.includes(`"${kit}","${kit}","rhels","7"`), repos);
});

Deno.test("golden: the import transcript (-v), the dry run and the usage", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/x.tgz`, { files: netbootFiles() });
  const dry = await t.ok(["imgimport", "x.tgz", "--dry-run"]);
  await assertGolden("imgimport_dry_run.txt", dry.stdout);
  const output = await t.ok(["imgimport", "-v", "x.tgz"]);
  await assertGolden(
    "imgimport_netboot_verbose.txt",
    (output.stdout + output.stderr).replaceAll(t.root, "<cwd>"),
  );
  await assertGolden("imgimport_usage.txt", (await t.ok(["imgimport", "--help"])).stdout);
});

for (const tarFormat of ["gnu", "pax"] as const) {
  Deno.test(`compat: GNU tar ${tarFormat} long names and long link targets are read`, async () => {
    await using t = await testRoot();
    const deep = "a-rather-long-directory-name-for-testing/".repeat(4) + "file-" + "x".repeat(120);
    const files = netbootFiles();
    files[`${IMAGE}/extra/tmp/mydir/${deep}`] = "deep\n";
    files[`${IMAGE}/extra/tmp/mydir/deeplink`] = { symlink: deep };
    await makeBundle(`${t.root}/long.tgz`, { files, tarFormat, sums: tarFormat === "pax" });
    await t.ok(["imgimport", "long.tgz"]);
    assertEquals(await Deno.readTextFile(`${t.root}/install/mydir/${deep}`), "deep\n");
    assertEquals(await Deno.readLink(`${t.root}/install/mydir/deeplink`), deep);
  });
}

Deno.test("an import cut off mid-commit is finished by the next imgimport, which says so", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/x.tgz`, { files: netbootFiles(), sums: true });
  const crashedParent = await Deno.makeTempDir({ prefix: "osimg-crashed-" });
  const crashed = `${crashedParent}/root`;
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
  try {
    // What a kill -9 right after the renames leaves: the root copied at that moment.
    await importBundle(ctx, "x.tgz", {
      hook: async (point) => {
        if (point === "files-moved") {
          await cp(t.root, crashed, { recursive: true, verbatimSymlinks: true });
        }
      },
    });
  } finally {
    store?.close();
  }
  const expected = await rootState(t);
  await using copy = await testRoot();
  await Deno.remove(copy.root, { recursive: true });
  await Deno.rename(crashed, copy.root);
  await Deno.remove(crashedParent);
  await Deno.writeFile(`${copy.root}/empty.tgz`, new Uint8Array());
  const next = await copy.run(["imgimport", "empty.tgz"]);
  assertEquals(next.status, 1);
  ok(
    /^Finished an interrupted import \(\S+\) left by an earlier run\.\n/.test(next.stderr),
    next.stderr,
  );
  await Deno.remove(`${copy.root}/empty.tgz`);
  assertEquals(await rootState(copy), expected);
});

Deno.test("s390x raw: image files go to the computed <installdir>/raw/<osvers>/<osarch>/<profile>", async () => {
  await using t = await testRoot();
  const image = "rhels8.8.0-x86_64-install-compute";
  await makeBundle(`${t.root}/raw.tgz`, {
    files: {
      [`${image}/manifest.xml`]: await fixture("s390x-raw.manifest.xml"),
      [`${image}/compute.rhels8.tmpl`]: "#kickstart\n",
      [`${image}/compute.rhels8.pkglist`]: "@core\n",
      [`${image}/0100.img`]: "disk 0100\n",
      [`${image}/0101.img`]: "disk 0101\n",
    },
    sums: true,
  });
  const output = await t.ok(["imgimport", "raw.tgz"]);
  ok(output.stdout.includes("Copying image files to /install/raw/rhels8.8.0/s390x/compute\n"));
  const dir = `${t.root}/install/raw/rhels8.8.0/s390x/compute`;
  assertEquals(await Deno.readTextFile(`${dir}/0100.img`), "disk 0100\n");
  assertEquals(await Deno.readTextFile(`${dir}/0101.img`), "disk 0101\n");
});

Deno.test("a bundle with two image directories imports both, in name order, in one commit", async () => {
  await using t = await testRoot();
  const second = "rhels8.8.0-x86_64-netboot-other";
  const files = netbootFiles();
  for (const [path, content] of Object.entries(netbootFiles(second))) {
    files[path] = typeof content === "string"
      ? content.replaceAll("/compute/", "/other/").replaceAll(
        "<profile>compute<",
        "<profile>other<",
      )
        .replaceAll("compute.", "other.").replace(/<extra>[\s\S]*<\/extra>\n/, "")
      : content;
  }
  for (const path of Object.keys(files)) {
    if (path.startsWith(`${second}/compute.`)) {
      files[path.replace("/compute.", "/other.")] = files[path]!;
      delete files[path];
    }
    if (path.startsWith(`${second}/extra/`)) delete files[path];
  }
  await makeBundle(`${t.root}/two.tgz`, { files, sums: true });
  const output = await t.ok(["imgimport", "two.tgz"]);
  ok(
    output.stdout.endsWith(
      `Successfully imported the image ${IMAGE}.\nSuccessfully imported the image ${second}.\n`,
    ),
    output.stdout,
  );
  assertEquals(
    await Deno.readTextFile(`${t.root}/install/netboot/rhels8.8.0/x86_64/other/kernel`),
    "vmlinuz bytes\n",
  );
  const osimage = (await t.ok(["tabdump", "osimage"])).stdout;
  ok(osimage.includes(`"${second}"`) && osimage.includes(`"${IMAGE}"`), osimage);
});
