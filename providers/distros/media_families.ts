// The distro-media families copycds knows (xCAT's anaconda, sles and debian plugins): how each
// recognises its discs, names them, spells architectures, and which default osimages it gets.

import {
  debianArchToXcat,
  diskdefinesDiscNumber,
  diskInfoIdentity,
} from "../../formats/media/disk_info.ts";
import { discinfoDistname, parseDiscinfo } from "../../formats/media/discinfo.ts";
import {
  leapIdentity,
  parseSuseContent,
  parseSuseMedia,
  parseSuseProducts,
  sle15Identity,
  sleContentIdentity,
} from "../../formats/media/suse_products.ts";
import { parseTreeinfo, treeinfoValue } from "../../formats/media/treeinfo.ts";

/** Reads a small metadata file of the media as text (undefined when absent). */
export type MediaTextReader = (path: string) => Promise<string | undefined>;

/** What a family found on a disc. */
export interface MediaIdentity {
  /** The osvers xCAT gives the disc ("rhels9.2", "sle15.5", "ubuntu22.04.3"). */
  distname: string;
  /** The architecture the disc names, in xCAT's spelling; undefined when it names none. */
  arch?: string;
  /** What `-i` prints as DISCNO (the slot directory for families with discDirectories). */
  discno?: string;
  /** Further slots the disc serves (a SLE 15 Full disc is slot 1 and slot 2). */
  alsoServes: string[];
}

/** A provisioning method copycds makes a default osimage for. */
export type DefaultProvmethod = "install" | "netboot" | "statelite";

/** One family of distro media. */
export interface MediaFamily {
  name: "rhel" | "sles" | "debian";
  /** Whether an `-n <osver>` names a distro of this family (xCAT's plugins test a prefix). */
  acceptsName(osver: string): boolean;
  /** The disc's identity, or undefined when this family does not recognise it. */
  detectMedia(read: MediaTextReader): Promise<MediaIdentity | undefined>;
  /** An `-a` value or a disc's architecture in xCAT's spelling for this family. */
  normalizeArch(arch: string): string;
  /** xCAT's error when `-a` contradicts the disc. */
  archMismatch(requested: string, media: string): string;
  /** The disc is copied to <path>/<discno> (SLES), not to <path>. */
  discDirectories: boolean;
  /** When set, `-p` and `-w` are refused with this message (xCAT's debian plugin). */
  refusesPathAndNoOverwrite?: string;
  /** The default osimages' provisioning methods, in the order xCAT makes them. */
  provmethods: readonly DefaultProvmethod[];
  /**
   * xCAT's "generic os" of an osvers (SvrUtils `$genos`): the name the default files fall back
   * to ("rhels9" for rhels9.2; "subiquity" for an Ubuntu 20.04+ install template).
   */
  genericOs(osver: string, provmethod: DefaultProvmethod): string;
}

/** An `-a` value as every xCAT plugin first spells it: i386..i686 are x86. */
export function commonArch(arch: string): string {
  return /i.86/.test(arch) ? "x86" : arch;
}

const withoutMinor = (osver: string) => osver.replace(/\..*/, "");

/** The osvers prefixes xCAT's anaconda plugin takes as its own in `-n`. */
const RHEL_NAME = /^(?:centos|alma|rocky|fedora|SL|ol|pkvm|rh)/;

const rhel: MediaFamily = {
  name: "rhel",
  acceptsName: (osver) => RHEL_NAME.test(osver),
  async detectMedia(read) {
    const text = await read("/.discinfo");
    if (text === undefined) return undefined;
    const discinfo = parseDiscinfo(text);
    const treeinfoText = await read("/.treeinfo");
    const treeinfo = parseTreeinfo(treeinfoText ?? "");
    const variant = treeinfoValue(treeinfo, "general", "variant") ??
      treeinfoValue(treeinfo, "variant-ComputeNode", "id");
    const family = treeinfoValue(treeinfo, "general", "family") ??
      treeinfoValue(treeinfo, "release", "name");
    const distname = discinfoDistname(discinfo, {
      ...(variant !== undefined ? { variant } : {}),
      ...(family !== undefined ? { family } : {}),
    });
    if (distname === undefined) return undefined;
    const arch = discinfo.arch === "" ? undefined : rhel.normalizeArch(discinfo.arch);
    // xCAT prints the fourth line as DISCNO, or the version in the name when there is none.
    const discno = discinfo.discNumbers || /((?:\d+\.)+\d+)/.exec(distname)?.[1];
    return {
      distname,
      ...(arch !== undefined ? { arch } : {}),
      ...(discno ? { discno } : {}),
      alsoServes: [],
    };
  },
  normalizeArch: (arch) => {
    const common = commonArch(arch);
    return common === "ppc" ? "ppc64" : common;
  },
  archMismatch: (requested, media) =>
    `Requested distribution architecture ${requested}, but media is ${media}`,
  discDirectories: false,
  provmethods: ["install", "netboot", "statelite"],
  genericOs(osver) {
    const generic = withoutMinor(osver);
    const redHat = /rh.*s(\d*)/.exec(generic);
    return redHat ? `rhels${redHat[1]}` : generic;
  },
};

const sles: MediaFamily = {
  name: "sles",
  acceptsName: (osver) => /^(?:sle|suse)/.test(osver) || /^leap15(?:\..*)?$/.test(osver),
  async detectMedia(read) {
    const treeinfo = parseTreeinfo(await read("/.treeinfo") ?? "");
    const release = {
      name: treeinfoValue(treeinfo, "release", "name") ??
        treeinfoValue(treeinfo, "general", "family") ?? treeinfoValue(treeinfo, "general", "name"),
      version: treeinfoValue(treeinfo, "release", "version") ??
        treeinfoValue(treeinfo, "general", "version"),
      arch: treeinfoValue(treeinfo, "general", "arch"),
    };
    const fromTreeinfo = leapIdentity(definedOnly(release));
    if (fromTreeinfo) return fromTreeinfo;
    const productsText = await read("/media.1/products") ?? "";
    const content = await read("/content");
    if (content !== undefined) {
      // SLES 11 and 12: the disc of a set is the one media.1 describes.
      return sleContentIdentity(parseSuseContent(content), parseSuseProducts(productsText), "1");
    }
    const mediaText = await read("/media.1/media");
    if (mediaText === undefined) return undefined;
    const media = parseSuseMedia(mediaText);
    return leapIdentity({}, { identity: media.identity, products: productsText }) ??
      sle15Identity(media);
  },
  normalizeArch: (arch) => {
    const common = commonArch(arch);
    if (common === "ppc64le" || common === "ppc64el") return "ppc64le";
    return /ppc/.test(common) ? "ppc64" : common;
  },
  archMismatch: (requested, media) =>
    `Requested SLES architecture ${requested}, but media is ${media}`,
  discDirectories: true,
  provmethods: ["install", "netboot", "statelite"],
  genericOs: (osver) => /^leap15/.test(osver) ? "sle15" : withoutMinor(osver),
};

const debian: MediaFamily = {
  name: "debian",
  acceptsName: (osver) => /^(?:debian|ubuntu)/i.test(osver),
  async detectMedia(read) {
    const info = await read("/.disk/info");
    if (info === undefined) return undefined;
    const identity = diskInfoIdentity(info);
    if (!identity) return undefined;
    const discno = identity.product === "Debian"
      ? identity.discno
      : diskdefinesDiscNumber(await read("/README.diskdefines") ?? "");
    return {
      distname: identity.distname,
      arch: debianArchToXcat(identity.debianArch),
      ...(discno ? { discno } : {}),
      alsoServes: [],
    };
  },
  normalizeArch: (arch) => debianArchToXcat(commonArch(arch)),
  archMismatch: (requested, media) =>
    `Requested Debian architecture ${requested}, but media is ${media}`,
  discDirectories: false,
  refusesPathAndNoOverwrite: "copycds on Ubuntu/Debian does not support -p or -w option.",
  // xCAT makes no statelite images for Debian and Ubuntu.
  provmethods: ["install", "netboot"],
  genericOs(osver, provmethod) {
    const release = /^ubuntu(\d+)\.(\d+)/.exec(osver);
    // Ubuntu 20.04 and later install with subiquity (autoinstall), not debian-installer.
    if (provmethod === "install" && release && Number(`${release[1]}.${release[2]}`) >= 20.04) {
      return "subiquity";
    }
    return withoutMinor(osver);
  },
};

function definedOnly<T extends Record<string, string | undefined>>(
  value: T,
): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as {
    [K in keyof T]?: string;
  };
}

/**
 * Every family, in the order copycds asks them about a disc (xCAT asks every plugin; the three
 * recognise disjoint metadata files, so the order only matters for `-n`).
 */
export const MEDIA_FAMILIES: readonly MediaFamily[] = [rhel, sles, debian];
