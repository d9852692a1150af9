// The distro families and the distros xCAT knows by osvers: each one's platform directory
// (the `<platform>` of /opt/xcat/share/xcat/{install,netboot}/<platform>/ and /install/custom/...).

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
}

/**
 * Every distro, in the order xCAT's imgport matches osvers (first match wins: "rhels" is rh).
 * debian is not in imgport's list (it yields no platform there); it is here because xCAT ships
 * /opt/xcat/share/xcat/netboot/debian.
 */
export const DISTROS: readonly Distro[] = [
  { name: "rhel", family: "rhel", osvers: /rh/, platform: "rh" },
  { name: "centos", family: "rhel", osvers: /centos/, platform: "centos" },
  { name: "alma", family: "rhel", osvers: /alma/, platform: "alma" },
  { name: "rocky", family: "rhel", osvers: /rocky/, platform: "rocky" },
  { name: "fedora", family: "rhel", osvers: /fedora/, platform: "fedora" },
  { name: "sles", family: "sles", osvers: /sles/, platform: "sles" },
  { name: "scientific", family: "rhel", osvers: /SL/, platform: "SL" },
  { name: "windows", family: "windows", osvers: /win/, platform: "windows" },
  { name: "ubuntu", family: "debian", osvers: /ubuntu/, platform: "ubuntu" },
  { name: "debian", family: "debian", osvers: /debian/, platform: "debian" },
  // Not in imgport's platform list either (no platform), but tested apart by imgport (/esx/).
  { name: "esx", family: "vmware", osvers: /esx/, platform: "", noBootFiles: true },
];

/** The distro an osvers belongs to, or undefined. */
export function distroOf(osvers: string): Distro | undefined {
  return DISTROS.find((distro) => distro.osvers.test(osvers));
}
