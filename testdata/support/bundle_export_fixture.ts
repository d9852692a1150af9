// Test fixture for bundles: netboot, statelite and install images (rows, files, kit, node) in a test root.

import { INITRD_BYTES, PACKED_ROOT_BYTES } from "./bundle_testing.ts";
import { hostPath } from "../../core/paths.ts";
import { openSqliteStore } from "../../core/store/sqlite_store.ts";
import { DEFAULT_DB } from "../../main.ts";
import type { Row } from "../../core/store/store.ts";

export const NETBOOT = "rhels8.8.0-x86_64-netboot-compute";
export const STATELITE = "rhels8.8.0-x86_64-statelite-compute";
export const INSTALL = "rhels8.8.0-x86_64-install-compute";
export const KIT = "xlc-13.1.6-0-rhels-7-x86_64";
export const NETBOOT_DIR = "/install/netboot/rhels8.8.0/x86_64/compute";
export const STATELITE_DIR = "/install/netboot/rhels8.8.0/x86_64/statelite";

/** Table rows of the fixture, by table. */
export const FIXTURE_ROWS: Record<string, Row[]> = {
  osimage: [
    {
      imagename: NETBOOT,
      profile: "compute",
      imagetype: "linux",
      provmethod: "netboot",
      nfsrootopts: "vers=4",
      osdistroname: "rhels8.8.0-x86_64",
      osname: "Linux",
      osvers: "rhels8.8.0",
      osarch: "x86_64",
      synclists: "/install/custom/netboot/rh/compute.synclist",
    },
    {
      imagename: STATELITE,
      profile: "compute",
      imagetype: "linux",
      provmethod: "statelite",
      rootfstype: "nfs",
      osname: "Linux",
      osvers: "rhels8.8.0",
      osarch: "x86_64",
    },
    {
      imagename: INSTALL,
      profile: "compute",
      imagetype: "linux",
      provmethod: "install",
      osname: "Linux",
      osvers: "rhels8.8.0",
      osarch: "x86_64",
      kitcomponents: `xlc.rte-compute-13.1.6-0-rhels-7-x86_64`,
    },
  ],
  linuximage: [
    {
      imagename: NETBOOT,
      pkglist: "/install/custom/netboot/rh/compute.rhels8.x86_64.pkglist",
      otherpkglist: "/install/custom/netboot/rh/compute.otherpkgs.pkglist",
      exlist: "/install/custom/netboot/rh/compute.rhels8.x86_64.exlist",
      postinstall: "/install/custom/netboot/rh/compute.rhels8.x86_64.postinstall",
      rootimgdir: NETBOOT_DIR,
      netdrivers: "e1000,virtio_net",
    },
    {
      imagename: STATELITE,
      pkglist: "/install/custom/netboot/rh/compute.rhels8.x86_64.pkglist",
      rootimgdir: STATELITE_DIR,
      permission: "755",
    },
    {
      imagename: INSTALL,
      template: "/install/custom/install/rh/compute.rhels8.tmpl",
      pkglist: "/install/custom/install/rh/compute.rhels8.pkglist",
      partitionfile: "/install/custom/my.partition",
    },
  ],
  litefile: [
    { image: "ALL", file: "/etc/adjtime", options: "tmpfs" },
    { image: "ALL", file: "/etc/ssh/" },
    { image: "other", file: "/opt/other" },
    { image: STATELITE, file: "/var/log/", options: "persistent" },
  ],
  nodelist: [{ node: "cn1", groups: "compute,all" }, { node: "cn2", groups: "all" }],
  postscripts: [
    { node: "xcatdefaults", postscripts: "syslog,remoteshell,syncfiles" },
    { node: "compute", postscripts: "myscript1", postbootscripts: "otherpkgs" },
    { node: "all", postscripts: "never-used" },
  ],
  kit: [{
    kitname: KIT,
    basename: "xlc",
    description: "XLC for Linux",
    kitdir: `/install/kits/${KIT}`,
    version: "13.1.6",
    release: "0",
  }],
  kitrepo: [{
    kitreponame: KIT,
    kitname: KIT,
    kitrepodir: `/install/kits/${KIT}/repos/${KIT}`,
  }],
  kitcomponent: [
    { kitcompname: "xlc.rte-compute-13.1.6-0-rhels-7-x86_64", kitname: KIT, basename: "xlc.rte" },
    {
      kitcompname: "xlc.compiler-compute-13.1.6-0-rhels-7-x86_64",
      kitname: KIT,
      basename: "xlc.compiler",
    },
  ],
};

/** Files of the fixture: management-node path -> content (a string, or a number of bytes). */
export const FIXTURE_FILES: Record<string, string | Uint8Array> = {
  [`${NETBOOT_DIR}/kernel`]: "kernel-bytes\n",
  // Real gzip'd cpio: imgimport and verify check that members are what their names say.
  [`${NETBOOT_DIR}/initrd-stateless.gz`]: INITRD_BYTES,
  [`${NETBOOT_DIR}/rootimg.cpio.gz`]: PACKED_ROOT_BYTES,
  [`${NETBOOT_DIR}/rootimg/etc/hostname`]: "node\n",
  [`${NETBOOT_DIR}/rootimg/usr/bin/tool`]: "#!/bin/sh\necho tool\n",
  "/install/custom/netboot/rh/compute.rhels8.x86_64.pkglist": "bash\nkernel\n",
  "/install/custom/netboot/rh/compute.otherpkgs.pkglist": "extra-pkg\n",
  "/install/custom/netboot/rh/compute.rhels8.x86_64.exlist": "./usr/share/doc*\n",
  "/install/custom/netboot/rh/compute.rhels8.x86_64.postinstall": "#!/bin/sh\nexit 0\n",
  "/install/custom/netboot/rh/compute.synclist": "/etc/hosts -> /etc/hosts\n",
  [`${STATELITE_DIR}/kernel`]: "lite-kernel\n",
  [`${STATELITE_DIR}/initrd-statelite.gz`]: INITRD_BYTES,
  [`${STATELITE_DIR}/rootimg/etc/fstab`]: "none / tmpfs\n",
  [`${STATELITE_DIR}/rootimg/etc/adjtime`]: "0.0 0 0.0\n",
  "/install/custom/install/rh/compute.rhels8.tmpl": "#kickstart\n",
  "/install/custom/install/rh/compute.rhels8.pkglist": "@core\n",
  [`/install/kits/${KIT}/kit.conf`]: "kit: xlc\n",
  [`/install/kits/${KIT}/repos/${KIT}/xlc.rpm`]: "rpm-bytes",
  [`/install/kits/${KIT}/other_files/xlc.postscript`]: "#!/bin/sh\n",
  "/install/postscripts/myscript1": "#!/bin/sh\necho my\n",
  "/tmp/mydir/a.conf": "a=1\n",
  "/tmp/mydir/sub/b.conf": "b=2\n",
  "/tmp/other/myscript1": "a different script with the same basename\n",
};

/** Writes the fixture's rows and files into `root`, with fixed mtimes. */
export async function buildFixture(root: string): Promise<void> {
  const store = openSqliteStore(hostPath(root, DEFAULT_DB));
  try {
    await store.write(async (writer) => {
      for (const [table, rows] of Object.entries(FIXTURE_ROWS)) {
        for (const row of rows) await writer.upsert(table, row);
      }
    });
  } finally {
    store.close();
  }
  for (const [path, content] of Object.entries(FIXTURE_FILES)) {
    const host = hostPath(root, path);
    await Deno.mkdir(host.slice(0, host.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(host, content);
    else await Deno.writeFile(host, content);
  }
  await Deno.chmod(hostPath(root, "/install/postscripts/myscript1"), 0o755);
  await Deno.chmod(hostPath(root, `${NETBOOT_DIR}/rootimg/usr/bin/tool`), 0o755);
  await Deno.symlink("hostname", hostPath(root, `${NETBOOT_DIR}/rootimg/etc/hostname.link`));
  await Deno.symlink("../kit.conf", hostPath(root, `/install/kits/${KIT}/repos/kit.conf.link`));
  await Deno.link(
    hostPath(root, `${STATELITE_DIR}/rootimg/etc/fstab`),
    hostPath(root, `${STATELITE_DIR}/rootimg/etc/fstab.hardlink`),
  );
  await Deno.symlink("/etc/fstab", hostPath(root, `${STATELITE_DIR}/rootimg/etc/mtab`));
  // Fixed times so the default epoch (the newest input) is known: 2023-11-14T22:13:20Z.
  await setTimes(root, 1_700_000_000);
}

/** Sets every file's and directory's mtime under `root/install` and `root/tmp`. */
export async function setTimes(root: string, seconds: number): Promise<void> {
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      if (!entry.isSymlink) await Deno.utime(path, seconds, seconds);
    }
    await Deno.utime(dir, seconds, seconds);
  };
  for (const top of ["/install", "/tmp"]) await walk(hostPath(root, top));
}
