// Round trips through osimg's own exporter: export from one root, import into a fresh one, and
// the definitions and files must come out identical.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  INITRD_BYTES,
  makeBundle,
  NETBOOT_TARGETS,
  netbootFiles,
} from "../../testdata/support/bundle_testing.ts";
import { snapshotTree, testRoot } from "../../testdata/support/testing.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";

async function tables(t: { ok(args: string[]): Promise<{ stdout: string }> }, names: string[]) {
  const dumps: string[] = [];
  for (const name of names) dumps.push((await t.ok(["tabdump", name])).stdout);
  return dumps;
}

async function fixture(name: string): Promise<string> {
  return await Deno.readTextFile(new URL(`../../testdata/bundles/${name}`, import.meta.url));
}

Deno.test("round trip: netboot with -e file and directory and -p gives identical definitions and files", async () => {
  await using source = await testRoot();
  await using target = await testRoot();
  await makeBundle(`${source.root}/seed.tgz`, { files: netbootFiles() });
  await source.ok(["imgimport", "seed.tgz"]);
  for (const t of [source, target]) {
    await t.ok(["mkdef", "-t", "node", "-o", "cn1", "groups=compute"]);
  }
  await source.ok(["chdef", "-t", "node", "-o", "cn1", "postscripts=myscript1,other"]);
  const exported = await source.ok([
    "imgexport",
    IMAGE,
    "out.tgz",
    "-e",
    "/install/postscripts/myscript1",
    "-e",
    "/install/mydir:/install/mydir2",
    "-p",
    "cn1",
  ]);
  ok(exported.stdout.endsWith("Done!\n"), exported.stdout);
  await Deno.copyFile(`${source.root}/out.tgz`, `${target.root}/out.tgz`);
  const verified = await target.ok(["verify", "out.tgz"]);
  ok(verified.stdout.includes("all checksums verified"), verified.stdout);
  const imported = await target.ok(["imgimport", "out.tgz", "-p", "cn1"]);
  assertEquals(imported.stderr, "");
  ok(imported.stdout.endsWith(`Successfully imported the image ${IMAGE}.\n`));
  assertEquals(
    await tables(target, ["osimage", "linuximage"]),
    await tables(source, ["osimage", "linuximage"]),
  );
  for (const path of NETBOOT_TARGETS.filter((path) => !path.startsWith("install/mydir/"))) {
    assertEquals(
      await Deno.readFile(`${target.root}/${path}`),
      await Deno.readFile(`${source.root}/${path}`),
      path,
    );
  }
  assertEquals(
    await snapshotTree(`${target.root}/install/mydir2`),
    await snapshotTree(`${source.root}/install/mydir`),
  );
  const postscripts = (await target.ok(["tabdump", "postscripts"])).stdout;
  ok(postscripts.includes('"cn1","myscript1,other"'), postscripts);
});

Deno.test("round trip: statelite tree, litefile rows and definition are identical", async () => {
  await using source = await testRoot();
  await using target = await testRoot();
  const image = "rhels8.8.0-x86_64-statelite-compute";
  const work = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${work}/rootimg/etc`, { recursive: true });
    await Deno.writeTextFile(`${work}/rootimg/etc/hostname`, "node\n");
    await Deno.symlink("/etc/alternatives/awk", `${work}/rootimg/awk`);
    const cpio = await new Deno.Command("sh", {
      args: ["-c", "find rootimg | cpio -H newc -o --quiet | gzip -n"],
      cwd: work,
      stdout: "piped",
    }).output();
    await makeBundle(`${source.root}/seed.tgz`, {
      files: {
        [`${image}/manifest.xml`]: await fixture("statelite.manifest.xml"),
        [`${image}/rootimgtree.gz`]: cpio.stdout,
        [`${image}/litefile.csv`]: `"${image}","/etc/adjtime","tmpfs",,\n` +
          `"${image}","/var/log/","persistent",,\n`,
        [`${image}/kernel`]: "k\n",
        [`${image}/initrd-statelite.gz`]: INITRD_BYTES,
        [`${image}/compute.rhels8.x86_64.pkglist`]: "bash\n",
        [`${image}/compute.rhels8.x86_64.postinstall`]: "#!/bin/sh\n",
        [`${image}/compute.rhels8.x86_64.exlist`]: "./usr/share/doc*\n",
      },
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  await source.ok(["imgimport", "seed.tgz"]);
  await source.ok(["imgexport", image, "out.tgz"]);
  await Deno.copyFile(`${source.root}/out.tgz`, `${target.root}/out.tgz`);
  await target.ok(["imgimport", "out.tgz"]);
  assertEquals(
    await tables(target, ["osimage", "linuximage", "litefile"]),
    await tables(source, ["osimage", "linuximage", "litefile"]),
  );
  const dir = "install/netboot/rhels8.8.0/x86_64/compute";
  assertEquals(
    await snapshotTree(`${target.root}/${dir}/rootimg`),
    await snapshotTree(`${source.root}/${dir}/rootimg`),
  );
  for (const file of ["kernel", "initrd-statelite.gz"]) {
    assertEquals(
      await Deno.readFile(`${target.root}/${dir}/${file}`),
      await Deno.readFile(`${source.root}/${dir}/${file}`),
    );
  }
});

Deno.test("round trip: install image, and -f on import renames it as xCAT does", async () => {
  await using source = await testRoot();
  await using target = await testRoot();
  const image = "rhels8.8.0-x86_64-install-compute";
  for (const t of [source, target]) {
    await Deno.mkdir(`${t.root}/install/rhels8.8.0/x86_64`, { recursive: true });
  }
  await makeBundle(`${source.root}/seed.tgz`, {
    files: {
      [`${image}/manifest.xml`]: await fixture("install.manifest.xml"),
      [`${image}/compute.rhels8.tmpl`]: "#kickstart\n",
      [`${image}/compute.rhels8.pkglist`]: "@core\n",
    },
  });
  await source.ok(["imgimport", "seed.tgz"]);
  await source.ok(["imgexport", image, "out.tgz"]);
  await Deno.copyFile(`${source.root}/out.tgz`, `${target.root}/out.tgz`);
  await target.ok(["imgimport", "out.tgz"]);
  assertEquals(
    await tables(target, ["osimage", "linuximage"]),
    await tables(source, ["osimage", "linuximage"]),
  );
  const renamed = await target.ok(["imgimport", "out.tgz", "-f", "compute2"]);
  ok(
    renamed.stdout.endsWith(
      "Successfully imported the image rhels8.8.0-x86_64-install-compute2.\n",
    ),
  );
  assertEquals(
    await Deno.readTextFile(`${target.root}/install/custom/install/rh/compute2.rhels8.tmpl`),
    "#kickstart\n",
  );
});
