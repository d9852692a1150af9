// Test support: distro media folders carrying each family's real metadata files, as the discs do.

import { join } from "node:path";

/** One disc of the fixtures: its metadata files and what xCAT names it. */
export interface MediaFixture {
  /** A short name for test titles. */
  label: string;
  /** Metadata files at their media paths. */
  metadata: Record<string, string>;
  /** What copycds -i prints for it. */
  distname: string;
  arch: string;
  discno?: string;
}

/** A pungi-style .treeinfo of an EL 8/9 DVD (BaseOS and AppStream variants). */
function elTreeinfo(family: string, short: string, version: string, timestamp: string): string {
  return `[checksums]
images/install.img = sha256:0000000000000000000000000000000000000000000000000000000000000000

[general]
; WARNING.0 = This section provides compatibility with pre-productmd treeinfos.
arch = x86_64
family = ${family}
name = ${family} ${version}
packagedir = AppStream/Packages
platforms = x86_64,xen
repository = AppStream
timestamp = ${timestamp}
variant = AppStream
variants = AppStream,BaseOS
version = ${version}

[header]
type = productmd.treeinfo
version = 1.2

[release]
name = ${family}
short = ${short}
version = ${version}

[tree]
arch = x86_64
build_timestamp = ${timestamp}
platforms = x86_64,xen
variants = AppStream,BaseOS

[variant-AppStream]
id = AppStream
name = AppStream
packages = AppStream/Packages
repository = AppStream
type = variant
uid = AppStream

[variant-BaseOS]
id = BaseOS
name = BaseOS
packages = BaseOS/Packages
repository = BaseOS
type = variant
uid = BaseOS
`;
}

function el(
  label: string,
  family: string,
  short: string,
  version: string,
  timestamp: string,
  description: string,
  distname: string,
): MediaFixture {
  const seconds = timestamp.split(".")[0]!;
  return {
    label,
    metadata: {
      ".discinfo": `${timestamp}\n${description}\nx86_64\nALL\n`,
      ".treeinfo": elTreeinfo(family, short, version, seconds),
      "media.repo":
        `[InstallMedia]\nname=${description}\nmediaid=None\nmetadata_expire=-1\ngpgcheck=0\ncost=500\n`,
    },
    distname,
    arch: "x86_64",
    discno: "ALL",
  };
}

/** The discs the copycds tests copy, one per family member the issue names. */
export const MEDIA_FIXTURES: readonly MediaFixture[] = [
  el(
    "RHEL 9.2",
    "Red Hat Enterprise Linux",
    "RHEL",
    "9.2",
    "1681421276.520925",
    "Red Hat Enterprise Linux 9.2",
    "rhels9.2",
  ),
  el(
    "RHEL 8.6",
    "Red Hat Enterprise Linux",
    "RHEL",
    "8.6",
    "1650472728.682141",
    "Red Hat Enterprise Linux 8.6",
    "rhels8.6.0",
  ),
  // Not in xCAT's timestamp table: named by the description rule.
  el(
    "RHEL 9.4",
    "Red Hat Enterprise Linux",
    "RHEL",
    "9.4",
    "1713282946.374102",
    "Red Hat Enterprise Linux 9.4",
    "rhels9.4",
  ),
  el(
    "Rocky 9.3",
    "Rocky Linux",
    "Rocky",
    "9.3",
    "1699827798.672747",
    "Rocky Linux 9.3",
    "rocky9.3",
  ),
  el("Alma 9.3", "AlmaLinux", "AlmaLinux", "9.3", "1699649961.901830", "AlmaLinux 9.3", "alma9.3"),
  el(
    "CentOS Stream 9",
    "CentOS Stream",
    "CentOS-Stream",
    "9",
    "1714037621.552188",
    "CentOS Stream 9",
    "centos-stream9",
  ),
  el(
    "Oracle Linux 9.2",
    "Oracle Linux",
    "OL",
    "9.2",
    "1683847829.061712",
    "Oracle Linux 9.2",
    "ol9.2",
  ),
  {
    label: "SLE 15 SP5 Full",
    metadata: {
      "media.1/media": "SLE-15-SP5-Full-x86_64-GM-Media1\n20230516-0\n1\n",
      "media.1/products":
        "/Module-Basesystem sle-module-basesystem 15.5-0\n/Module-Server-Applications sle-module-server-applications 15.5-0\n/Product-SLES SLES 15.5-0\n",
    },
    distname: "sle15.5",
    arch: "x86_64",
    discno: "1",
  },
  {
    label: "Ubuntu 22.04.3",
    metadata: {
      ".disk/info": 'Ubuntu-Server 22.04.3 LTS "Jammy Jellyfish" - Release amd64 (20230810)',
      "README.diskdefines":
        '#define DISKNAME  Ubuntu-Server 22.04.3 LTS "Jammy Jellyfish" - Release amd64\n#define TYPE  binary\n#define TYPEbinary  1\n#define ARCH  amd64\n#define ARCHamd64  1\n#define DISKNUM  1\n#define DISKNUM1  1\n#define TOTALNUM  0\n#define TOTALNUM0  1\n',
    },
    distname: "ubuntu22.04.3",
    arch: "x86_64",
    discno: "1",
  },
  {
    label: "Ubuntu 24.04",
    metadata: {
      ".disk/info": 'Ubuntu-Server 24.04 LTS "Noble Numbat" - Release amd64 (20240423)',
      "README.diskdefines":
        '#define DISKNAME  Ubuntu-Server 24.04 LTS "Noble Numbat" - Release amd64\n#define TYPE  binary\n#define ARCH  amd64\n#define DISKNUM  1\n#define TOTALNUM  0\n',
    },
    distname: "ubuntu24.04",
    arch: "x86_64",
    discno: "1",
  },
  {
    label: "Debian 12",
    metadata: {
      ".disk/info":
        'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 DVD Binary-1 with firmware 20240210-11:28',
      ".disk/base_components": "main\n",
    },
    distname: "debian12.5.0",
    arch: "x86_64",
    discno: "1",
  },
];

/**
 * Writes a media folder under `dir`: the fixture's metadata files plus a small tree like a
 * disc's (package directories, a boot image, a symlink, a read-only directory), with fixed
 * modes and mtimes. Returns the folder's path.
 */
export async function writeMediaTree(dir: string, fixture: MediaFixture): Promise<string> {
  const files: Record<string, string> = {
    ...fixture.metadata,
    "EULA": "The licence text of the disc.\n",
    "images/pxeboot/vmlinuz": "a kernel\n".repeat(200),
    "images/pxeboot/initrd.img": "an initrd\n".repeat(500),
    "BaseOS/Packages/bash-5.1.8-6.el9.x86_64.rpm": "rpm payload\n".repeat(64),
    "BaseOS/repodata/repomd.xml": "<repomd/>\n",
    "isolinux/isolinux.cfg": "default vesamenu.c32\n",
    "empty-file": "",
  };
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), content);
  }
  await Deno.mkdir(join(dir, "empty-dir"));
  await Deno.symlink("images/pxeboot", join(dir, "boot-images"));
  await Deno.chmod(join(dir, "EULA"), 0o444);
  await Deno.chmod(join(dir, "isolinux"), 0o555);
  await setTimes(dir, 1_700_000_000);
  return dir;
}

async function setTimes(dir: string, seconds: number): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isSymlink) continue;
    if (entry.isDirectory) await setTimes(path, seconds);
    await Deno.utime(path, seconds, seconds);
  }
  await Deno.utime(dir, seconds, seconds);
}
