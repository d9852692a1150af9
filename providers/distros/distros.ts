// The distro families and the distros xCAT knows by osvers: each one's platform directory
// (the `<platform>` of /opt/xcat/share/xcat/{install,netboot}/<platform>/ and /install/custom/...)
// and, for the ones genimage builds, their release, package manager and default net drivers.

import type { PackageManagerName } from "../package_managers/package_manager.ts";

/** The package-manager family a distro belongs to. */
export type DistroFamily = "rhel" | "sles" | "debian" | "windows" | "vmware";

/** One distro as osvers names it. */
export interface Distro {
  name: string;
  family: DistroFamily;
  /** Matches the osvers values of this distro (rhels9.2, rocky9.3, sles15.5, ubuntu22.04...). */
  osvers: RegExp;
  /** xCAT's platform directory name ("" where imgport has none). */
  platform: string;
  /**
   * imgexport collects, and imgimport requires, no boot files for its images (xCAT: "this is
   * an esx image"): a hypervisor boots from its installed media.
   */
  noBootFiles?: boolean;
  /** How genimage builds a diskless root of this distro; absent: genimage does not. */
  image?: ImageBuild;
}

/** One release of a distro, as genimage hands it to the package manager. */
export interface DistroRelease {
  osvers: string;
  major: number;
  minor?: number;
  /** The package manager's `$releasever` (`--releasever`). */
  releasever: string;
  /** dnf's `module_platform_id` (EL 8 and later, Fedora): modular streams need it. */
  modulePlatformId?: string;
  /** The Debian or Ubuntu suite (`bookworm`, `noble`). */
  codename?: string;
  /** Where the image's rpm database lives (rpm's `%_dbpath`). */
  rpmDatabase?: string;
}

/** What genimage needs from a distro: the parts where families differ, as data. */
export interface ImageBuild {
  /** The release an osvers names, or undefined when this distro has no such release. */
  release(osvers: string): DistroRelease | undefined;
  /** The package manager that builds this release's root. */
  packageManager(release: DistroRelease): PackageManagerName;
  /**
   * The network drivers put in the initrd after the ones `-n` names, by osarch
   * (imgutils.pm default_net_drivers); an arch not listed has none.
   */
  netdrivers: Readonly<Record<string, readonly string[]>>;
  /** The package that puts a kernel in /boot for `osarch` (named when genimage finds none). */
  kernelPackage(osarch: string): string;
}

/** The first number and an optional `.N` or `spN` minor of an osvers (rhels9.2, sles15sp5). */
function versionOf(osvers: string): { major: number; minor?: number } | undefined {
  const match = /(\d+)(?:(?:\.|sp)(\d+))?/.exec(osvers);
  if (!match) return undefined;
  const minor = match[2] === undefined ? undefined : Number(match[2]);
  return minor === undefined ? { major: Number(match[1]) } : { major: Number(match[1]), minor };
}

/** EL 10 and Fedora 36 moved the rpm database under /usr (SLE 15 did it first). */
const SYSIMAGE_RPM = "/usr/lib/sysimage/rpm";
const VAR_LIB_RPM = "/var/lib/rpm";

/** Red Hat and its rebuilds: `$releasever` is the major version, modules since EL 8. */
function enterpriseLinuxRelease(osvers: string): DistroRelease | undefined {
  const version = versionOf(osvers);
  if (!version || version.major < 5) return undefined;
  return {
    osvers,
    ...version,
    releasever: String(version.major),
    ...(version.major >= 8 ? { modulePlatformId: `platform:el${version.major}` } : {}),
    rpmDatabase: version.major >= 10 ? SYSIMAGE_RPM : VAR_LIB_RPM,
  };
}

function fedoraRelease(osvers: string): DistroRelease | undefined {
  const version = versionOf(osvers);
  if (!version) return undefined;
  return {
    osvers,
    major: version.major,
    releasever: String(version.major),
    modulePlatformId: `platform:f${version.major}`,
    rpmDatabase: version.major >= 36 ? SYSIMAGE_RPM : VAR_LIB_RPM,
  };
}

/** SLES and openSUSE Leap: `$releasever` is `15.5`. */
function suseRelease(osvers: string): DistroRelease | undefined {
  const version = versionOf(osvers);
  if (!version) return undefined;
  return {
    osvers,
    ...version,
    releasever: version.minor === undefined
      ? String(version.major)
      : `${version.major}.${version.minor}`,
    rpmDatabase: version.major >= 15 ? SYSIMAGE_RPM : VAR_LIB_RPM,
  };
}

/** A Debian-like release: the suite comes from the version (`ubuntu22.04.3` → 22.04 → jammy). */
function suiteRelease(
  codenames: Readonly<Record<string, string>>,
  key: (version: { major: number; minor?: number }) => string,
): (osvers: string) => DistroRelease | undefined {
  return (osvers) => {
    const version = versionOf(osvers);
    if (!version) return undefined;
    const codename = codenames[key(version)];
    if (!codename) return undefined;
    return { osvers, ...version, releasever: key(version), codename };
  };
}

/**
 * imgutils.pm's default_net_drivers for rh (mlx_en is xCAT's alias of mlx4_en), with virtio_pci
 * before virtio_net: xCAT's dracut initrd pulls the virtio transport in by itself, osimg's
 * busybox initrd loads only what the list names, and virtio_net finds no device without it.
 */
const RH_NETDRIVERS = {
  x86: [
    "tg3",
    "bnx2",
    "bnx2x",
    "e1000",
    "e1000e",
    "igb",
    "mlx_en",
    "mlx5_core",
    "virtio_pci",
    "virtio_net",
    "be2net",
  ],
  x86_64: [
    "tg3",
    "bnx2",
    "bnx2x",
    "e1000",
    "e1000e",
    "igb",
    "mlx_en",
    "mlx5_core",
    "virtio_pci",
    "virtio_net",
    "be2net",
  ],
  aarch64: [
    "tg3",
    "bnx2",
    "bnx2x",
    "e1000e",
    "igb",
    "mlx_en",
    "mlx5_core",
    "virtio_pci",
    "virtio_net",
  ],
  riscv64: [
    "e1000",
    "e1000e",
    "igb",
    "ixgbe",
    "r8169",
    "tg3",
    "bnx2x",
    "mlx5_core",
    "virtio_pci",
    "virtio_net",
  ],
  ppc64: ["e1000", "e1000e", "igb", "ibmveth", "ehea"],
  s390x: ["qdio", "ccwgroup"],
} as const;

const SLES_NETDRIVERS = {
  x86: [
    "tg3",
    "bnx2",
    "bnx2x",
    "e1000",
    "e1000e",
    "virtio_pci",
    "virtio_net",
    "virtio_balloon",
    "igb",
    "mlx4_en",
    "mlx5_core",
    "be2net",
  ],
  x86_64: [
    "tg3",
    "bnx2",
    "bnx2x",
    "e1000",
    "e1000e",
    "virtio_pci",
    "virtio_net",
    "virtio_balloon",
    "igb",
    "mlx4_en",
    "mlx5_core",
    "be2net",
  ],
  ppc64: ["tg3", "e1000", "e1000e", "igb", "ibmveth", "ehea", "be2net"],
  s390x: ["qdio", "ccwgroup", "qeth", "qeth_l2", "qeth_l3"],
} as const;

/** xCAT's ubuntu list; its debian genimage has none of its own, so Debian shares it. */
const DEBIAN_NETDRIVERS = {
  x86: [
    "tg3",
    "bnx2",
    "bnx2x",
    "e1000",
    "e1000e",
    "igb",
    "mlx_en",
    "mlx5_core",
    "virtio_pci",
    "virtio_net",
    "overlay",
  ],
  x86_64: [
    "tg3",
    "bnx2",
    "bnx2x",
    "e1000",
    "e1000e",
    "igb",
    "mlx_en",
    "mlx5_core",
    "virtio_pci",
    "virtio_net",
    "overlay",
  ],
  ppc64el: [
    "tg3",
    "bnx2",
    "bnx2x",
    "e1000",
    "e1000e",
    "igb",
    "ibmveth",
    "ehea",
    "mlx_en",
    "mlx4_en",
    "mlx5_core",
    "virtio_pci",
    "virtio_net",
    "overlay",
  ],
  ppc64: ["e1000", "e1000e", "igb", "ibmveth", "ehea"],
  riscv64: [
    "e1000",
    "e1000e",
    "igb",
    "ixgbe",
    "r8169",
    "tg3",
    "bnx2x",
    "mlx5_core",
    "virtio_pci",
    "virtio_net",
    "overlay",
  ],
  s390x: ["qdio", "ccwgroup"],
} as const;

/** The RHEL family base: dnf from EL 8 on, yum before (imgutils.pm rpm_installroot_command). */
const ENTERPRISE_LINUX: ImageBuild = {
  release: enterpriseLinuxRelease,
  packageManager: (release) => release.major > 7 ? "dnf" : "yum",
  netdrivers: RH_NETDRIVERS,
  kernelPackage: () => "kernel",
};

const FEDORA: ImageBuild = {
  ...ENTERPRISE_LINUX,
  release: fedoraRelease,
  // Fedora 22 replaced yum with dnf.
  packageManager: (release) => release.major >= 22 ? "dnf" : "yum",
};

const SUSE: ImageBuild = {
  release: suseRelease,
  packageManager: () => "zypper",
  netdrivers: SLES_NETDRIVERS,
  kernelPackage: () => "kernel-default",
};

const UBUNTU: ImageBuild = {
  release: suiteRelease(
    {
      "18.04": "bionic",
      "20.04": "focal",
      "22.04": "jammy",
      "24.04": "noble",
      "26.04": "resolute",
    },
    (version) => `${version.major}.${String(version.minor ?? 0).padStart(2, "0")}`,
  ),
  packageManager: () => "apt",
  netdrivers: DEBIAN_NETDRIVERS,
  kernelPackage: () => "linux-image-generic",
};

const DEBIAN: ImageBuild = {
  ...UBUNTU,
  release: suiteRelease(
    { "10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie" },
    (version) => String(version.major),
  ),
  // Debian's meta-package per architecture (linux-image-amd64, linux-image-arm64...).
  kernelPackage: (osarch) =>
    `linux-image-${
      ({
        x86_64: "amd64",
        aarch64: "arm64",
        ppc64le: "powerpc64le",
        ppc64el: "powerpc64le",
      } as Record<string, string>)[osarch] ?? osarch
    }`,
};

/**
 * Every distro, in the order xCAT's imgport matches osvers (first match wins: "rhels" is rh).
 * debian is not in imgport's list (it yields no platform there); it is here because xCAT ships
 * /opt/xcat/share/xcat/netboot/debian.
 */
export const DISTROS: readonly Distro[] = [
  { name: "rhel", family: "rhel", osvers: /rh/, platform: "rh", image: ENTERPRISE_LINUX },
  // centos-stream9 too: its dnf $releasever is "9", as CentOS Stream's own repo files expect.
  { name: "centos", family: "rhel", osvers: /centos/, platform: "centos", image: ENTERPRISE_LINUX },
  { name: "alma", family: "rhel", osvers: /alma/, platform: "alma", image: ENTERPRISE_LINUX },
  { name: "rocky", family: "rhel", osvers: /rocky/, platform: "rocky", image: ENTERPRISE_LINUX },
  { name: "fedora", family: "rhel", osvers: /fedora/, platform: "fedora", image: FEDORA },
  { name: "sles", family: "sles", osvers: /sles/, platform: "sles", image: SUSE },
  { name: "scientific", family: "rhel", osvers: /SL/, platform: "SL", image: ENTERPRISE_LINUX },
  { name: "windows", family: "windows", osvers: /win/, platform: "windows" },
  { name: "ubuntu", family: "debian", osvers: /ubuntu/, platform: "ubuntu", image: UBUNTU },
  { name: "debian", family: "debian", osvers: /debian/, platform: "debian", image: DEBIAN },
  // Not in imgport's platform list either (no platform), but tested apart by imgport (/esx/).
  { name: "esx", family: "vmware", osvers: /esx/, platform: "", noBootFiles: true },
  // Not in imgport's list (no platform there); xCAT's genimage has netboot/ol and takes
  // leap15* as sles (genimage.pm).
  { name: "ol", family: "rhel", osvers: /^ol\d/, platform: "", image: ENTERPRISE_LINUX },
  { name: "leap", family: "sles", osvers: /^(?:leap|opensuse)/, platform: "", image: SUSE },
];

/** The distro an osvers belongs to, or undefined. */
export function distroOf(osvers: string): Distro | undefined {
  return DISTROS.find((distro) => distro.osvers.test(osvers));
}

/** What genimage builds for an osvers: its distro, how it builds, and the release. */
export interface ImageTarget {
  distro: Distro;
  build: ImageBuild;
  release: DistroRelease;
}

/**
 * The distro and release genimage builds for `osvers`, or undefined when no distro builds it
 * (an unknown distro, Windows, ESXi) or the distro has no such release (`ubuntu21.10`).
 *
 * @example
 * ```ts
 * imageTargetOf("rocky9.3")?.release.releasever; // "9"
 * imageTargetOf("ubuntu24.04")?.release.codename; // "noble"
 * ```
 */
export function imageTargetOf(osvers: string): ImageTarget | undefined {
  const distro = distroOf(osvers);
  const build = distro?.image;
  const release = build?.release(osvers);
  return distro && build && release ? { distro, build, release } : undefined;
}
