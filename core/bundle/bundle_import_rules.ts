// imgimport's manifest rules: xCAT's verify_manifest checks, the file references in placement order, -f's profile rewrite and litefile.csv as xCAT reads it.

import { architectureOf } from "../../providers/distros/architectures.ts";
import { distroOf } from "../../providers/distros/distros.ts";
import {
  findProvmethod,
  matchProvmethod,
  provmethodsMatching,
} from "../../providers/provmethods/provmethods.ts";
import { posix } from "node:path";
import { commaList } from "../../formats/xcat/comma_list.ts";
import type { ParsedManifest } from "../../formats/xcat/manifest_xml.ts";
import { objectNameProblem, pathComponentProblem } from "../definitions/object_names.ts";

/** xCAT's share directory: stock templates, pkglists and exlists live there. */
export const XCAT_SHARE_DIR = "/opt/xcat/share/xcat";

/** One manifest file reference, in xCAT's placement order (imgport.pm L1922-1965). */
export interface FileRef {
  /** The manifest field ("kernel", "linuximage.pkglist"). */
  field: string;
  /** The path as recorded in the manifest (the file is stored under its basename). */
  original: string;
  /** Where it goes (after -f). */
  target: string;
}

export const TOP_FILE_FIELDS = ["kernel", "ramdisk", "rootimg", "rootimgtree", "litefile"] as const;
export const LIST_FIELDS: readonly [table: "osimage" | "linuximage", column: string][] = [
  ["linuximage", "template"],
  ["linuximage", "pkglist"],
  ["osimage", "synclists"],
  ["linuximage", "otherpkglist"],
  ["linuximage", "postinstall"],
  ["linuximage", "exlist"],
];

/** A comma-separated manifest value as its items (xCAT splits without trimming). */
export function splitList(value: string | undefined): string[] {
  return commaList(value, { trim: false });
}

/**
 * xCAT's verify_manifest (imgport.pm L1703-1825): every check runs and every message is
 * returned, in xCAT's words (its wrong 'osarch' text for a missing install template included,
 * since scripts grep for these lines).
 */
export function manifestProblems(manifest: ParsedManifest): string[] {
  const problems: string[] = [];
  for (const field of ["imagename", "provmethod", "profile", "osvers", "osarch"]) {
    if (!manifest.osimage[field]) {
      problems.push(`The '${field}' field is not defined in manifest.xml.`);
    }
  }
  const provmethod = manifest.osimage.provmethod ?? "";
  const osarch = manifest.osimage.osarch ?? "";
  const osvers = manifest.osimage.osvers ?? "";
  // xCAT's if/elsif chain, asked of the providers: the provmethod is the first whose pattern
  // matches, unanchored; the osarch check is made apart from the chain, for every match.
  const method = matchProvmethod(provmethod);
  if (provmethod && method === undefined) {
    problems.push(
      `Importing images with 'provmethod' ${provmethod} is not supported. Hint: install, netboot, statelite, sysclone or raw`,
    );
  }
  for (const matching of provmethodsMatching(provmethod)) {
    if (matching.supportedOsarch && !matching.supportedOsarch.test(osarch)) {
      problems.push(
        `Importing images with 'provemethod' ${matching.name} is not supported for osarch '${osarch}'`,
      );
    }
  }
  if (method?.usesTemplate) {
    if (!manifest.linuximage.template) {
      problems.push("The 'osarch' field is not defined in manifest.xml.");
    }
  } else if (distroOf(osvers)?.noBootFiles) {
    // xCAT: "this is an esx image" — no further checks.
  } else if (method?.rawImages && architectureOf(osarch)?.rawDiskImages) {
    const required = method.rawImages.required;
    if (required === "section" && manifest.rawimagefiles === undefined) {
      problems.push("The 'rawimagefiles' section is not defined in manifest.xml.");
    } else if (required !== "none" && !manifest.rawimagefiles?.length) {
      problems.push("'files' were not specified in the 'rawimagefiles' section of manifest.xml.");
    }
  } else if (method?.bootFiles) {
    for (const field of method.bootFiles.required) {
      if (!manifest[field]) problems.push(`The '${field}' field is not defined in manifest.xml.`);
    }
  }
  // osimg's own checks: these values become path components on import (the image name in
  // <tftpdir>/xcat/osimage/<name>, profile, osvers, osarch and provmethod in the rootimgdir,
  // kit names in the kit directory), so they follow mkdef's rules (core/definitions/object_names.ts).
  const name = manifest.osimage.imagename;
  const nameProblem = name ? objectNameProblem("osimage", name) : undefined;
  if (nameProblem !== undefined) problems.push(nameProblem);
  for (const field of ["profile", "osvers", "osarch", "provmethod"]) {
    const value = manifest.osimage[field];
    const problem = value ? pathComponentProblem(field, value) : undefined;
    if (problem !== undefined) problems.push(problem);
  }
  const kitTypes = { kit: "kit", kitrepo: "kitrepo", kitcomp: "kitcomponent" } as const;
  for (const [element, type] of Object.entries(kitTypes)) {
    for (const kit of Object.keys(manifest[element as keyof typeof kitTypes])) {
      const problem = objectNameProblem(type, kit);
      if (problem !== undefined) problems.push(problem);
    }
  }
  return problems;
}

/** The file references of a manifest, in xCAT's order, targets equal to the recorded paths. */
export function fileRefs(manifest: ParsedManifest): FileRef[] {
  const refs: FileRef[] = [];
  for (const field of TOP_FILE_FIELDS) {
    for (const path of splitList(manifest[field])) {
      refs.push({ field, original: path, target: path });
    }
  }
  for (const [table, column] of LIST_FIELDS) {
    for (const path of splitList(manifest[table][column])) {
      refs.push({ field: `${table}.${column}`, original: path, target: path });
    }
  }
  return refs;
}

/**
 * `imgimport -f new_profile` (imgport.pm L1319-1417, reference §4.5): new rootimgdir and file
 * paths under it, stock files from the xCAT share dir re-homed under `<installdir>/custom`,
 * list files renamed after the new profile, image renamed `osvers-osarch-provmethod-new`.
 * Mutates `manifest` and the targets of `refs`.
 */
export function applyProfile(
  manifest: ParsedManifest,
  refs: FileRef[],
  newProfile: string,
  installDir: string,
): void {
  const { osimage, linuximage } = manifest;
  const oldProfile = osimage.profile ?? "";
  if (newProfile === oldProfile) return;
  const osvers = osimage.osvers ?? "";
  const osarch = osimage.osarch ?? "";
  const provmethod = osimage.provmethod ?? "";
  osimage.profile = newProfile;
  if (linuximage.rootimgdir) {
    // Raw disk images (s390x) live in their provmethod's own tree; every other rootimgdir in
    // xCAT's netboot tree.
    const rawImages = matchProvmethod(provmethod)?.rawImages;
    const base = rawImages && architectureOf(osarch)?.rawDiskImages
      ? `${installDir}/${rawImages.dir}/${osvers}/${osarch}/${newProfile}`
      : `${installDir}/netboot/${osvers}/${osarch}/${newProfile}`;
    linuximage.rootimgdir = base;
    for (const field of TOP_FILE_FIELDS) {
      const value = manifest[field];
      if (!value) continue;
      // xCAT basenames the whole value (a comma list keeps only its last name's basename).
      manifest[field] = `${base}/${posix.basename(value)}`;
    }
    for (const ref of refs) {
      if ((TOP_FILE_FIELDS as readonly string[]).includes(ref.field)) {
        ref.target = `${base}/${posix.basename(ref.original)}`;
      }
    }
  }
  const profileDir = findProvmethod(provmethod)?.profileDir ?? "netboot";
  const platform = distroOf(osvers)?.platform ?? "";
  for (const [table, column] of LIST_FIELDS) {
    const items = splitList(manifest[table][column]);
    if (items.length === 0) continue;
    const renamed = items.map((path) => {
      let dir = posix.dirname(path);
      if (dir.includes(XCAT_SHARE_DIR)) {
        dir = posix.normalize(`${installDir}/custom/${profileDir}/${platform}`);
      }
      const base = posix.basename(path);
      const at = oldProfile === "" ? -1 : base.indexOf(oldProfile);
      const newBase = at >= 0
        ? base.slice(0, at) + newProfile + base.slice(at + oldProfile.length)
        : `${newProfile}.${base}`;
      const target = posix.join(dir, newBase);
      for (const ref of refs) {
        if (ref.field === `${table}.${column}` && ref.original === path) ref.target = target;
      }
      return target;
    });
    manifest[table][column] = renamed.join(",");
  }
  const name = `${osvers}-${osarch}-${provmethod}-${newProfile}`;
  osimage.imagename = name;
  linuximage.imagename = name;
}

/** litefile.csv as xCAT reads it: split on `"`, fields 3 (file) and 5 (options). */
export function parseLitefileCsv(text: string): { file: string; options: string }[] {
  const rows: { file: string; options: string }[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const fields = line.split('"');
    const file = fields[3] ?? "";
    if (file === "") continue;
    rows.push({ file, options: fields[5] ?? "" });
  }
  return rows;
}
