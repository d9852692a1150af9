// The distro families and the distros xCAT knows by osvers: each one's platform directory
// (the `<platform>` of /opt/xcat/share/xcat/{install,netboot}/<platform>/ and /install/custom/...)
// and, for the ones genimage builds, their release, package manager and default net drivers,
// and what nodeset needs to boot it (install media files and arguments, netboot quirks).

import type { PackageManagerName } from "../package_managers/package_manager.ts";

import {
  argument,
  flag,
  httpPrefix,
  type InstallArgsInput,
  type KernelArgument,
  serialConsole,
  serverUrl,
} from "../provmethods/node_boot.ts";
import { InvalidInputError } from "../../core/errors.ts";

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
  /** How nodeset boots its images; undefined: it cannot (Windows, ESXi). */
  boot?: DistroBoot;
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

/** A network-boot file on the install media: the first existing candidate, staged as `stagedAs`. */
export interface MediaBootFile {
  /** Paths relative to the image's pkgdir, in xCAT's search order. */
  candidates: readonly string[];
  /** Its name in `<tftpdir>/xcat/osimage/<image>/`. */
  stagedAs: string;
}

/** What differs between distro families when nodeset boots their images. */
export interface DistroBoot {
  /** The install media's network-boot kernel and initrd for an osarch (anaconda/sles/debian.pm mkinstall). */
  installFiles(osarch: string): { kernel: MediaBootFile; initrd: MediaBootFile };
  /** The installer's arguments: repository, answer file, boot NIC, console. */
  installArgs(input: InstallArgsInput): KernelArgument[];
  /** Its initrds are dracut's (statelite mounts `root=nfs:` rather than `NFSROOT=`). */
  dracut(osvers: string): boolean;
  /** Diskless nodes of these osvers boot with `selinux=0`. */
  selinuxOff(osvers: string): boolean;
  /** pxelinux's `IPAPPEND 2` breaks these installers (xCAT: fedora12/13). */
  noIpappend(osvers: string): boolean;
  /** Kernels advertising an EFI stub that UEFI iPXE must not start directly (xCAT: SLES 11). */
  efiStubBroken(osvers: string): boolean;
}

/** The major version in an osvers (`rhels9.2` → 9), or undefined. */
function majorVersion(osvers: string): number | undefined {
  const match = /^\D*(\d+)/.exec(osvers);
  return match ? Number(match[1]) : undefined;
}

/** RHEL and its rebuilds, Fedora, Scientific Linux (anaconda.pm). */
const RHEL_BOOT: DistroBoot = {
  installFiles(osarch) {
    if (/ppc/.test(osarch)) {
      return {
        kernel: { candidates: ["ppc/ppc64/vmlinuz", "ppc/ppc64le/vmlinuz"], stagedAs: "vmlinuz" },
        initrd: {
          candidates: [
            "ppc/ppc64/ramdisk.image.gz",
            "ppc/ppc64/initrd.img",
            "ppc/ppc64le/initrd.img",
          ],
          stagedAs: "initrd.img",
        },
      };
    }
    return {
      kernel: { candidates: ["images/pxeboot/vmlinuz"], stagedAs: "vmlinuz" },
      initrd: { candidates: ["images/pxeboot/initrd.img"], stagedAs: "initrd.img" },
    };
  },
  installArgs({ image, node, site, net }) {
    const server = node.installServer;
    const legacy = (majorVersion(image.osvers) ?? 7) < 7;
    // EL 7 moved the installer's options under inst.; older ones take the bare names.
    const args = [
      argument(legacy ? "repo" : "inst.repo", ...serverUrl(site, server), httpPrefix(image)),
      argument(
        legacy ? "ks" : "inst.ks",
        ...serverUrl(site, server),
        `/install/autoinst/${node.name}`,
      ),
    ];
    if (legacy) {
      args.push(argument("ksdevice", net.nicname && !net.setmac ? net.nicname : net.mac));
    } else if (/ppc/.test(image.osarch)) {
      args.push(argument("BOOTIF", net.mac));
    }
    if (!legacy) {
      args.push(
        net.nicname && !net.setmac ? argument("ip", `${net.nicname}:dhcp`) : argument("ip", "dhcp"),
      );
    }
    if (site.debugMode !== undefined) {
      if (legacy) {
        if (site.debugMode === "2") args.push(argument("sshd", "1"));
        args.push(argument("syslog", server));
      } else {
        if (site.debugMode === "2") args.push(flag("inst.sshd"));
        args.push(argument("inst.loglevel", "debug"), argument("inst.syslog", server));
      }
    }
    if (node.serial) args.push(flag(legacy ? "cmdline" : "inst.cmdline"));
    args.push(...serialConsole(node, image.osarch, /(hard|cts|ctsrts)/));
    return args;
  },
  dracut(osvers) {
    const match = /(rhels|rhel|centos|alma|rocky|ol|SL)(\d+)/.exec(osvers);
    if (match) return Number(match[2]) >= 6;
    const fedora = /fedora(\d+)/.exec(osvers);
    return fedora !== null && Number(fedora[1]) >= 12;
  },
  selinuxOff: (osvers) => /(fedora12|fedora13|(?:rhels|ol|alma|rocky)(?:[7-9]|10))/.test(osvers),
  noIpappend: (osvers) => /fedora12|fedora13/.test(osvers),
  efiStubBroken: () => false,
};

/** SUSE Linux Enterprise and openSUSE Leap (sles.pm). */
const SLES_BOOT: DistroBoot = {
  installFiles(osarch) {
    const dir = osarch === "x86_64"
      ? "1/boot/x86_64/loader"
      : /^(i.86|x86)$/.test(osarch)
      ? "1/boot/i386/loader"
      : `1/boot/${osarch}`;
    return {
      kernel: { candidates: [`${dir}/linux`], stagedAs: "linux" },
      initrd: { candidates: [`${dir}/initrd`], stagedAs: "initrd" },
    };
  },
  installArgs({ image, node, site, net }) {
    const server = node.installServer;
    const args = [
      argument("autoyast", ...serverUrl(site, server), `/install/autoinst/${node.name}`),
      argument("install", ...serverUrl(site, server), `${httpPrefix(image)}/1`),
    ];
    if (/^leap15/.test(image.osvers)) args.push(argument("self_update", "0"));
    args.push(argument("netdevice", net.nicname && !net.setmac ? net.nicname : net.mac));
    args.push(
      ...serialConsole(
        node,
        image.osarch,
        /(ctsrts|cts|hard)/,
        /ppc64le/i.test(image.osarch) ? "hvc" : "ttyS",
      ),
    );
    // "the dhcp request may timeout due to spanning tree settings" on Power (sles.pm).
    if (/ppc/.test(image.osarch)) args.push(argument("dhcptimeout", "150"));
    return args;
  },
  dracut: (osvers) => (majorVersion(osvers) ?? 0) >= 12,
  selinuxOff: () => false,
  noIpappend: () => false,
  efiStubBroken: (osvers) => /^sles?11(?:\.|$)/i.test(osvers),
};

/** Debian and Ubuntu (debian.pm): debian-installer preseed, or Ubuntu's subiquity autoinstall. */
const DEBIAN_BOOT: DistroBoot = {
  installFiles(osarch) {
    const debianArch = osarch === "x86_64" ? "amd64" : osarch === "aarch64" ? "arm64" : "ppc64el";
    if (/ppc64/i.test(osarch)) {
      return {
        kernel: {
          candidates: [`install/netboot/ubuntu-installer/${debianArch}/vmlinux`, "install/vmlinux"],
          stagedAs: "vmlinuz",
        },
        initrd: {
          candidates: [
            `install/netboot/ubuntu-installer/${debianArch}/initrd.gz`,
            "install/netboot/initrd.gz",
          ],
          stagedAs: "initrd.img",
        },
      };
    }
    return {
      kernel: {
        candidates: [
          `install/hwe-netboot/ubuntu-installer/${debianArch}/linux`,
          `install/netboot/ubuntu-installer/${debianArch}/linux`,
          "install/netboot/vmlinuz",
          "casper/hwe-vmlinuz",
          "casper/vmlinuz",
        ],
        stagedAs: "vmlinuz",
      },
      initrd: {
        candidates: [
          `install/hwe-netboot/ubuntu-installer/${debianArch}/initrd.gz`,
          `install/netboot/ubuntu-installer/${debianArch}/initrd.gz`,
          "install/netboot/initrd.gz",
          "casper/hwe-initrd",
          "casper/initrd",
        ],
        stagedAs: "initrd.img",
      },
    };
  },
  installArgs({ image, node, site, net }) {
    const server = node.installServer;
    const http = ["http://", server, `:${site.httpPort}`] as const;
    const args: KernelArgument[] = [
      flag("nofb"),
      flag("utf8"),
      flag("auto"),
      argument("xcatd", server),
    ];
    const ubuntu = /ubuntu(\d+\.\d+)/.exec(image.osvers);
    if (ubuntu && Number(ubuntu[1]) >= 20.04 && /subiquity/.test(image.template ?? "")) {
      // Subiquity reads its autoinstall data from a cloud-init NoCloud source; `---` ends the
      // installer's arguments (what follows is kept for the installed system).
      args.push(
        flag("autoinstall"),
        argument("ip", "dhcp"),
        argument("netboot", "nfs"),
        argument("nfsroot", server, `:${image.pkgdir}`),
        argument("ds", `nocloud-net;s=`, ...http, `/install/autoinst/${node.name}/`),
        flag("---"),
      );
    } else {
      args.push(
        argument("url", ...http, `/install/autoinst/${node.name}`),
        argument("mirror/http/hostname", server, `:${site.httpPort}`),
        argument("priority", "critical"),
        argument("netcfg/choose_interface", net.nicname ?? net.mac),
      );
    }
    args.push(...serialConsole(node, image.osarch, /(hard|cts|ctsrts)/));
    args.push(argument("locale", "en_US"), argument("hostname", node.name));
    return args;
  },
  dracut: () => false,
  selinuxOff: () => false,
  noIpappend: () => false,
  efiStubBroken: () => false,
};

/**
 * Every distro, in the order xCAT's imgport matches osvers (first match wins: "rhels" is rh).
 * debian is not in imgport's list (it yields no platform there); it is here because xCAT ships
 * /opt/xcat/share/xcat/netboot/debian.
 */
export const DISTROS: readonly Distro[] = [
  {
    name: "rhel",
    family: "rhel",
    osvers: /rh/,
    platform: "rh",
    image: ENTERPRISE_LINUX,
    boot: RHEL_BOOT,
  },
  // centos-stream9 too: its dnf $releasever is "9", as CentOS Stream's own repo files expect.
  {
    name: "centos",
    family: "rhel",
    osvers: /centos/,
    platform: "centos",
    image: ENTERPRISE_LINUX,
    boot: RHEL_BOOT,
  },
  {
    name: "alma",
    family: "rhel",
    osvers: /alma/,
    platform: "alma",
    image: ENTERPRISE_LINUX,
    boot: RHEL_BOOT,
  },
  {
    name: "rocky",
    family: "rhel",
    osvers: /rocky/,
    platform: "rocky",
    image: ENTERPRISE_LINUX,
    boot: RHEL_BOOT,
  },
  {
    name: "fedora",
    family: "rhel",
    osvers: /fedora/,
    platform: "fedora",
    image: FEDORA,
    boot: RHEL_BOOT,
  },
  { name: "sles", family: "sles", osvers: /sles/, platform: "sles", image: SUSE, boot: SLES_BOOT },
  {
    name: "scientific",
    family: "rhel",
    osvers: /SL/,
    platform: "SL",
    image: ENTERPRISE_LINUX,
    boot: RHEL_BOOT,
  },
  { name: "windows", family: "windows", osvers: /win/, platform: "windows" },
  {
    name: "ubuntu",
    family: "debian",
    osvers: /ubuntu/,
    platform: "ubuntu",
    image: UBUNTU,
    boot: DEBIAN_BOOT,
  },
  {
    name: "debian",
    family: "debian",
    osvers: /debian/,
    platform: "debian",
    image: DEBIAN,
    boot: DEBIAN_BOOT,
  },
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

/**
 * How nodeset boots images of a distro it does not know (an osvers of a site's own naming):
 * diskless images boot with no distro quirk; install entries need the media layout, which only
 * a known distro has.
 */
const UNKNOWN_DISTRO_BOOT: DistroBoot = {
  installFiles(): never {
    throw new InvalidInputError(
      "nodeset does not know this distro's install media layout (osvers names no known distro)",
    );
  },
  installArgs(): never {
    throw new InvalidInputError(
      "nodeset does not know this distro's installer (osvers names no known distro)",
    );
  },
  dracut: () => true,
  selinuxOff: () => false,
  noIpappend: () => false,
  efiStubBroken: () => false,
};

/**
 * The boot rules of the distro an osvers belongs to; undefined for a known distro nodeset cannot
 * boot (Windows, ESXi).
 */
export function distroBootOf(osvers: string): DistroBoot | undefined {
  const distro = distroOf(osvers);
  return distro === undefined ? UNKNOWN_DISTRO_BOOT : distro.boot;
}
