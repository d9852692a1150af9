// The provisioning methods (osimage.provmethod): what each one means for the image's files,
// and what a node given such an image boots (nodeset). Core asks these members instead of
// comparing provmethod names.

import type { DistroBoot } from "../distros/distros.ts";
import {
  argument,
  BOOT_SERVER,
  type BootImageFacts,
  type BootNodeFacts,
  type BootSiteFacts,
  flag,
  type KernelArgument,
  netParams,
  serialConsole,
  serverUrl,
} from "./node_boot.ts";
import { InvalidInputError } from "../../core/errors.ts";

/** A file a node's boot needs: the first existing candidate in `dir`. */
export interface BootFileNeed {
  /** What it is to the entry: the kernel, an initrd, or the root image the arguments name. */
  role: "kernel" | "initrd" | "root";
  /** The directory searched (a management path). */
  dir: string;
  /** File names (or paths below `dir`) in search order. */
  candidates: readonly string[];
  /**
   * Its name in `<tftpdir>/xcat/osimage/<image>/`, where nodeset copies it once per image;
   * undefined: used where it is (it must then lie under the TFTP root, or be the root image).
   */
  stagedAs?: string;
  /** xCAT's message when no candidate exists. */
  missing: string;
}

/** What nodeset gives a provmethod to build a node's kernel arguments. */
export interface BootArgsInput {
  image: BootImageFacts;
  node: BootNodeFacts;
  site: BootSiteFacts;
  distro: DistroBoot;
  /** The file found for each need, by role (`root`: the packed root's name). */
  found: Readonly<Partial<Record<BootFileNeed["role"], string>>>;
}

/** How nodeset boots a node with an image of this provmethod. */
export interface ProvmethodBoot {
  /** chain.currstate names the profile (`<method> <os>-<arch>-<profile>`); sysclone's does not. */
  stateHasProfile: boolean;
  /** nodeset also sets chain.currchain=boot: after installing, the node boots its disk. */
  chainsToBoot: boolean;
  /** `nodeset boot` keeps nodetype.provmethod: the node's disk holds the image. */
  keptOnBoot: boolean;
  /** The files the entry needs (image problems are thrown as InvalidInputError). */
  needs(
    image: BootImageFacts,
    distro: DistroBoot,
    packedRootNames: readonly string[],
  ): BootFileNeed[];
  /** The kernel arguments (node problems are thrown as InvalidInputError). */
  args(input: BootArgsInput): KernelArgument[];
  /**
   * nodeset builds the image's deploy environment (kernel, initrd, archive) before it plans,
   * when it is missing or older than the image (sysclone).
   */
  deployEnvironment?: boolean;
  /** The image's directory when it is not linuximage.rootimgdir (management path). */
  imageDir?(installDir: string, image: string): string;
}

/** One provisioning method of xCAT's osimage.provmethod. */
export interface Provmethod {
  name: string;
  /** The image is a diskless root tree under linuximage.rootimgdir (rootimg/, kernel, initrds). */
  disklessRoot: boolean;
  /** packimage packs its rootimg/ into rootimg.{cpio,tar}.* or rootimg.sfs. */
  packable: boolean;
  /** liteimg prepares it; bundles carry rootimgtree.gz and litefile.csv and its litefile rows. */
  statelite: boolean;
  /**
   * genimage builds its root, kernel and initrds (xCAT: provmethod netboot or statelite); the
   * initrds it gets besides initrd-stateless.gz (statelite: initrd-statelite.gz too).
   */
  genimage?: { initrds: readonly ("stateless" | "statelite")[] };
  /** The directory family of xCAT's stock and custom profile files (`/install/custom/<dir>/...`). */
  profileDir: "install" | "netboot";
  /**
   * The image is installed to disk from a template (kickstart, autoyast, preseed): imgexport
   * searches for one when linuximage.template is empty, and imgimport requires it.
   */
  usesTemplate: boolean;
  /**
   * xCAT's unanchored test of the provmethod value (imgport.pm: `$provmethod =~ /netboot/`).
   * {@linkcode matchProvmethod} tries them in table order, so the table order is xCAT's.
   */
  pattern: RegExp;
  /** The osarch values the method is supported on (xCAT: sysclone on s390x only); undefined: any. */
  supportedOsarch?: RegExp;
  /** Its bundle says `<media>required</media>`: imgimport needs the distro's media (copycds). */
  needsMedia: boolean;
  /**
   * The boot files its bundle carries (xCAT get_files) and imgimport requires (verify_manifest,
   * in its check order); undefined: none.
   */
  bootFiles?: {
    /** The initrd in rootimgdir. */
    ramdisk: string;
    /** The packed root image (rootimg.*), or the `rootimg/` tree with the litefile rows. */
    root: "packed" | "tree";
    /** Manifest fields imgimport requires, in xCAT's order. */
    required: readonly ("kernel" | "ramdisk" | "rootimg" | "rootimgtree")[];
  };
  /**
   * On an architecture whose images are raw disk images (providers/distros/architectures.ts), the
   * bundle carries the `*.img` files of `<installdir>/<dir>/<osvers>/<osarch>/<profile>` instead
   * of boot files. `required`: what imgimport reports when they are missing — "section" names a
   * missing <rawimagefiles> section and an empty one apart, "files" reports both as no files,
   * "none" requires nothing (xCAT's verify_manifest, quirks kept).
   */
  rawImages?: { dir: string; required: "section" | "files" | "none" };
  /** How nodeset boots its nodes; undefined: nodeset cannot (raw). */
  boot?: ProvmethodBoot;
}

/** `XCAT=<master>:<port>` and the flags every diskless boot passes after its root. */
function xcatArg(node: BootNodeFacts, site: BootSiteFacts): KernelArgument {
  return argument("XCAT", node.master, `:${site.xcatdPort}`);
}

/** `nonodestatus`, `XCATHTTPPORT=` and the debug arguments of diskless boots (anaconda.pm mknetboot). */
function disklessSiteArgs(node: BootNodeFacts, site: BootSiteFacts): KernelArgument[] {
  const args: KernelArgument[] = [];
  if (!site.nodeStatus) args.push(flag("nonodestatus"));
  args.push(argument("XCATHTTPPORT", site.httpPort));
  if (site.debugMode !== undefined) {
    args.push(
      argument("LOGSERVER", node.master),
      argument("syslog.server", node.master),
      argument("syslog.type", "rsyslogd"),
      argument("syslog.filter", "*.*"),
      argument("xcatdebugmode", site.debugMode),
    );
  }
  return args;
}

/** The boot NIC, serial console, SELinux and kdump arguments of diskless boots. */
function disklessNodeArgs(input: BootArgsInput): KernelArgument[] {
  const { image, node, distro } = input;
  const args: KernelArgument[] = [];
  const net = netParams(node, image.nodebootif);
  if (net.nicname && !net.setmac) args.push(argument("netdev", net.nicname));
  else if (net.setmac || /ppc/.test(image.osarch)) args.push(argument("BOOTIF", net.mac));
  // xCAT's netboot tests `hard|tcs|ctsrts` (so `cts` gets no n8r), unlike its installers.
  args.push(...serialConsole(node, image.osarch, /(hard|tcs|ctsrts)/));
  if (distro.selinuxOff(image.osvers)) args.push(argument("selinux", "0"));
  if (image.dump) {
    const size = image.crashkernelsize || (/86/.test(image.osarch) ? "128M" : undefined);
    if (size) args.push(argument("crashkernel", size), argument("dump", image.dump));
  }
  return args;
}

/** `imgurl=<method>://<server>:<port>/<rootimgdir>/<file>`: xCAT's double slash kept, as nodes parse it. */
function imgurl(input: BootArgsInput, file: string): KernelArgument {
  return argument(
    "imgurl",
    ...serverUrl(input.site, input.node.imageServer),
    `/${input.image.rootimgdir}/${file}`,
  );
}

/**
 * `imgservers=<ip>[,<ip>...]`, the pool's other image servers (none without a pool): osimg's
 * initrd fails over to them with imgurl='s path. Not in imgurl= itself, so that an initrd of
 * xCAT's own (one URL) still boots from the first server.
 */
function imgservers(node: BootNodeFacts): KernelArgument[] {
  const servers = node.poolImageServers ?? [];
  return servers.length === 0 ? [] : [argument("imgservers", servers.join(","))];
}

/** The nodeset messages for a diskless image's files (anaconda.pm mknetboot). */
function disklessKernelNeeds(image: BootImageFacts, verb: string): BootFileNeed[] {
  return [
    {
      role: "kernel",
      dir: image.rootimgdir,
      candidates: ["kernel"],
      stagedAs: "kernel",
      missing:
        `Did you run "genimage" before running "${verb}"? kernel cannot be found at ${image.rootimgdir}/kernel`,
    },
  ];
}

/** statelite.statemnt's mount options and `MNTOPTS=`, last on the line with no default. */
function stateliteTail(node: BootNodeFacts): KernelArgument[] {
  return [argument("MNTOPTS", node.mntopts ?? "")];
}

/** noderes.nfsserver-relative NFS directory of a statelite root (anaconda.pm). */
function stateliteNfsDir(image: BootImageFacts, node: BootNodeFacts): string {
  if (!node.nfsdir) return image.rootimgdir;
  // "if nfsdir starts with //, then use a absolute path, i.e. do not append xCATisms".
  if (node.nfsdir.startsWith("//")) return node.nfsdir.slice(1);
  return `${node.nfsdir}/netboot/${image.osvers}/${image.osarch}/${image.profile}`;
}

/** osimage.nfsrootopts as extra mount options after `ro`. */
function nfsRootOptions(image: BootImageFacts): string[] {
  const options = (image.nfsrootopts ?? "").split(",").map((option) => option.trim())
    .filter((option) => option !== "");
  for (const option of options) {
    if (/[\s"']/.test(option) || option === "ro" || option === "rw") {
      throw new InvalidInputError(
        `The nfsrootopts '${image.nfsrootopts}' of the osimage '${image.name}' is invalid: ` +
          `'${option}' is not an NFS mount option nodeset can add (the root is always mounted ro).`,
      );
    }
  }
  return options;
}

const NETBOOT_BOOT: ProvmethodBoot = {
  stateHasProfile: true,
  chainsToBoot: false,
  keptOnBoot: false,
  needs(image, _distro, packedRootNames) {
    return [
      ...disklessKernelNeeds(image, "packimage"),
      {
        role: "initrd",
        dir: image.rootimgdir,
        // xCAT copies a legacy initrd.gz to initrd-stateless.gz; nodeset stages it under that name.
        candidates: ["initrd-stateless.gz", "initrd.gz"],
        stagedAs: "initrd-stateless.gz",
        missing:
          `Did you run "genimage" before running "packimage"? initrd-stateless.gz cannot be found at ${image.rootimgdir}/initrd-stateless.gz`,
      },
      {
        role: "root",
        dir: image.rootimgdir,
        candidates: packedRootNames,
        missing:
          `No packed image for platform ${image.osvers}, architecture ${image.osarch}, and profile ${image.profile} found at ${image.rootimgdir}/rootimg.gz or ${image.rootimgdir}/rootimg.sfs, please run packimage (e.g.  packimage ${image.name})`,
      },
    ];
  },
  args(input) {
    const { node, site } = input;
    return [
      imgurl(input, input.found.root!),
      ...imgservers(node),
      xcatArg(node, site),
      argument("NODE", node.name),
      argument("FC", site.flowControl),
      ...disklessSiteArgs(node, site),
      ...disklessNodeArgs(input),
    ];
  },
};

const STATELITE_BOOT: ProvmethodBoot = {
  stateHasProfile: true,
  chainsToBoot: false,
  keptOnBoot: false,
  needs(image, distro) {
    const ramdisk = image.rootfstype === "ramdisk";
    // A ramdisk statelite root is unpacked by the stateless initrd on dracut distros.
    const initrd = ramdisk && distro.dracut(image.osvers)
      ? "initrd-stateless.gz"
      : "initrd-statelite.gz";
    const needs: BootFileNeed[] = [
      ...disklessKernelNeeds(image, "liteimg"),
      {
        role: "initrd",
        dir: image.rootimgdir,
        candidates: [initrd, "initrd.gz"],
        stagedAs: initrd,
        missing:
          `Did you run "genimage" before running "liteimg"? initrd.gz or ${initrd} cannot be found at ${image.rootimgdir}/initrd.gz`,
      },
    ];
    if (ramdisk) {
      needs.push({
        role: "root",
        dir: image.rootimgdir,
        candidates: ["rootimg-statelite.gz"],
        missing:
          `No packed image for platform ${image.osvers}, architecture ${image.osarch} and profile ${image.profile}, please run "liteimg" to create it.`,
      });
    }
    return needs;
  },
  args(input) {
    const { image, node, site, distro } = input;
    const args: KernelArgument[] = [];
    if (image.rootfstype === "ramdisk") {
      args.push(imgurl(input, input.found.root!));
    } else {
      const dir = stateliteNfsDir(image, node);
      args.push(
        distro.dracut(image.osvers)
          ? argument(
            "root",
            "nfs:",
            node.imageServer,
            `:${dir}/rootimg:${["ro", ...nfsRootOptions(image)].join(",")}`,
          )
          : argument("NFSROOT", node.imageServer, `:${dir}`),
      );
    }
    args.push(
      argument("STATEMNT", node.statemnt ?? ""),
      xcatArg(node, site),
      argument("NODE", node.name),
      ...disklessSiteArgs(node, site),
      ...disklessNodeArgs(input),
      ...stateliteTail(node),
    );
    return args;
  },
};

const INSTALL_BOOT: ProvmethodBoot = {
  stateHasProfile: true,
  chainsToBoot: true,
  keptOnBoot: true,
  needs(image, distro) {
    const files = distro.installFiles(image.osarch);
    const missing = `Install image not found in ${image.pkgdir}`;
    return [
      { role: "kernel", dir: image.pkgdir, ...files.kernel, missing },
      { role: "initrd", dir: image.pkgdir, ...files.initrd, missing },
    ];
  },
  args(input) {
    return input.distro.installArgs({
      image: input.image,
      node: input.node,
      site: input.site,
      net: netParams(input.node),
    });
  },
};

/** The files of a sysclone image's deploy environment, in its deploy directory. */
export const SYSCLONE_DEPLOY_FILES = {
  kernel: "kernel",
  initrd: "initrd-sysclone.gz",
  /** The image repository as one tar, which the deploy initrd streams onto the disk. */
  archive: "rootimg.tar",
  /** A digest of what the files were built from (core/sysclone/deploy_environment.ts). */
  stamp: "deploy.stamp",
  /** Every path of the image with its metadata and sha256, for updates of cloned nodes. */
  manifest: "rootimg.manifest",
  /** The image's file contents by sha256 (`files/<sha256>`), what an update fetches. */
  objects: "files",
} as const;

/**
 * Where a sysclone image lives (management paths): its repository (the golden client's files,
 * xCAT's `<installdir>/sysclone/images/<image>`), the disk layout captured beside it, and the
 * deploy environment osimg builds from them.
 */
export function syscloneDirectories(
  installDir: string,
  image: string,
): { repository: string; layout: string; deploy: string } {
  return {
    repository: `${installDir}/sysclone/images/${image}`,
    layout: `${installDir}/sysclone/images/${image}.layout.json`,
    deploy: `${installDir}/sysclone/deploy/${image}`,
  };
}

const SYSCLONE_BOOT: ProvmethodBoot = {
  stateHasProfile: false,
  chainsToBoot: true,
  keptOnBoot: true,
  deployEnvironment: true,
  imageDir: (installDir, image) => syscloneDirectories(installDir, image).repository,
  needs(image) {
    // osimg's own deploy environment (not xCAT's genesis and SystemImager), which nodeset
    // builds from the image before it plans (core/sysclone/deploy_environment.ts).
    const dir = syscloneDirectories(image.installDir, image.name).deploy;
    const missing = (file: string) =>
      `The sysclone deploy environment of ${image.name} has no ${dir}/${file}: run nodeset again without --noupdateinitrd`;
    return [
      {
        role: "kernel",
        dir,
        candidates: [SYSCLONE_DEPLOY_FILES.kernel],
        stagedAs: SYSCLONE_DEPLOY_FILES.kernel,
        missing: missing(SYSCLONE_DEPLOY_FILES.kernel),
      },
      {
        role: "initrd",
        dir,
        candidates: [SYSCLONE_DEPLOY_FILES.initrd],
        stagedAs: SYSCLONE_DEPLOY_FILES.initrd,
        missing: missing(SYSCLONE_DEPLOY_FILES.initrd),
      },
      {
        role: "root",
        dir,
        candidates: [SYSCLONE_DEPLOY_FILES.archive],
        missing: missing(SYSCLONE_DEPLOY_FILES.archive),
      },
    ];
  },
  args({ image, node, site }) {
    const net = netParams(node, image.nodebootif);
    const deploy = syscloneDirectories(image.installDir, image.name).deploy;
    // Served by the management node's HTTP server, where xCAT's httpd publishes installdir.
    const path = "/install" + deploy.slice(image.installDir.length);
    const args: KernelArgument[] = [
      argument(
        "imgurl",
        ...serverUrl(site, node.imageServer),
        `${path}/${SYSCLONE_DEPLOY_FILES.archive}`,
      ),
      xcatArg(node, site),
      argument("NODE", node.name),
    ];
    // Otherwise the loader appends BOOTIF (IPAPPEND 2, iPXE, grub2), as for netboot.
    if (net.nicname && !net.setmac) args.push(argument("netdev", net.nicname));
    else if (net.setmac) args.push(argument("BOOTIF", net.mac));
    args.push(...serialConsole(node, image.osarch, /(hard|cts|ctsrts)/, "ttyS"));
    return args;
  },
};

/** The boot server's placeholder, re-exported for core's resolution of noderes.xcatmaster. */
export { BOOT_SERVER };

/**
 * Every provmethod osimg knows, in one static table, in the order xCAT's imgport tests them
 * (install, netboot, statelite, raw, sysclone: a value matching two is the first one's).
 */
export const PROVMETHODS: readonly Provmethod[] = [
  {
    name: "install",
    disklessRoot: false,
    packable: false,
    statelite: false,
    profileDir: "install",
    usesTemplate: true,
    pattern: /install/,
    needsMedia: true,
    boot: INSTALL_BOOT,
  },
  {
    name: "netboot",
    disklessRoot: true,
    packable: true,
    statelite: false,
    genimage: { initrds: ["stateless"] },
    profileDir: "netboot",
    usesTemplate: false,
    pattern: /netboot/,
    needsMedia: false,
    bootFiles: {
      ramdisk: "initrd-stateless.gz",
      root: "packed",
      required: ["ramdisk", "kernel", "rootimg"],
    },
    rawImages: { dir: "netboot", required: "section" },
    boot: NETBOOT_BOOT,
  },
  {
    name: "statelite",
    disklessRoot: true,
    packable: false,
    statelite: true,
    genimage: { initrds: ["stateless", "statelite"] },
    profileDir: "netboot",
    usesTemplate: false,
    pattern: /statelite/,
    needsMedia: false,
    bootFiles: {
      ramdisk: "initrd-statelite.gz",
      root: "tree",
      required: ["kernel", "ramdisk", "rootimgtree"],
    },
    boot: STATELITE_BOOT,
  },
  {
    name: "raw",
    disklessRoot: false,
    packable: false,
    statelite: false,
    profileDir: "netboot",
    usesTemplate: false,
    pattern: /raw/,
    needsMedia: false,
    rawImages: { dir: "raw", required: "none" },
  },
  {
    name: "sysclone",
    disklessRoot: false,
    packable: false,
    statelite: false,
    profileDir: "install",
    usesTemplate: false,
    pattern: /sysclone/,
    supportedOsarch: /s390x/,
    needsMedia: false,
    rawImages: { dir: "sysclone", required: "files" },
    boot: SYSCLONE_BOOT,
  },
];

const BY_NAME = new Map(PROVMETHODS.map((method) => [method.name, method]));

/**
 * The provmethod named exactly `name` (trimmed). xCAT also lets provmethod hold an osimage name
 * on nodes and other values (boottarget, dualboot); those get undefined here.
 */
export function findProvmethod(name: string | undefined): Provmethod | undefined {
  return name === undefined ? undefined : BY_NAME.get(name.trim());
}

/**
 * The provmethod a value means to imgexport and imgimport: the first whose pattern matches,
 * unanchored, as xCAT's imgport tests it ("netboot-test" is netboot); undefined when none does.
 */
export function matchProvmethod(value: string): Provmethod | undefined {
  return PROVMETHODS.find((method) => method.pattern.test(value));
}

/**
 * Every provmethod whose pattern matches `value`: the checks xCAT makes independently of its
 * if/elsif chain (sysclone's osarch) apply to each.
 */
export function provmethodsMatching(value: string): Provmethod[] {
  return PROVMETHODS.filter((method) => method.pattern.test(value));
}
