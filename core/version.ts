// osimg's version, one constant: `--version` prints it and signatures' trusted comments carry it.

/** The version of this osimg. */
export const OSIMG_VERSION = "0.1.0";
