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
  /** The directory family of xCAT's stock and custom profile files (`/install/custom/<dir>/...`). */
  profileDir: "install" | "netboot";
  /** The image is installed to disk from a template (kickstart, autoyast, preseed). */
  usesTemplate: boolean;
}

/** Every provmethod osimg knows, in one static table. */
export const PROVMETHODS: readonly Provmethod[] = [
  {
    name: "install",
    disklessRoot: false,
    packable: false,
    statelite: false,
    profileDir: "install",
    usesTemplate: true,
  },
  {
    name: "netboot",
    disklessRoot: true,
    packable: true,
    statelite: false,
    profileDir: "netboot",
    usesTemplate: false,
  },
  {
    name: "statelite",
    disklessRoot: true,
    packable: false,
    statelite: true,
    profileDir: "netboot",
    usesTemplate: false,
  },
  {
    name: "sysclone",
    disklessRoot: false,
    packable: false,
    statelite: false,
    profileDir: "install",
    usesTemplate: false,
  },
];

const BY_NAME = new Map(PROVMETHODS.map((method) => [method.name, method]));

/**
 * The provmethod named `name`. xCAT also lets provmethod hold an osimage name on nodes and
 * other values (boottarget, dualboot, raw); those get undefined here.
 */
export function findProvmethod(name: string | undefined): Provmethod | undefined {
  return name === undefined ? undefined : BY_NAME.get(name.trim());
}
