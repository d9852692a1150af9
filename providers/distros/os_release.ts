// Which running system an osvers names: each distro's /etc/os-release IDs, and the version check
// imgcapture makes before it copies a node (a node defined as rhels9 must run RHEL 9).

import { distroOf } from "./distros.ts";

/** The os-release `ID` values of each distro (by its name in DISTROS). */
const OS_RELEASE_IDS: Readonly<Record<string, readonly string[]>> = {
  rhel: ["rhel"],
  centos: ["centos"],
  alma: ["almalinux"],
  rocky: ["rocky"],
  fedora: ["fedora"],
  sles: ["sles", "sled", "sle-micro"],
  scientific: ["scientific"],
  ubuntu: ["ubuntu"],
  debian: ["debian"],
  ol: ["ol"],
  leap: ["opensuse-leap", "opensuse"],
};

/** What a node runs, as its os-release says it: `debian 12`, `rocky 9.3`. */
export function describeOsRelease(osRelease: Readonly<Record<string, string>>): string {
  return `${osRelease.ID ?? "an unknown system"}${
    osRelease.VERSION_ID ? ` ${osRelease.VERSION_ID}` : ""
  }`;
}

/**
 * Whether a system whose /etc/os-release holds `osRelease` runs `osvers`: the distro's ID
 * matches, and the version numbers osvers gives are the leading ones of VERSION_ID (`rhels9`
 * matches 9.3, `rhels9.2` only 9.2, `debian12` matches 12). An osvers of no known distro cannot
 * be checked and is taken as given.
 *
 * @example
 * ```ts
 * osReleaseMatches("debian12", { ID: "debian", VERSION_ID: "12" }); // true
 * osReleaseMatches("rhels9.2", { ID: "rocky", VERSION_ID: "9.2" }); // false
 * ```
 */
export function osReleaseMatches(
  osvers: string,
  osRelease: Readonly<Record<string, string>>,
): boolean {
  const distro = distroOf(osvers);
  const ids = distro && OS_RELEASE_IDS[distro.name];
  if (!ids) return true;
  if (!ids.includes((osRelease.ID ?? "").toLowerCase())) return false;
  const wanted = /(\d+)(?:(?:\.|sp)(\d+))?/.exec(osvers);
  if (!wanted) return true;
  const running = (osRelease.VERSION_ID ?? "").split(/[.-]/).map((part) =>
    part.replace(/^sp/i, "")
  );
  const numbers = [wanted[1], wanted[2]].filter((part): part is string => part !== undefined);
  return numbers.every((part, index) => Number(part) === Number(running[index] ?? NaN));
}

/** The osvers prefix of each os-release `ID` (xCAT's names: rhels9.3, sles15.5, debian12). */
const OSVERS_PREFIXES: Readonly<Record<string, string>> = {
  rhel: "rhels",
  centos: "centos",
  almalinux: "alma",
  rocky: "rocky",
  fedora: "fedora",
  sles: "sles",
  sled: "sles",
  scientific: "SL",
  ubuntu: "ubuntu",
  debian: "debian",
  ol: "ol",
  "opensuse-leap": "leap",
};

/**
 * The osvers of a running system, from its /etc/os-release (`ID` and `VERSION_ID`, a SUSE
 * service pack as a minor version), or undefined when the distro or version is unknown.
 *
 * @example
 * ```ts
 * osversOfRelease({ ID: "debian", VERSION_ID: "12" }); // "debian12"
 * osversOfRelease({ ID: "sles", VERSION_ID: "15-SP5" }); // "sles15.5"
 * ```
 */
export function osversOfRelease(osRelease: Readonly<Record<string, string>>): string | undefined {
  const prefix = OSVERS_PREFIXES[(osRelease.ID ?? "").toLowerCase()];
  const version = /^(\d+)(?:(?:\.|-sp)(\d+))?/i.exec(osRelease.VERSION_ID ?? "");
  if (!prefix || !version) return undefined;
  return `${prefix}${version[1]}${version[2] !== undefined ? `.${version[2]}` : ""}`;
}
