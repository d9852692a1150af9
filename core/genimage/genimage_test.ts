// genimage end to end on an offline RHEL-like site (dnf --installroot from a local rpm-md tree),
// its initrds, its write-back, and every refusal leaving tree and definition as they were.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { compareKernelVersions, findKernel } from "./genimage.ts";
import {
  addKernelPayload,
  defineGenimageImage,
  mountsBelow,
  rootimgdirOf,
  rpmSite,
  writeSiteFile,
} from "../../testdata/support/genimage_testing.ts";
import { debianKernel } from "../../testdata/support/debian_kernel.ts";
import { sh } from "../../testdata/support/process.ts";
import {
  assertGolden,
  snapshotTree,
  type TestRoot,
  testRoot,
} from "../../testdata/support/testing.ts";

const IMAGE = "rocky9.3-x86_64-netboot-compute";

/** The member names of a gzip'd cpio initrd. */
async function initrdMembers(path: string): Promise<string[]> {
  const listing = await sh(["sh", "-c", `gzip -dc '${path}' | cpio -it --quiet`]);
  return listing.split("\n").filter((line) => line !== "");
}

async function initrdFile(path: string, member: string): Promise<string> {
  return await sh(["sh", "-c", `gzip -dc '${path}' | cpio -i --quiet --to-stdout '${member}'`]);
}

async function rows(t: TestRoot): Promise<string> {
  return (await t.ok(["tabdump", "osimage"])).stdout +
    (await t.ok(["tabdump", "linuximage"])).stdout;
}

async function rpmNames(rootimg: string): Promise<string[]> {
  const text = await sh([
    "rpm",
    "--root",
    rootimg,
    "--dbpath",
    "/var/lib/rpm",
    "-qa",
    "--qf",
    "%{NAME}\n",
  ]);
  return text.split("\n").filter((line) => line !== "").sort();
}

Deno.test("genimage builds a RHEL-like root offline: dnf installs the pkglist, postinstall runs with $1 and IMG_* while proc/sys/dev are mounted, then kernel, initrd, boot copies and write-back", async () => {
  await using t = await testRoot();
  const { rootimgdir, kernelVersion } = await rpmSite(t.root, IMAGE);
  const out = await t.ok(["genimage", IMAGE]);
  await assertGolden(
    "genimage_rpm_stdout.txt",
    out.stdout.replaceAll(kernelVersion, "<kernel>"),
  );
  const dir = `${t.root}${rootimgdir}`;
  const rootimg = `${dir}/rootimg`;
  assertEquals(await rpmNames(rootimg), ["osimg-alpha", "osimg-beta"]);
  // xCAT's postinstall protocol: <rootimg> <osver> <arch> <profile>, and the IMG_* variables.
  assertEquals(
    (await Deno.readTextFile(`${rootimg}/postinstall.out`)).replaceAll(t.root, "<root>"),
    "args: <root>/install/netboot/rocky9.3/x86_64/compute/rootimg rocky9.3 x86_64 compute\n" +
      "IMG_ARCH=x86_64\nIMG_KERNELVERSION=\nIMG_NAME=rocky9.3-x86_64-netboot-compute\n" +
      "IMG_OSVER=rocky9.3\nIMG_OTHERPKGDIR=\nIMG_OTHERPKGLIST=\n" +
      "IMG_PKGDIR=<root>/install/rocky9.3/x86_64\n" +
      "IMG_PKGLIST=<root>/install/custom/netboot/rh/compute.pkglist\nIMG_PROFILE=compute\n" +
      "IMG_ROOTIMGDIR=<root>/install/netboot/rocky9.3/x86_64/compute\n",
  );
  // Mounted while postinstall ran (a private /dev with its own devpts), gone afterwards.
  assertEquals(
    (await Deno.readTextFile(`${rootimg}/postinstall.mounts`)).replaceAll(rootimg, ""),
    "/dev\n/dev/pts\n/proc\n/sys\n",
  );
  assertEquals(await mountsBelow(t.root), []);
  await assertGolden("genimage_fstab.txt", await Deno.readTextFile(`${rootimg}/etc/fstab`));
  assertEquals(await Deno.readTextFile(`${rootimg}/etc/hostname`), "localhost\n");
  assertEquals((await Deno.stat(`${rootimg}/.statelite`)).mode! & 0o7777, 0o755);
  // The kernel, the initrd with the virtio transport and NIC, and xCAT's copies for nodeset.
  const kernel = await debianKernel();
  assertEquals(await Deno.readFile(`${dir}/kernel`), await Deno.readFile(kernel.vmlinuz));
  const members = await initrdMembers(`${dir}/initrd-stateless.gz`);
  for (const module of ["virtio_pci.ko", "virtio_net.ko", "e1000.ko", "squashfs.ko"]) {
    ok(members.some((name) => name.endsWith(`/${module}`)), `${module} not in the initrd`);
  }
  ok(!members.includes("etc/osimg/mode"));
  assertEquals(await Deno.stat(`${dir}/initrd-statelite.gz`).catch(() => undefined), undefined);
  for (const file of ["kernel", "initrd-stateless.gz"]) {
    assertEquals(
      await Deno.readFile(`${t.root}/tftpboot/xcat/osimage/${IMAGE}/${file}`),
      await Deno.readFile(`${dir}/${file}`),
    );
  }
  const lsdef = await t.ok(["lsdef", "-t", "osimage", "-o", IMAGE, "-i", "rootimgdir,permission"]);
  assertEquals(
    lsdef.stdout,
    `Object name: ${IMAGE}\n    permission=755\n    rootimgdir=${
      rootimgdirOf("rocky9.3", "compute")
    }\n`,
  );
  // No work directory or temporary file is left beside the root.
  assertEquals(
    [...Deno.readDirSync(dir)].map((entry) => entry.name).sort(),
    ["initrd-stateless.gz", "kernel", "rootimg"],
  );
});

Deno.test("genimage again installs what the pkglist gained; --onlyinitrd only rebuilds kernel and initrd", async () => {
  await using t = await testRoot();
  const { rootimgdir } = await rpmSite(t.root, IMAGE);
  await writeSiteFile(t.root, "/install/custom/netboot/rh/compute.pkglist", "osimg-beta\n");
  await t.ok(["genimage", IMAGE]);
  const rootimg = `${t.root}${rootimgdir}/rootimg`;
  assertEquals(await rpmNames(rootimg), ["osimg-beta"]);
  await writeSiteFile(
    t.root,
    "/install/custom/netboot/rh/compute.pkglist",
    "osimg-beta\nosimg-alpha\n",
  );
  await t.ok(["genimage", "--noupdate", IMAGE]);
  assertEquals(await rpmNames(rootimg), ["osimg-alpha", "osimg-beta"]);

  await Deno.remove(`${rootimg}/postinstall.out`);
  await Deno.remove(`${t.root}${rootimgdir}/initrd-stateless.gz`);
  const out = await t.ok(["genimage", "--onlyinitrd", IMAGE]);
  ok(!out.stdout.includes("Generating image"), out.stdout);
  ok((await Deno.stat(`${t.root}${rootimgdir}/initrd-stateless.gz`)).isFile);
  // Neither packages nor postinstall ran.
  assertEquals(await Deno.stat(`${rootimg}/postinstall.out`).catch(() => undefined), undefined);
});

Deno.test("genimage with SOURCE_DATE_EPOCH: rebuilding from an unchanged rootimg gives the same kernel and initrd bytes", async () => {
  await using t = await testRoot();
  const { rootimgdir } = await rpmSite(t.root, IMAGE);
  const env = { SOURCE_DATE_EPOCH: "1700000000" };
  await t.ok(["genimage", IMAGE], { env });
  const dir = `${t.root}${rootimgdir}`;
  const first = await Deno.readFile(`${dir}/initrd-stateless.gz`);
  const fstab = await Deno.readFile(`${dir}/rootimg/etc/fstab`);
  // Touching the image changes mtimes, which must not leak in.
  await sh(["touch", `${dir}/rootimg/usr/bin/busybox`]);
  await t.ok(["genimage", "--onlyinitrd", IMAGE], { env });
  assertEquals(await Deno.readFile(`${dir}/initrd-stateless.gz`), first);
  assertEquals((await Deno.stat(`${dir}/initrd-stateless.gz`)).mtime?.getTime(), 1700000000_000);
  await t.ok(["genimage", "--noupdate", IMAGE], { env });
  assertEquals(await Deno.readFile(`${dir}/initrd-stateless.gz`), first);
  assertEquals(await Deno.readFile(`${dir}/rootimg/etc/fstab`), fstab);
});

Deno.test("genimage -n -l -m statelite --permission: both initrds with the driver, the rootlimit and the mode; the definition gets netdrivers and permission", async () => {
  await using t = await testRoot();
  const { rootimgdir } = await rpmSite(t.root, IMAGE);
  await t.ok([
    "genimage",
    "-n",
    "virtio_net.ko,9p",
    "-l",
    "2g",
    "-m",
    "statelite",
    "--permission",
    "700",
    "-t",
    "10m",
    IMAGE,
  ]);
  const dir = `${t.root}${rootimgdir}`;
  for (const mode of ["stateless", "statelite"]) {
    const initrd = `${dir}/initrd-${mode}.gz`;
    const members = await initrdMembers(initrd);
    ok(members.some((name) => name.endsWith("/9p.ko")), `9p not in ${mode}`);
    assertEquals(await initrdFile(initrd, "etc/osimg/rootlimit"), "2g\n");
    assertEquals(members.includes("etc/osimg/mode"), mode === "statelite");
  }
  const statelite = await initrdMembers(`${dir}/initrd-statelite.gz`);
  ok(statelite.some((name) => name.endsWith("/nfs.ko")), "nfs.ko not in the statelite initrd");
  assertEquals((await Deno.stat(`${dir}/rootimg/.statelite`)).mode! & 0o7777, 0o700);
  ok(
    (await Deno.readTextFile(`${dir}/rootimg/etc/fstab`)).includes(
      "tmpfs   /tmp     tmpfs   defaults,size=10m   0 0\n",
    ),
  );
  const lsdef = await t.ok(["lsdef", "-t", "osimage", "-o", IMAGE, "-i", "netdrivers,permission"]);
  assertEquals(
    lsdef.stdout,
    `Object name: ${IMAGE}\n    netdrivers=virtio_net.ko,9p\n    permission=700\n`,
  );
});

Deno.test("findKernel: the newest vmlinuz by version (10 after 9, rescue kernels aside), or the one asked for", async () => {
  const rootimg = await Deno.makeTempDir({ prefix: "osimg-kernels-" });
  try {
    await Deno.mkdir(`${rootimg}/boot`);
    for (
      const name of [
        "vmlinuz-6.9.0-1-amd64",
        "vmlinuz-6.10.0-1-amd64",
        "vmlinuz-0-rescue-0123456789abcdef",
        "config-6.11.0",
      ]
    ) await Deno.writeTextFile(`${rootimg}/boot/${name}`, name);
    assertEquals((await findKernel(rootimg))?.version, "6.10.0-1-amd64");
    assertEquals((await findKernel(rootimg, "6.9.0-1-amd64"))?.version, "6.9.0-1-amd64");
    assertEquals(await findKernel(rootimg, "6.11.0"), undefined);
    ok(compareKernelVersions("5.14.0-362.8.1.el9_3", "5.14.0-70.13.1.el9_0") > 0);
  } finally {
    await Deno.remove(rootimg, { recursive: true });
  }
});

/**
 * Runs `genimage args` expecting a refusal: its exit status and message, with the file tree
 * and the definition exactly as before.
 */
async function refused(
  t: TestRoot,
  args: string[],
  status: number,
  message: string | RegExp,
): Promise<void> {
  const treeBefore = await snapshotTree(t.root);
  const rowsBefore = await rows(t);
  const out = await t.run(["genimage", ...args]);
  assertEquals(out.status, status, out.stderr);
  const line = out.stderr.trimEnd().split("\n")[0]!.replaceAll(t.root, "<root>");
  if (typeof message === "string") assertEquals(line, message);
  else ok(message.test(line), line);
  assertEquals(await snapshotTree(t.root), treeBefore);
  assertEquals(await rows(t), rowsBefore);
  assertEquals(await mountsBelow(t.root), []);
}

/** A site whose image has every attribute genimage needs, before a test breaks one. */
async function site(t: TestRoot, osimage: Record<string, string> = {}, linux = {}) {
  await writeSiteFile(t.root, "/install/custom/compute.pkglist", "bash\n");
  await Deno.mkdir(`${t.root}/install/rocky9.3/x86_64`, { recursive: true });
  await defineGenimageImage(t.root, IMAGE, {
    osvers: "rocky9.3",
    osarch: "x86_64",
    profile: "compute",
    ...osimage,
  }, { pkglist: "/install/custom/compute.pkglist", pkgdir: "/install/rocky9.3/x86_64", ...linux });
}

Deno.test("genimage refuses an unknown image", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["nosuchimage"],
    1,
    "Error: Could not find an object named 'nosuchimage' of type 'osimage'.",
  );
});

Deno.test("genimage refuses an install image (provmethod it does not build)", async () => {
  await using t = await testRoot();
  await site(t, { provmethod: "install" });
  await refused(
    t,
    [IMAGE],
    1,
    `Error: genimage builds netboot and statelite images; the osimage '${IMAGE}' has provmethod=install.`,
  );
});

Deno.test("genimage refuses an osvers no distro provider builds", async () => {
  await using t = await testRoot();
  await site(t, { osvers: "win2019" });
  await refused(t, [IMAGE], 1, /^Error: genimage cannot build osvers=win2019: no distro provider/);
});

Deno.test("genimage refuses an image without pkglist", async () => {
  await using t = await testRoot();
  await site(t, {}, { pkglist: "" });
  await refused(
    t,
    [IMAGE],
    1,
    `Error: The osimage '${IMAGE}' has no pkglist: set it with 'chdef -t osimage -o ${IMAGE} pkglist=<file>'.`,
  );
});

Deno.test("genimage refuses a pkglist file that does not exist", async () => {
  await using t = await testRoot();
  await site(t, {}, { pkglist: "/install/custom/missing.pkglist" });
  await refused(
    t,
    [IMAGE],
    1,
    "Error: The pkglist specified '/install/custom/missing.pkglist' does not exist!",
  );
});

Deno.test("genimage refuses a pkgdir without repository data", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    [IMAGE],
    1,
    /^Error: pkgdir \/install\/rocky9\.3\/x86_64 holds no repository data/,
  );
});

Deno.test("genimage refuses a postinstall script that does not exist", async () => {
  await using t = await testRoot();
  await site(t, {}, { postinstall: "/install/custom/nothere.sh" });
  await refused(
    t,
    [IMAGE],
    1,
    "Error: The postinstall script '/install/custom/nothere.sh' does not exist.",
  );
});

Deno.test("genimage refuses a postinstall script that is not executable", async () => {
  await using t = await testRoot();
  await writeSiteFile(t.root, "/install/custom/post.sh", "#!/bin/sh\n", 0o644);
  await site(t, {}, { postinstall: "/install/custom/post.sh arg" });
  await refused(
    t,
    [IMAGE],
    1,
    "Error: The postinstall script '/install/custom/post.sh' is not executable: chmod +x it.",
  );
});

Deno.test("genimage refuses a synclist it cannot read", async () => {
  await using t = await testRoot();
  await site(t, { synclists: "/install/custom/missing.synclist" });
  await refused(
    t,
    [IMAGE],
    1,
    "Error: Cannot sync files: the synclist '/install/custom/missing.synclist' cannot be read.",
  );
});

Deno.test("genimage refuses a netdriver that is not a module name", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["-n", "virtio_net,../../etc/x", IMAGE],
    1,
    "Error: genimage -n netdrivers: '../../etc/x' is not a kernel module name.",
  );
});

Deno.test("genimage refuses a rootlimit that is not a size", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["-l", "2 GB", IMAGE],
    1,
    "Error: genimage -l rootlimit '2 GB' is not a size such as 2g or 800m.",
  );
});

Deno.test("genimage refuses -m other than statelite (usage, exit 2)", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["-m", "stateful", IMAGE],
    2,
    "Error: genimage: -m takes 'statelite', not 'stateful'.",
  );
});

Deno.test("genimage refuses -o/-p/-a with an image name, as xCAT does (exit 2)", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["-o", "rocky9.3", IMAGE],
    2,
    "Error: -o, -p and -a options are not allowed when a image name is specified.",
  );
});

Deno.test("genimage --onlyinitrd refuses an image whose rootimg does not exist", async () => {
  await using t = await testRoot();
  await site(t);
  await refused(
    t,
    ["--onlyinitrd", IMAGE],
    1,
    `Error: Cannot rebuild the initrd of '${IMAGE}': /install/netboot/rocky9.3/x86_64/compute/rootimg does not exist; run 'genimage ${IMAGE}' without --onlyinitrd first.`,
  );
});

Deno.test("genimage: no kernel in the image names the distro's kernel package; nothing is written", async () => {
  await using t = await testRoot();
  await defineGenimageImage(t.root, "debian12-compute", {
    osvers: "debian12",
    osarch: "x86_64",
    profile: "compute",
  });
  await Deno.mkdir(`${t.root}${rootimgdirOf("debian12", "compute")}/rootimg/usr/bin`, {
    recursive: true,
  });
  await refused(
    t,
    ["--onlyinitrd", "debian12-compute"],
    1,
    "Error: There is no kernel in /install/netboot/debian12/x86_64/compute/rootimg/boot: add linux-image-amd64 to the pkglist and run genimage again.",
  );
});

Deno.test("genimage: -k naming a kernel the image lacks lists the ones it has; nothing is written", async () => {
  await using t = await testRoot();
  await defineGenimageImage(t.root, "debian12-compute", {
    osvers: "debian12",
    osarch: "x86_64",
    profile: "compute",
  });
  const version = await addKernelPayload(
    `${t.root}${rootimgdirOf("debian12", "compute")}/rootimg`,
  );
  await refused(
    t,
    ["--onlyinitrd", "-k", "9.9.9-1-amd64", "debian12-compute"],
    1,
    `Error: The kernel 9.9.9-1-amd64 (-k or linuximage.kernelver) is not in /install/netboot/debian12/x86_64/compute/rootimg (it has ${version}): install it through the pkglist or name an installed kernel with -k.`,
  );
});

Deno.test("genimage: a -n driver the kernel lacks fails before anything is replaced; the earlier kernel and initrd stay", async () => {
  await using t = await testRoot();
  await defineGenimageImage(t.root, "debian12-compute", {
    osvers: "debian12",
    osarch: "x86_64",
    profile: "compute",
  });
  await addKernelPayload(`${t.root}${rootimgdirOf("debian12", "compute")}/rootimg`);
  await t.ok(["genimage", "--onlyinitrd", "debian12-compute"]);
  await refused(
    t,
    ["--onlyinitrd", "-n", "osimg_no_such_nic", "debian12-compute"],
    1,
    /^Error: Cannot build the netboot initrd: kernel \S+ has no module osimg_no_such_nic/,
  );
});

Deno.test("genimage: a failing postinstall is reported with its last lines, exit 1, nothing left mounted", async () => {
  await using t = await testRoot();
  await rpmSite(t.root, IMAGE, "echo 'cannot configure the frobnicator' >&2\nexit 3\n");
  const out = await t.run(["genimage", IMAGE]);
  assertEquals(out.status, 1, out.stderr);
  const lines = out.stderr.replaceAll(t.root, "<root>").split("\n");
  assertEquals(
    lines[0],
    "Error: postinstall script /install/custom/netboot/rh/compute.postinstall failed (exit code 3): cannot configure the frobnicator",
  );
  ok(lines.includes("  cannot configure the frobnicator"), out.stderr);
  assertEquals(await mountsBelow(t.root), []);
  // Nothing was written back: the run did not finish.
  const lsdef = await t.ok(["lsdef", "-t", "osimage", "-o", IMAGE, "-i", "rootimgdir"]);
  assertEquals(lsdef.stdout, `Object name: ${IMAGE}\n    rootimgdir=\n`);
});

Deno.test("genimage refuses to mount on an image's /proc that is a symbolic link (it would mount outside the image)", async () => {
  await using t = await testRoot();
  const { rootimgdir } = await rpmSite(t.root, IMAGE);
  await t.ok(["genimage", IMAGE]);
  const rootimg = `${t.root}${rootimgdir}/rootimg`;
  const outside = `${t.root}/outside`;
  await Deno.mkdir(outside);
  await Deno.remove(`${rootimg}/proc`);
  await Deno.symlink(outside, `${rootimg}/proc`);
  const out = await t.run(["genimage", IMAGE]);
  assertEquals(out.status, 1, out.stderr);
  assertEquals(
    out.stderr.split("\n")[0]!.replaceAll(t.root, "<root>"),
    "Error: Cannot mount proc in the image: <root>/install/netboot/rocky9.3/x86_64/compute/rootimg/proc " +
      "is not a directory (a link or file there would take the mount out of the image); replace it " +
      "with an empty directory",
  );
  assertEquals(await mountsBelow(t.root), []);
  assertEquals([...Deno.readDirSync(outside)], []);
});
