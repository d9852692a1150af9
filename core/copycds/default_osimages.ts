// xCAT's default osimages after copycds (SvrUtils update_tables_with_templates and
// update_tables_with_diskless_image): which profiles, which files each definition points at.

import { join } from "node:path";
import type { Row } from "../store/store.ts";
import { hostPath } from "../paths.ts";
import {
  PROFILE_FILES,
  type ProfileFile,
  SHIPPED_PROFILE_ROOT,
} from "../../providers/distros/defaults/profile_files.ts";
import type { DefaultProvmethod, MediaFamily } from "../../providers/distros/media_families.ts";

/** A file a profile directory holds: on disk (and whether executable), or carried by osimg. */
interface CatalogEntry {
  executable: boolean;
  /** Set when the file is osimg's own and not on disk yet: written when a definition uses it. */
  shipped?: ProfileFile;
}

/** The files of the profile directories copycds looks in, by management path of the directory. */
export type ProfileCatalog = ReadonlyMap<string, ReadonlyMap<string, CatalogEntry>>;

/** Where the default files of one kind ("install" or "netboot") are looked for. */
function kindOf(provmethod: DefaultProvmethod): "install" | "netboot" {
  return provmethod === "install" ? "install" : "netboot";
}

/**
 * The osvers a file name may carry, most specific first (SvrUtils get_os_search_list):
 * rhels9.2 → rhels9.2, rhels9.1, rhels9.0, rhels9; a zero-padded part stops the count
 * (ubuntu22.04.3 → ubuntu22.04.3 … ubuntu22.04.0, ubuntu22.04); the part after a "-" is not
 * a version (centos-stream9 → centos).
 *
 * @example
 * ```ts
 * osSearchList("sle15.5"); // ["sle15.5", "sle15.4", "sle15.3", "sle15.2", "sle15.1", "sle15.0", "sle15"]
 * ```
 */
export function osSearchList(os: string): string[] {
  const words = os.split("-")[0]!.split(".");
  const list: string[] = [];
  while (words.length > 0 && /^[0-9]+$/.test(words[words.length - 1]!)) {
    const last = words.pop()!;
    if (/^0[0-9]+$/.test(last)) {
      list.push([...words, last].join("."));
      return list;
    }
    for (let number = Number(last); number >= 0; number--) {
      const text = String(number).padStart(last.length, "0");
      list.push([...words, text].join("."));
      if (/^0[0-9]/.test(text)) list.push([...words, String(Number(text))].join("."));
    }
  }
  list.push(words.join("."));
  return list;
}

const EXTENSIONS = [
  "otherpkgs.pkglist",
  "imgcapture.exlist",
  "pkglist",
  "tmpl",
  "exlist",
  "postinstall",
  "synclist",
  "repolist",
];

/**
 * Whether a profile file belongs to this osvers and arch (SvrUtils _profile_file_matches):
 * `compute.pkglist`, `compute.<arch>.x`, `compute.<os or genos>.x` and `compute.<os>.<arch>.x`
 * for an os of the search list; a file for another release or arch does not.
 */
export function profileFileMatches(name: string, osver: string, genos: string, arch: string) {
  let stem = name;
  const extension = EXTENSIONS.find((item) => stem.endsWith(`.${item}`));
  stem = extension ? stem.slice(0, -extension.length - 1) : stem.replace(/\.[^.]+$/, "");
  const parts = stem.split(".");
  if (parts.length <= 1) return true;
  parts.shift();
  const suffix = parts.join(".");
  if (suffix === arch) return true;
  const valid = new Set([...osSearchList(osver), genos]);
  if (valid.has(suffix)) return true;
  if (parts.length > 1 && parts[parts.length - 1] === arch) {
    return valid.has(parts.slice(0, -1).join("."));
  }
  return false;
}

/** The candidate names of a profile file, in xCAT's order of preference (get_file_name). */
function candidates(extension: string, profile: string, os: string, arch: string, genos: string) {
  const names = [`${profile}.${os}.${arch}.${extension}`, `${profile}.${os}.${extension}`];
  names.push(`${profile}.${genos}.${arch}.${extension}`, `${profile}.${genos}.${extension}`);
  for (const base of osSearchList(os)) {
    names.push(`${profile}.${base}.${arch}.${extension}`, `${profile}.${base}.${extension}`);
  }
  names.push(`${profile}.${arch}.${extension}`, `${profile}.${extension}`);
  return names;
}

/**
 * The candidate names of a postinstall script (get_postinstall_file_name): the osvers chopped
 * at its dots, then its letters and two or one digits, then the generic os, then the arch.
 */
function postinstallCandidates(profile: string, os: string, arch: string, genos: string) {
  const extension = "postinstall";
  const names: string[] = [];
  const pair = (base: string) =>
    names.push(`${profile}.${base}.${arch}.${extension}`, `${profile}.${base}.${extension}`);
  let base = os.includes(".") ? os.slice(0, os.lastIndexOf(".")) : "";
  names.push(`${profile}.${os}.${arch}.${extension}`, `${profile}.${base}.${arch}.${extension}`);
  names.push(`${profile}.${os}.${extension}`, `${profile}.${base}.${extension}`);
  while (base.includes(".")) {
    base = base.slice(0, base.lastIndexOf("."));
    pair(base);
  }
  const twoDigits = /([a-zA-Z]+\d\d)/.exec(os);
  if (twoDigits) pair(twoDigits[1]!);
  const oneDigit = /([a-zA-Z]+\d)/.exec(os);
  if (oneDigit) pair(oneDigit[1]!);
  pair(genos);
  names.push(`${profile}.${arch}.${extension}`, `${profile}.${extension}`);
  return names;
}

/** One default osimage: its osimage and linuximage rows, and the files it points at. */
export interface DefaultOsimage {
  name: string;
  osimage: Row;
  /** The linuximage row; addkcmdline=quiet is added by the caller for a new row only. */
  linuximage: Row;
}

/** The default osimages of one disc, and osimg's own files they point at that are not on disk. */
export interface DefaultOsimagePlan {
  images: DefaultOsimage[];
  /** Management path → file to write before the rows are committed. */
  files: Map<string, ProfileFile>;
  /** Why some kind of image could not be made (no platform directory). */
  problems: string[];
}

/** What planDefaultOsimages needs to know about the disc and the site. */
export interface DefaultOsimageRequest {
  family: MediaFamily;
  osver: string;
  arch: string;
  /** The copied disc's directory (linuximage.pkgdir). */
  pkgdir: string;
  osdistroname: string;
  installDir: string;
  catalog: ProfileCatalog;
}

/** The profile directories of an osvers: custom first, then shipped (management paths). */
export function profileDirectories(installDir: string, kind: string, platform: string) {
  return [
    `${installDir}/custom/${kind}/${platform}`,
    `${SHIPPED_PROFILE_ROOT}/${kind}/${platform}`,
  ];
}

/**
 * The platform directory of an osvers: the longest prefix of it that names a directory of
 * shipped files (xCAT chops characters off until `<share>/<kind>/<prefix>` exists).
 */
export function platformOf(osver: string, platforms: ReadonlySet<string>): string | undefined {
  for (let prefix = osver; prefix !== ""; prefix = prefix.slice(0, -1)) {
    if (platforms.has(prefix)) return prefix;
  }
  return undefined;
}

/**
 * The default osimages xCAT makes after copying a disc, with the files they point at: install
 * images for each `compute`/`service` template found, netboot and statelite images for each
 * `compute` pkglist found (only the family's provmethods). Files are looked up in
 * `<installdir>/custom/<kind>/<platform>` first, then in the shipped directory.
 */
export function planDefaultOsimages(request: DefaultOsimageRequest): DefaultOsimagePlan {
  const { family, osver, arch, catalog, installDir } = request;
  const plan: DefaultOsimagePlan = { images: [], files: new Map(), problems: [] };
  const platformsOf = (kind: string) => {
    const prefix = `${SHIPPED_PROFILE_ROOT}/${kind}/`;
    return new Set(
      [...catalog.keys()].filter((dir) => dir.startsWith(prefix)).map((dir) =>
        dir.slice(prefix.length)
      ),
    );
  };
  for (const provmethod of family.provmethods) {
    const kind = kindOf(provmethod);
    const platform = platformOf(osver, platformsOf(kind));
    if (platform === undefined) {
      plan.problems.push(`Unable to find ${SHIPPED_PROFILE_ROOT}/${kind} directory for ${osver}`);
      continue;
    }
    const genos = family.genericOs(osver, provmethod);
    const dirs = profileDirectories(installDir, kind, platform);
    const find = (names: string[], executable = false): string | undefined => {
      for (const dir of dirs) {
        const files = catalog.get(dir);
        for (const name of names) {
          const entry = files?.get(name);
          if (!entry || (executable && !entry.executable)) continue;
          const path = `${dir}/${name}`;
          if (entry.shipped) plan.files.set(path, entry.shipped);
          return path;
        }
      }
      return undefined;
    };
    const pattern = provmethod === "install"
      ? /^(compute|service)\..*tmpl$/
      : /^(compute)\..*pkglist$/;
    const profiles = new Set<string>();
    for (const dir of dirs) {
      for (const name of catalog.get(dir)?.keys() ?? []) {
        const match = pattern.exec(name);
        if (match && profileFileMatches(name, osver, genos, arch)) profiles.add(match[1]!);
      }
    }
    for (const profile of [...profiles].sort()) {
      const lookup = (extension: string) =>
        find(candidates(extension, profile, osver, arch, genos)) ?? "";
      const name = `${osver}-${arch}-${provmethod}-${profile}`;
      const osimage: Row = {
        imagename: name,
        imagetype: "linux",
        provmethod,
        profile,
        osname: "Linux",
        osvers: osver,
        osarch: arch,
        synclists: "",
        osdistroname: request.osdistroname,
      };
      const otherpkgdir = `${installDir}/post/otherpkgs/${osver}/${arch}`;
      if (provmethod === "install") {
        const template = lookup("tmpl");
        if (template === "") continue;
        if (profile === "service") osimage.postscripts = "servicenode";
        plan.images.push({
          name,
          osimage,
          linuximage: {
            imagename: name,
            template,
            pkgdir: request.pkgdir,
            pkglist: lookup("pkglist"),
            otherpkglist: lookup("otherpkgs.pkglist"),
            otherpkgdir,
          },
        });
      } else {
        const pkglist = lookup("pkglist");
        if (pkglist === "") continue;
        plan.images.push({
          name,
          osimage,
          linuximage: {
            imagename: name,
            pkglist,
            pkgdir: request.pkgdir,
            otherpkglist: lookup("otherpkgs.pkglist"),
            otherpkgdir,
            exlist: lookup("exlist"),
            postinstall: find(postinstallCandidates(profile, osver, arch, genos), true) ?? "",
            // netboot and statelite images share their root image directory, as in xCAT.
            rootimgdir: `${installDir}/netboot/${osver}/${arch}/${profile}`,
          },
        });
      }
    }
  }
  return plan;
}

/**
 * The profile directories' files under `root`: the custom directories and the shipped ones as
 * they are on disk, plus osimg's own shipped files not on disk (a real xCAT's files win).
 */
export async function loadProfileCatalog(
  root: string,
  installDir: string,
): Promise<ProfileCatalog> {
  const catalog = new Map<string, Map<string, CatalogEntry>>();
  const entry = (dir: string) => {
    let files = catalog.get(dir);
    if (!files) catalog.set(dir, files = new Map());
    return files;
  };
  for (const [path, file] of PROFILE_FILES) {
    const slash = path.lastIndexOf("/");
    entry(`${SHIPPED_PROFILE_ROOT}/${path.slice(0, slash)}`).set(path.slice(slash + 1), {
      executable: (file.mode & 0o111) !== 0,
      shipped: file,
    });
  }
  for (const kind of ["install", "netboot"]) {
    for (const base of [`${installDir}/custom/${kind}`, `${SHIPPED_PROFILE_ROOT}/${kind}`]) {
      for (const platform of await listNames(hostPath(root, base))) {
        const dir = `${base}/${platform}`;
        for (const name of await listNames(hostPath(root, dir))) {
          let info: Deno.FileInfo;
          try {
            info = await Deno.stat(join(hostPath(root, dir), name));
          } catch {
            continue; // a dangling link is no file
          }
          if (!info.isFile) continue;
          entry(dir).set(name, { executable: ((info.mode ?? 0) & 0o111) !== 0 });
        }
      }
    }
  }
  return catalog;
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const item of Deno.readDir(dir)) names.push(item.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return [];
    }
    throw error;
  }
  return names.sort();
}
