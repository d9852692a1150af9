// SUSE media metadata (media.1/media, media.1/products, content) and how xCAT names SLE/SLES discs from it.

/** media.N/media: who made the disc, its build, and how many discs the set has. */
export interface SuseMedia {
  /** Line 1: the disc's identity ("SLE-15-SP5-Full-x86_64-GM-Media1", or a vendor on old discs). */
  identity: string;
  /** Line 2: the build ("20230516-0"). */
  build: string;
  /** Line 3: the number of discs in the set ("1"); "" when absent. */
  discCount: string;
}

/** Parses media.N/media (one value a line). */
export function parseSuseMedia(text: string): SuseMedia {
  const lines = text.split("\n").map((line) => line.trim());
  return { identity: lines[0] ?? "", build: lines[1] ?? "", discCount: lines[2] ?? "" };
}

/** One line of media.N/products: the product's directory on the disc, its name and version. */
export interface SuseProduct {
  directory: string;
  name: string;
  version: string;
}

/** Parses media.N/products: `<directory> <name> <version>` lines, blank lines skipped. */
export function parseSuseProducts(text: string): SuseProduct[] {
  const products: SuseProduct[] = [];
  for (const line of text.split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words.length < 2 || words[0] === "") continue;
    products.push({ directory: words[0]!, name: words[1]!, version: words.slice(2).join(" ") });
  }
  return products;
}

/** Parses an old SUSE `content` file: `KEY value...` lines; the first of a repeated key wins. */
export function parseSuseContent(text: string): ReadonlyMap<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^(\S+)\s*(.*?)\s*$/.exec(line);
    if (match && !values.has(match[1]!)) values.set(match[1]!, match[2]!);
  }
  return values;
}

/** How xCAT names a SUSE disc: osvers, the architecture it names (if any) and its disc slot. */
export interface SuseIdentity {
  distname: string;
  arch?: string;
  /** The directory under <installdir>/<osvers>/<arch>/ the disc is copied to ("1", "2"). */
  discno: string;
  /** Further slots the same disc serves (a Full disc holds the Packages disc: "2" → "1"). */
  alsoServes: string[];
}

/** The architecture a SUSE identity or product text names, as xCAT spells it. */
function suseArch(text: string): string | undefined {
  const match = /(x86_64|ppc64le|ppc64el|aarch64|s390x)/.exec(text);
  if (!match) return undefined;
  return match[1] === "ppc64el" ? "ppc64le" : match[1];
}

/**
 * The slot of a SLE 15 disc as xCAT's sles.pm assigns it: the Installer disc is "1", the
 * Packages disc "2", a Full disc "1" and serves "2" as well; a second medium of a set
 * ("…-Media2") goes to "installer2"/"packages2" so that it never overwrites the first.
 */
function sle15Slot(identity: string, kind: "installer" | "packages", primary: string): string {
  const medium = /Media(\d+)(?:\.iso)?/i.exec(identity);
  const number = medium ? Number(medium[1]) : /SOURCE/i.test(identity) ? 2 : undefined;
  return number !== undefined && number > 1 ? `${kind}${number}` : primary;
}

/**
 * Names a SLE 15 disc from media.1/media (xCAT: sles.pm copycd): the identity line holds
 * "SLE-15" (and "-SP<n>" for a service pack) and the disc's kind (Installer, Packages, Full or
 * SOURCE); the name is sle15 or sle15.<n>. Undefined for any other disc.
 *
 * @example
 * ```ts
 * sle15Identity(parseSuseMedia("SLE-15-SP5-Full-x86_64-GM-Media1\n20230516-0\n1\n"));
 * // { distname: "sle15.5", arch: "x86_64", discno: "1", alsoServes: ["2"] }
 * ```
 */
export function sle15Identity(media: SuseMedia): SuseIdentity | undefined {
  const identity = media.identity;
  if (!identity.includes("SLE-15")) return undefined;
  const servicePack = /SLE-15-SP(\d+)/.exec(identity);
  const distname = servicePack ? `sle15.${servicePack[1]}` : "sle15";
  const arch = suseArch(identity);
  const base = { distname, ...(arch ? { arch } : {}) };
  if (identity.includes("Installer")) {
    return { ...base, discno: sle15Slot(identity, "installer", "1"), alsoServes: [] };
  }
  if (identity.includes("Packages")) {
    return { ...base, discno: sle15Slot(identity, "packages", "2"), alsoServes: [] };
  }
  if (identity.includes("SOURCE")) return { ...base, discno: "2", alsoServes: [] };
  if (identity.includes("Full")) return { ...base, discno: "1", alsoServes: ["2"] };
  return undefined;
}

/**
 * Names an openSUSE Leap 15 disc from its .treeinfo ([release] name/version or [general]
 * family/version) or its media.1 files, as leap15.<minor>; undefined for anything else.
 */
export function leapIdentity(
  release: { name?: string; version?: string; arch?: string },
  media?: { identity: string; products: string },
): SuseIdentity | undefined {
  let version: string | undefined;
  let arch = release.arch;
  if (release.name !== undefined && /openSUSE\s+Leap/i.test(release.name)) {
    version = release.version;
  } else if (media && /openSUSE[-\s]+Leap/i.test(`${media.identity}\n${media.products}`)) {
    version = /openSUSE[-\s]+Leap\s+(\d+(?:\.\d+)?)/i.exec(media.products)?.[1] ??
      /openSUSE[-\s]+Leap[-\s]+(\d+(?:\.\d+)?)/i.exec(media.identity)?.[1];
    arch ??= suseArch(`${media.identity}\n${media.products}`);
  }
  const match = version === undefined ? null : /^15(?:\.(\d+))?$/.exec(version);
  if (!match) return undefined;
  const distname = match[1] === undefined ? "leap15" : `leap15.${match[1]}`;
  return { distname, ...(arch ? { arch } : {}), discno: "1", alsoServes: [] };
}

/**
 * Names an older SLES disc (11, 12) from its `content` file and media.1/products, as xCAT's
 * sles.pm does: the architecture from DEFAULTBASE, BASEARCHS or REPOID; the name sles<VERSION>,
 * or from a DISTRO/LABEL line ("sles:12:sp3," → sles12.3); an SDK disc goes to "sdk<N>".
 */
export function sleContentIdentity(
  content: ReadonlyMap<string, string>,
  products: SuseProduct[],
  discNumber: string,
): SuseIdentity | undefined {
  const arch = content.get("DEFAULTBASE")?.split(/\s+/)[0] ??
    content.get("BASEARCHS")?.split(/\s+/)[0] ??
    /\/(\S+)$/.exec(content.get("REPOID") ?? "")?.[1];
  if (!arch) return undefined;
  const product = products.map((item) => `${item.name} ${item.version}`).join("\n");
  if (
    !/SUSE-Linux-Enterprise-Server|SUSE-Linux-Enterprise-Software-Development-Kit|SLES|SDK/.test(
      product,
    )
  ) {
    return undefined;
  }
  let distname: string | undefined;
  const version = content.get("VERSION");
  if (version !== undefined) {
    const part = version.split(/\s+|-/)[0];
    if (part) distname = `sles${part}`;
  }
  for (const key of ["DISTRO", "LABEL"]) {
    if (distname !== undefined) break;
    const text = content.get(key) ?? "";
    const servicePack = /sles:(\d+):sp(\d+),/.exec(text);
    const plain = /sles:(\d+),/.exec(text);
    if (servicePack) distname = `sles${servicePack[1]}.${servicePack[2]}`;
    else if (plain) distname = `sles${plain[1]}`;
  }
  if (distname === undefined) return undefined;
  const sdk = /Software-Development-Kit|SDK/.test(product);
  const normalized = /i.86/.test(arch) ? "x86" : arch === "ppc64el" ? "ppc64le" : arch;
  return {
    distname,
    arch: normalized,
    discno: sdk ? `sdk${discNumber}` : discNumber,
    alsoServes: [],
  };
}
