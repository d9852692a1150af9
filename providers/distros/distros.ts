// The distro families and the distros xCAT knows by osvers: each one's platform directory
// (the `<platform>` of /opt/xcat/share/xcat/{install,netboot}/<platform>/ and /install/custom/...)
// and what nodeset needs to boot it (install media files and arguments, netboot quirks).

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
  /** How nodeset boots its images; undefined: it cannot (Windows, ESXi). */
  boot?: DistroBoot;
}

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
  { name: "rhel", family: "rhel", osvers: /rh/, platform: "rh", boot: RHEL_BOOT },
  { name: "centos", family: "rhel", osvers: /centos/, platform: "centos", boot: RHEL_BOOT },
  { name: "alma", family: "rhel", osvers: /alma/, platform: "alma", boot: RHEL_BOOT },
  { name: "rocky", family: "rhel", osvers: /rocky/, platform: "rocky", boot: RHEL_BOOT },
  { name: "fedora", family: "rhel", osvers: /fedora/, platform: "fedora", boot: RHEL_BOOT },
  { name: "sles", family: "sles", osvers: /sles/, platform: "sles", boot: SLES_BOOT },
  { name: "scientific", family: "rhel", osvers: /SL/, platform: "SL", boot: RHEL_BOOT },
  { name: "windows", family: "windows", osvers: /win/, platform: "windows" },
  { name: "ubuntu", family: "debian", osvers: /ubuntu/, platform: "ubuntu", boot: DEBIAN_BOOT },
  { name: "debian", family: "debian", osvers: /debian/, platform: "debian", boot: DEBIAN_BOOT },
  // Not in imgport's platform list either (no platform), but tested apart by imgport (/esx/).
  { name: "esx", family: "vmware", osvers: /esx/, platform: "", noBootFiles: true },
];

/** The distro an osvers belongs to, or undefined. */
export function distroOf(osvers: string): Distro | undefined {
  return DISTROS.find((distro) => distro.osvers.test(osvers));
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
