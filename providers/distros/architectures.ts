// The machine architectures (osimage.osarch) whose images xCAT handles apart from the rest.

/** One architecture as osarch names it. */
export interface Architecture {
  name: string;
  /** xCAT's unanchored test of the osarch value (imgport.pm: `$osarch =~ /s390x/`). */
  osarch: RegExp;
  /**
   * Its diskless, raw and sysclone images are disk images (`*.img` DASD images under z/VM)
   * rather than a kernel, an initrd and a root image (see Provmethod.rawImages).
   */
  rawDiskImages: boolean;
}

/**
 * The architectures with a rule of their own, in one static table; an osarch not listed
 * (x86_64, ppc64le, aarch64...) boots from kernel, initrd and root image.
 */
export const ARCHITECTURES: readonly Architecture[] = [
  { name: "s390x", osarch: /s390x/, rawDiskImages: true },
];

/** The architecture an osarch value belongs to (first match), or undefined. */
export function architectureOf(osarch: string): Architecture | undefined {
  return ARCHITECTURES.find((architecture) => architecture.osarch.test(osarch));
}
