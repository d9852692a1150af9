// The .disk/info line of Debian and Ubuntu media, and how xCAT names the disc from it (debian.pm copycd).

/** What xCAT reads from a Debian or Ubuntu disc's .disk/info. */
export interface DiskInfoIdentity {
  /** "Debian", "Ubuntu" or "Ubuntu-Server". */
  product: string;
  /** debian<version> or ubuntu<version> ("ubuntu22.04.3", "debian12.5.0"). */
  distname: string;
  /** The architecture as Debian spells it ("amd64", "arm64", "ppc64el", "i386"). */
  debianArch: string;
  /** The disc number ("1" from a DVD's "Binary-1"), "" when the line has none. */
  discno: string;
  /** A netinst disc (word 8 is NETINST). */
  netinst: boolean;
}

/**
 * Names a Debian or Ubuntu disc from the first line of .disk/info, by its space-separated words
 * as xCAT does. Ubuntu: word 1 the product, word 2 the version, the architecture word 7, or word
 * 8 when word 3 is "LTS" (`Ubuntu-Server 22.04.3 LTS "Jammy Jellyfish" - Release amd64
 * (20230810)`). Debian: the version word 3, the architecture word 7, the disc word 9
 * (`Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 DVD Binary-1 with firmware 20240210-11:28`).
 * Undefined for any other line. Unlike xCAT, a netinst disc's number is not taken from the
 * word "with": xCAT printed `DISCNO:with` for every Debian netinst disc.
 *
 * @example
 * ```ts
 * diskInfoIdentity('Ubuntu-Server 24.04 LTS "Noble Numbat" - Release amd64 (20240423)')?.distname;
 * // "ubuntu24.04"
 * ```
 */
export function diskInfoIdentity(text: string): DiskInfoIdentity | undefined {
  const line = text.split("\n")[0]!.replace(/\s+$/, "");
  const words = line.split(" ");
  const product = words[0]!;
  if (words[6] === undefined || words[6] === "") return undefined;
  if (product === "Debian") {
    const version = words[2] ?? "";
    const debianArch = words[6]!;
    const netinst = words[7] === "NETINST";
    const binary = /^Binary-(\d+)$/.exec(words[8] ?? "");
    return {
      product,
      distname: `debian${version}`,
      debianArch,
      discno: binary ? binary[1]! : netinst ? "1" : "",
      netinst,
    };
  }
  if (product === "Ubuntu" || product === "Ubuntu-Server") {
    const debianArch = words[2] === "LTS" ? words[7] : words[6];
    if (!debianArch) return undefined;
    return {
      product,
      distname: `ubuntu${words[1] ?? ""}`,
      debianArch,
      discno: "",
      netinst: false,
    };
  }
  return undefined;
}

/** The DISKNUM an Ubuntu disc's README.diskdefines declares (`#define DISKNUM 1`), or "". */
export function diskdefinesDiscNumber(text: string): string {
  return /^#define\s+DISKNUM\s+(\S+)/m.exec(text)?.[1] ?? "";
}

/**
 * A Debian architecture name as xCAT's osarch spells it: amd64 → x86_64, i?86 → x86, ppc64el
 * kept, other ppc/powerpc → ppc64; anything else as it is (arm64, s390x).
 */
export function debianArchToXcat(debianArch: string): string {
  if (/i.86/.test(debianArch)) return "x86";
  if (debianArch.includes("ppc64el")) return "ppc64el";
  if (debianArch.includes("ppc") || debianArch.includes("powerpc")) return "ppc64";
  if (debianArch.includes("amd64")) return "x86_64";
  return debianArch;
}
