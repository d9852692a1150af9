// The provisioning methods (osimage.provmethod): what each one means for the image's files.
// Core asks these members instead of comparing provmethod names.

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
}

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
