// imgimport: an image bundle staged, verified and committed all-or-nothing with xCAT's placement, -f, -p, statelite, kit and extras semantics.

import { distroOf } from "../providers/distros.ts";
import { findProvmethod } from "../providers/provmethods.ts";
import { resolve } from "node:path";
import { posix } from "node:path";
import { KIT_KEY_COLUMN, type ParsedManifest, parseManifest } from "../formats/manifest_xml.ts";
import { readCpio } from "../formats/cpio_newc.ts";
import { type BundleImage, scanBundle } from "./bundle_reader.ts";
import { exists as lexists, fileChunks } from "./files.ts";
import {
  type CommitHook,
  commitStaged,
  createStaging,
  type FileMove,
  recoverStaging,
  type RecoveryReport,
  type RowSetChange,
  STAGING_DIR_NAME,
} from "./commit_journal.ts";
import { decompress } from "./compress.ts";
import { type Context, hostPathOf } from "./context.ts";
import {
  IntegrityError,
  InvalidInputError,
  NotFoundError,
  OsimgError,
  UsageError,
} from "./errors.ts";
import { LOCK_DIR_NAME, removeStaleLocks } from "./image_lock.ts";
import { commaList } from "../formats/comma_list.ts";
import { readInstallDir, readTftpDir } from "./osimage.ts";
import { loadNodeUniverse } from "./node_universe.ts";
import { expandNoderange } from "./noderange.ts";
import { noderangeEnvironment } from "./noderange_environment.ts";
import { checkPathComponent, objectNameProblem, pathComponentProblem } from "./object_names.ts";
import { belowProblem, isWithin } from "./paths.ts";
import { extractEntries } from "./safe_extract.ts";
import { DEFAULT_MAX_EXPANSION, limitExpansion, SpaceReserve } from "./staging_limits.ts";
import { findTable, MANIFEST_COLUMNS } from "./schema.ts";
import type { Row, Store, StoreReader } from "./store.ts";

/** xCAT's share directory: stock templates, pkglists and exlists live there. */
export const XCAT_SHARE_DIR = "/opt/xcat/share/xcat";

/** Options of {@linkcode importBundle} (the imgimport flags). */
export interface ImportOptions {
  /** `-f`: import under this profile (new rootimgdir, stock files re-homed, image renamed). */
  profile?: string;
  /** `-p`: the nodes (comma-separated names) that get the bundle's postscripts lists. */
  postscripts?: string;
  verbose?: boolean;
  /** Print what would be written, change nothing. */
  dryRun?: boolean;
  /** Management-node directories manifest paths may also name (besides installdir, tftpdir, share). */
  allowPaths?: readonly string[];
  /** Test seam: called at the commit's named points. */
  hook?: CommitHook;
  /**
   * Largest ratio of unpacked to compressed bytes (default DEFAULT_MAX_EXPANSION); Infinity
   * (`--allow-expansion`) allows any.
   */
  maxExpansion?: number;
  /**
   * Bytes to keep free on the install directory's file system while staging (default
   * max(1 GiB, 5%); `OSIMG_SPACE_RESERVE`).
   */
  spaceReserve?: number;
  /**
   * Takes the lock of an image the bundle imports to, once its name is known and before the
   * image's current files and rows are looked at; held until the import ends (not on a dry run).
   */
  lockImage?: (name: string) => Promise<AsyncDisposable>;
}

/** What an import did. */
export interface ImportResult {
  /** The imported image names, in bundle order. */
  images: string[];
  warnings: string[];
}

/** One manifest file reference, in xCAT's placement order (imgport.pm L1922-1965). */
interface FileRef {
  /** The manifest field ("kernel", "linuximage.pkglist"). */
  field: string;
  /** The path as recorded in the manifest (the file is stored under its basename). */
  original: string;
  /** Where it goes (after -f). */
  target: string;
}

const TOP_FILE_FIELDS = ["kernel", "ramdisk", "rootimg", "rootimgtree", "litefile"] as const;
const LIST_FIELDS: readonly [table: "osimage" | "linuximage", column: string][] = [
  ["linuximage", "template"],
  ["linuximage", "pkglist"],
  ["osimage", "synclists"],
  ["linuximage", "otherpkglist"],
  ["linuximage", "postinstall"],
  ["linuximage", "exlist"],
];

/** xCAT's imgimport splits the manifest's lists on bare commas: white space stays. */
function splitList(value: string | undefined): string[] {
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
  if (provmethod && !/install|netboot|statelite|sysclone|raw/.test(provmethod)) {
    problems.push(
      `Importing images with 'provmethod' ${provmethod} is not supported. Hint: install, netboot, statelite, sysclone or raw`,
    );
  }
  if (/sysclone/.test(provmethod) && !/s390x/.test(osarch)) {
    problems.push(
      `Importing images with 'provemethod' sysclone is not supported for osarch '${osarch}'`,
    );
  }
  if (/install/.test(provmethod)) {
    if (!manifest.linuximage.template) {
      problems.push("The 'osarch' field is not defined in manifest.xml.");
    }
  } else if (/esx/.test(osvers)) {
    // xCAT: "this is an esx image" — no further checks.
  } else if (/netboot/.test(provmethod)) {
    if (/s390x/.test(osarch)) {
      if (manifest.rawimagefiles === undefined) {
        problems.push("The 'rawimagefiles' section is not defined in manifest.xml.");
      } else if (manifest.rawimagefiles.length === 0) {
        problems.push(
          "'files' were not specified in the 'rawimagefiles' section of manifest.xml.",
        );
      }
    } else {
      for (const field of ["ramdisk", "kernel", "rootimg"] as const) {
        if (!manifest[field]) problems.push(`The '${field}' field is not defined in manifest.xml.`);
      }
    }
  } else if (/statelite/.test(provmethod)) {
    for (const field of ["kernel", "ramdisk", "rootimgtree"] as const) {
      if (!manifest[field]) problems.push(`The '${field}' field is not defined in manifest.xml.`);
    }
  } else if (/sysclone/.test(provmethod) && /s390x/.test(osarch)) {
    if (!manifest.rawimagefiles?.length) {
      problems.push("'files' were not specified in the 'rawimagefiles' section of manifest.xml.");
    }
  }
  // osimg's own checks: these values become path components on import (the image name in
  // <tftpdir>/xcat/osimage/<name>, profile, osvers, osarch and provmethod in the rootimgdir,
  // kit names in the kit directory), so they follow mkdef's rules (core/object_names.ts).
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
    const base = /s390x/.test(osarch) && /raw|sysclone/.test(provmethod)
      ? `${installDir}/${provmethod}/${osvers}/${osarch}/${newProfile}`
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
  const prov = findProvmethod(provmethod)?.profileDir ?? "netboot";
  const platform = distroOf(osvers)?.platform ?? "";
  for (const [table, column] of LIST_FIELDS) {
    const items = splitList(manifest[table][column]);
    if (items.length === 0) continue;
    const renamed = items.map((path) => {
      let dir = posix.dirname(path);
      if (dir.includes(XCAT_SHARE_DIR)) {
        dir = posix.normalize(`${installDir}/custom/${prov}/${platform}`);
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

/** The allowed roots for manifest paths, as management paths. */
function allowedRoots(installDir: string, tftpDir: string, extra: readonly string[]): string[] {
  return [installDir, tftpDir, XCAT_SHARE_DIR, ...extra];
}

/** Everything an import will do, computed before anything changes. */
interface ImportPlan {
  moves: (FileMove & { shown: string; existed: boolean })[];
  rows: RowSetChange[];
  images: string[];
  /** Lines xCAT prints while placing files (after commit). */
  messages: string[];
}

interface PlanContext {
  ctx: Context;
  reader: StoreReader;
  prefix: string;
  stagingDir: string;
  installDir: string;
  tftpDir: string;
  options: ImportOptions;
  warnings: string[];
  plan: ImportPlan;
  /** Targets already claimed in this import (two sources for one path is an error). */
  claimed: Map<string, string>;
  /** Every directory above a claimed target. */
  claimedAncestors: Set<string>;
  /** realpath cache for checkNoLinkEscape. */
  realPaths: Map<string, string>;
  /** The free space kept on the staging file system. */
  space: SpaceReserve;
  counter: { value: number };
  /** The image locks this import holds, by image name. */
  locks: Map<string, AsyncDisposable>;
}

function checkAllowed(pc: PlanContext, path: string, what: string): string {
  if (!posix.isAbsolute(path)) {
    throw new IntegrityError(`${pc.prefix}: the manifest path "${path}" (${what}) is not absolute`);
  }
  const normalized = posix.normalize(path);
  const roots = allowedRoots(pc.installDir, pc.tftpDir, pc.options.allowPaths ?? []);
  if (!roots.some((root) => isWithin(root, normalized))) {
    throw new IntegrityError(
      `${pc.prefix}: the manifest path "${path}" (${what}) is outside the allowed directories ` +
        `(${roots.join(", ")}); name its directory with --allow-path to allow it`,
    );
  }
  return normalized;
}

/**
 * Refuses a target whose existing parent directories lead, through a symbolic link, out of the
 * allowed directories: a link placed by an earlier bundle (an extra's relative link means
 * something else at its destination) must not become a way to write anywhere.
 */
async function checkNoLinkEscape(pc: PlanContext, targetManagement: string): Promise<void> {
  let dir = posix.dirname(hostPathOf(pc.ctx, targetManagement));
  while (!(await lexists(dir))) dir = posix.dirname(dir);
  let real = pc.realPaths.get(dir);
  if (real === undefined) {
    real = await Deno.realPath(dir);
    pc.realPaths.set(dir, real);
  }
  const rootReal = await Deno.realPath(pc.ctx.root);
  const lexical = posix.join(rootReal, posix.relative(posix.resolve(pc.ctx.root), dir));
  if (real === lexical) return;
  const roots = allowedRoots(pc.installDir, pc.tftpDir, pc.options.allowPaths ?? []);
  for (const root of roots) {
    const host = hostPathOf(pc.ctx, root);
    const rootTarget = await Deno.realPath(host).catch(() => host);
    if (isWithin(rootTarget, real)) return;
  }
  throw new IntegrityError(
    `${pc.prefix}: the path "${targetManagement}" leads through a symbolic link out of the allowed directories`,
  );
}

async function addMove(
  pc: PlanContext,
  from: string,
  targetManagement: string,
  keepOrig: boolean,
  existed: boolean,
): Promise<void> {
  await checkNoLinkEscape(pc, targetManagement);
  const to = hostPathOf(pc.ctx, targetManagement);
  const claimedBy = pc.claimed.get(to);
  if (claimedBy !== undefined) {
    if (claimedBy === from) return;
    throw new IntegrityError(
      `${pc.prefix}: two members of the bundle would be written to "${targetManagement}"`,
    );
  }
  // One target inside another (a file into a restored directory) would depend on the order of
  // the renames; checked through ancestors so that thousands of extras stay linear.
  const ancestors: string[] = [];
  for (let dir = posix.dirname(to); dir !== posix.dirname(dir); dir = posix.dirname(dir)) {
    ancestors.push(dir);
  }
  if (pc.claimedAncestors.has(to) || ancestors.some((dir) => pc.claimed.has(dir))) {
    throw new IntegrityError(
      `${pc.prefix}: "${targetManagement}" would be written inside another restored path`,
    );
  }
  for (const dir of ancestors) pc.claimedAncestors.add(dir);
  pc.claimed.set(to, from);
  pc.plan.moves.push({ from, to, keepOrig, shown: targetManagement, existed });
}

/** Columns of `table` this schema has; others are dropped with a warning (version skew, §5.2-2). */
function schemaRow(pc: PlanContext, table: string, row: Row, element: string): Row {
  const columns = findTable(table)!.columns;
  const kept: Row = {};
  for (const [column, value] of Object.entries(row)) {
    if (columns.includes(column)) kept[column] = value;
    else {
      pc.warnings.push(
        `The manifest's <${element}> has the column '${column}', which the ${table} table does not have; it is ignored.`,
      );
    }
  }
  return kept;
}

/** Moves a staged extra directory's contents into `dest`: whole subtrees where the target is new. */
async function planDirectoryMerge(
  pc: PlanContext,
  stagedDir: string,
  destManagement: string,
): Promise<void> {
  const destHost = hostPathOf(pc.ctx, destManagement);
  const info = await Deno.lstat(destHost).catch(() => undefined);
  if (!info) {
    await addMove(pc, stagedDir, destManagement, false, false);
    return;
  }
  if (!info.isDirectory) {
    throw new IntegrityError(
      `${pc.prefix}: the extra destination "${destManagement}" exists and is not a directory`,
    );
  }
  const names: string[] = [];
  for await (const entry of Deno.readDir(stagedDir)) names.push(entry.name);
  names.sort();
  for (const name of names) {
    const child = `${stagedDir}/${name}`;
    const target = posix.join(destManagement, name);
    const childInfo = await Deno.lstat(child);
    const targetInfo = await Deno.lstat(hostPathOf(pc.ctx, target)).catch(() => undefined);
    if (childInfo.isDirectory && targetInfo?.isDirectory) {
      await planDirectoryMerge(pc, child, target);
    } else {
      // cp -a -f semantics: overwritten, no .ORIG (imgport.pm moveExtra).
      await addMove(pc, child, target, false, targetInfo !== undefined);
    }
  }
}

async function planImage(pc: PlanContext, image: BundleImage): Promise<void> {
  const { ctx, prefix, options } = pc;
  const imageDir = `${pc.stagingDir}/tree/${image.dir}`;
  let manifest: ParsedManifest;
  try {
    manifest = parseManifest(image.manifestText ?? "", MANIFEST_COLUMNS);
  } catch (error) {
    const message = (error as Error).message;
    const ErrorType = error instanceof IntegrityError ? IntegrityError : InvalidInputError;
    throw new ErrorType(`${prefix}: ${image.dir}/manifest.xml: ${message}`, { cause: error });
  }
  const problems = manifestProblems(manifest);
  if (problems.length > 0) {
    throw new InvalidInputError(`${prefix}: ${image.dir}/manifest.xml is not valid:`, {
      details: problems,
    });
  }
  if (manifest.media !== undefined) {
    const { osvers, osarch } = manifest.osimage;
    const mediaDir = hostPathOf(ctx, `${pc.installDir}/${osvers}/${osarch}`);
    if (manifest.media !== "required") {
      // xCAT fails such an image without a word; say why.
      throw new InvalidInputError(
        `${prefix}: ${image.dir}/manifest.xml has <media>${manifest.media}</media>; only 'required' is known`,
      );
    }
    if (!(await Deno.stat(mediaDir).catch(() => undefined))) {
      throw new NotFoundError(
        `This image requires that you first copy media for ${osvers}-${osarch}`,
      );
    }
  }
  const refs = fileRefs(manifest);
  if (options.profile !== undefined) applyProfile(manifest, refs, options.profile, pc.installDir);
  const name = manifest.osimage.imagename!;
  // -f builds the name from four values; their sum may be too long for a file name.
  const nameProblem = objectNameProblem("osimage", name);
  if (nameProblem !== undefined) throw new InvalidInputError(`${prefix}: ${nameProblem}`);
  // The rootimgdir is where rmimage removes and packimage writes: the rule they apply to the
  // row (core/osimage.ts rootImgDir) is applied before the row is written.
  const rootimgdir = manifest.linuximage.rootimgdir?.replace(/\/+$/, "");
  const rootimgdirProblem = rootimgdir ? belowProblem(pc.installDir, rootimgdir) : undefined;
  if (rootimgdirProblem !== undefined) {
    throw new IntegrityError(
      `${prefix}: the manifest's rootimgdir "${rootimgdir}" is invalid: ${rootimgdirProblem}`,
    );
  }
  if (options.lockImage && !options.dryRun && !pc.locks.has(name)) {
    pc.locks.set(name, await options.lockImage(name));
  }
  const provmethod = manifest.osimage.provmethod!;
  const osimage = schemaRow(pc, "osimage", manifest.osimage, "osimage");
  const linuximage = schemaRow(
    pc,
    "linuximage",
    { ...manifest.linuximage, imagename: name },
    "linuximage",
  );
  if (options.verbose) pc.plan.messages.push(`Adding ${name}`);

  const staged = (original: string) => `${imageDir}/${posix.basename(original)}`;
  for (const ref of refs) {
    const target = checkAllowed(pc, ref.target, ref.field);
    const base = posix.basename(ref.original);
    if (!base || image.files.get(base) === undefined) {
      // xCAT would rename the target to .ORIG and put nothing there (§4.6); we leave it alone.
      pc.warnings.push(
        `The bundle has no file for "${ref.original}" (${ref.field}); "${target}" is left as it is.`,
      );
      continue;
    }
    if (ref.field === "rootimgtree") {
      await planRootImgTree(pc, staged(ref.original), target);
      continue;
    }
    const existed = await lexists(hostPathOf(ctx, target));
    await addMove(pc, staged(ref.original), target, true, existed);
    pc.plan.messages.push(target);
    if (existed) pc.plan.messages.push(`  Moving old ${target} to ${target}.ORIG.`);
  }

  for (const extra of manifest.extra) {
    const dest = checkAllowed(pc, extra.dest, "extra dest");
    const inBundle = posix.normalize(`extra/${extra.src.replace(/^\/+/, "")}`);
    if (image.members.get(inBundle) === "dir") {
      pc.plan.messages.push(dest);
      await planDirectoryMerge(pc, `${imageDir}/${inBundle}`, dest);
    } else {
      const base = posix.basename(extra.src);
      if (image.files.get(`extra/${base}`) === undefined) {
        throw new IntegrityError(
          `${prefix}: the manifest's extra "${extra.src}" is not in the bundle (extra/${base})`,
        );
      }
      const target = checkAllowed(pc, posix.join(dest, base), "extra");
      const existed = await lexists(hostPathOf(ctx, target));
      await addMove(pc, `${imageDir}/extra/${base}`, target, true, existed);
      pc.plan.messages.push(target);
      if (existed) pc.plan.messages.push(`  Moving old ${target} to ${target}.ORIG.`);
    }
  }

  const rows: RowSetChange[] = [
    { table: "osimage", where: { imagename: name }, after: [osimage] },
    { table: "linuximage", where: { imagename: name }, after: [linuximage] },
  ];

  await planKits(pc, manifest, image, imageDir, rows);

  if (findProvmethod(provmethod)?.statelite) {
    pc.plan.messages.push("Updating the litefile table.");
    const litefile = manifest.litefile;
    const base = litefile ? posix.basename(litefile) : "";
    if (!litefile || image.files.get(base) === undefined) {
      pc.warnings.push(litefile ? `Could not find ${litefile}.` : "Could not find litefile.csv.");
    } else {
      const text = await Deno.readTextFile(`${imageDir}/${base}`);
      const all = await pc.reader.rows("litefile", { image: "ALL" });
      for (const row of parseLitefileCsv(text)) {
        if (all.some((other) => other.file === row.file && (other.options ?? "") === row.options)) {
          continue;
        }
        const after: Row = { image: name, file: row.file };
        if (row.options) after.options = row.options;
        rows.push({ table: "litefile", where: { image: name, file: row.file }, after: [after] });
      }
      pc.plan.messages.push(
        "The litetree and statelite tables are untouched. You can update them if needed.",
      );
    }
  }

  if (
    manifest.rawimagefiles?.length && /s390x/.test(manifest.osimage.osarch ?? "") &&
    /raw|netboot|sysclone/.test(provmethod)
  ) {
    const dir = checkAllowed(
      pc,
      `${pc.installDir}/${provmethod}/${manifest.osimage.osvers}/${manifest.osimage.osarch}/${manifest.osimage.profile}`,
      "rawimagefiles",
    );
    pc.plan.messages.push(`Copying image files to ${dir}`);
    for (const file of manifest.rawimagefiles) {
      const base = posix.basename(file);
      if (image.files.get(base) === undefined) {
        throw new IntegrityError(`${prefix}: the raw image file "${file}" is not in the bundle`);
      }
      const suffix = posix.extname(base) === ".img" ? "" : ".img";
      const target = `${dir}/${base}${suffix}`;
      await addMove(
        pc,
        `${imageDir}/${base}`,
        target,
        false,
        await lexists(hostPathOf(ctx, target)),
      );
    }
  }

  if (options.postscripts !== undefined) {
    await planPostscripts(pc, manifest, rows);
  }
  pc.plan.rows.push(...rows);
  pc.plan.images.push(name);
}

async function planRootImgTree(pc: PlanContext, stagedFile: string, target: string): Promise<void> {
  // The tree lands beside the file: <dirname(rootimgtree)>/rootimg. Very old bundles recorded
  // <rootimgdir>/rootimg/rootimgtree.gz, which made xCAT build rootimg/rootimg (§5.1); we do not.
  let dir = posix.dirname(target);
  if (posix.basename(dir) === "rootimg") dir = posix.dirname(dir);
  const treeTarget = `${dir}/rootimg`;
  const unpackInto = `${pc.stagingDir}/rootimgtree-${pc.counter.value++}`;
  await Deno.mkdir(unpackInto);
  pc.plan.messages.push("Extracting rootimgtree.gz. It will take a while.");
  // rootimgtree.gz inflates on the staging file system too: same bomb and free-space limits.
  const cpio = limitExpansion(fileChunks(stagedFile), decompress, {
    ratio: pc.options.maxExpansion ?? DEFAULT_MAX_EXPANSION,
    prefix: `${pc.prefix}: rootimgtree.gz`,
    hint: "import it with --allow-expansion",
  });
  await extractEntries(readCpio(pc.space.watch(cpio)), unpackInto, {
    policy: "rootimage",
    prefix: `${pc.prefix}: rootimgtree.gz`,
    keepOwners: true,
    runner: pc.ctx.runner,
  });
  // The newc archive holds "rootimg" itself as its first member.
  const unpacked = `${unpackInto}/rootimg`;
  if (!(await Deno.lstat(unpacked).catch(() => undefined))?.isDirectory) {
    await Deno.mkdir(unpacked);
  }
  // The old tree is replaced whole rather than overlaid file by file as xCAT does, so no stale
  // file of the previous image survives; it is discarded once the commit is done.
  await addMove(pc, unpacked, treeTarget, false, await lexists(hostPathOf(pc.ctx, treeTarget)));
}

async function planKits(
  pc: PlanContext,
  manifest: ParsedManifest,
  image: BundleImage,
  imageDir: string,
  rows: RowSetChange[],
): Promise<void> {
  const tables = { kit: "kit", kitrepo: "kitrepo", kitcomp: "kitcomponent" } as const;
  for (const element of ["kit", "kitrepo", "kitcomp"] as const) {
    const table = tables[element];
    const key = KIT_KEY_COLUMN[element];
    for (const [name, row] of Object.entries(manifest[element])) {
      const [existing] = await pc.reader.rows(table, { [key]: name }, { includeDisabled: true });
      // xCAT upserts kit rows (merge): columns the bundle lacks keep their values.
      const after = schemaRow(pc, table, { ...existing, ...row, [key]: name }, element);
      rows.push({ table, where: { [key]: name }, after: [after] });
    }
  }
  for (const [name, row] of Object.entries(manifest.kit)) {
    const kitdir = row.kitdir;
    if (!kitdir || image.members.get(name) !== "dir") continue;
    const target = checkAllowed(pc, posix.join(posix.dirname(kitdir), name), "kit kitdir");
    const existed = await lexists(hostPathOf(pc.ctx, target));
    pc.plan.messages.push(kitdir);
    if (existed) pc.plan.messages.push(`  Moving old ${target} to ${target}.ORIG.`);
    // other_files go to the postscripts directory as copies (the kit keeps its own).
    const otherFiles = `${imageDir}/${name}/other_files`;
    if (image.members.get(`${name}/other_files`) === "dir") {
      const copyDir = `${pc.stagingDir}/kit-postscripts-${pc.counter.value++}`;
      await Deno.mkdir(copyDir);
      for await (const entry of Deno.readDir(otherFiles)) {
        if (entry.name.startsWith(".") || /\.(exlist|env)$/i.test(entry.name)) continue;
        if (!entry.isFile) continue;
        await Deno.copyFile(`${otherFiles}/${entry.name}`, `${copyDir}/${entry.name}`);
        await Deno.chmod(`${copyDir}/${entry.name}`, 0o755);
        const to = `${pc.installDir}/postscripts/${entry.name}`;
        await addMove(
          pc,
          `${copyDir}/${entry.name}`,
          to,
          false,
          await lexists(hostPathOf(pc.ctx, to)),
        );
      }
    }
    if (image.members.get(`${name}/plugins`) === "dir") {
      pc.warnings.push(
        `The kit ${name} has plugins; osimg runs no xcatd, so they are not installed.`,
      );
    }
    await addMove(pc, `${imageDir}/${name}`, target, true, existed);
  }
}

/** `imgimport -p noderange` (imgport.pm set_postscripts, reference §4.9). */
async function planPostscripts(
  pc: PlanContext,
  manifest: ParsedManifest,
  rows: RowSetChange[],
): Promise<void> {
  pc.plan.messages.push("Adding postscripts.");
  // Groups and ranges expand as xCAT's noderange does; names that are not nodes are skipped
  // with xCAT's warning rather than failing the expansion.
  const universe = await loadNodeUniverse(pc.reader, ["nodelist"]);
  const requested = expandNoderange(pc.options.postscripts ?? "", universe, {
    ...noderangeEnvironment(pc.ctx),
    verify: false,
  });
  const valid: string[] = [];
  const skipped: string[] = [];
  for (const node of requested) {
    const found = await pc.reader.rows("nodelist", { node });
    (found.length > 0 ? valid : skipped).push(node);
  }
  if (valid.length === 0) {
    throw new NotFoundError(`The nodes ${pc.options.postscripts} are not defined in xCAT DB.`);
  }
  if (skipped.length > 0) {
    pc.warnings.push(
      `The following nodes will be skipped because they are not in the nodelist table.\n  ${
        skipped.join(",")
      }`,
    );
  }
  const [defaults] = await pc.reader.rows("postscripts", { node: "xcatdefaults" });
  const filter = (bundleList: string | undefined, defaultList: string | undefined) => {
    const items = splitList(bundleList);
    const known = new Set(splitList(defaultList));
    // xCAT compares as anchored regexes; plain script names compare equal either way.
    return items.filter((item) => !known.has(item)).join(",");
  };
  const postscripts = filter(manifest.postscripts, defaults?.postscripts);
  const postbootscripts = filter(manifest.postbootscripts, defaults?.postbootscripts);
  if (postscripts === "" && postbootscripts === "") return;
  for (const node of valid) {
    const [existing] = await pc.reader.rows("postscripts", { node }, { includeDisabled: true });
    const row: Row = { ...existing, node };
    delete row.postscripts;
    delete row.postbootscripts;
    if (postscripts) row.postscripts = postscripts;
    if (postbootscripts) row.postbootscripts = postbootscripts;
    rows.push({ table: "postscripts", where: { node }, after: [row] });
  }
}

/** Turns a raw system error (ENOSPC, EACCES) into one line naming the action. */
function importError(prefix: string, error: unknown): unknown {
  if (error instanceof OsimgError) return error;
  const code = (error as { code?: string }).code;
  const message = (error as Error)?.message ?? String(error);
  if (code === "ENOSPC" || /No space left on device/.test(message)) {
    return new OsimgError(
      `${prefix}: no space left on the device holding the install directory; nothing was changed`,
      { cause: error },
    );
  }
  return new OsimgError(`${prefix}: ${message}`, { cause: error });
}

/**
 * Finishes or undoes what interrupted imports left behind (journals under
 * `<installdir>/.osimg-staging`). Every verb that changes images calls this first.
 */
export async function recoverInterruptedImports(ctx: Context): Promise<RecoveryReport> {
  const store = await ctx.store();
  const installDir = await store.read(readInstallDir);
  await removeStaleLocks(hostPathOf(ctx, `${installDir}/${LOCK_DIR_NAME}`));
  return await recoverStaging(
    store,
    ctx.root,
    hostPathOf(ctx, `${installDir}/${STAGING_DIR_NAME}`),
  );
}

/**
 * Imports a bundle: recovers earlier interrupted imports, stages the bundle on the install
 * directory's file system while verifying it in one pass, plans every file and row (nothing
 * changed yet), then commits through the journal. Any failure before the commit removes the
 * staging area and leaves files and rows exactly as they were.
 *
 * @example
 * ```ts
 * const { images } = await importBundle(ctx, "rhels8-netboot.tgz", { profile: "compute2" });
 * ```
 */
export async function importBundle(
  ctx: Context,
  bundlePath: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const prefix = `Cannot import bundle "${bundlePath}"`;
  // -f's profile becomes a directory (<installdir>/netboot/<osvers>/<osarch>/<profile>) and
  // part of the image name; checked before anything, the recovery of earlier imports included.
  if (options.profile !== undefined) checkPathComponent("profile", options.profile);
  const bundle = resolve(ctx.cwd, bundlePath);
  for (const dir of options.allowPaths ?? []) {
    if (!posix.isAbsolute(dir)) {
      throw new UsageError(`imgimport: --allow-path '${dir}' must be an absolute directory.`);
    }
  }
  if (!(await Deno.stat(bundle).catch(() => undefined))?.isFile) {
    throw new NotFoundError(`Cannot find ${bundle}`);
  }
  const store: Store = await ctx.store();
  // A dry run changes nothing, not even what an interrupted run left (the next real run will).
  if (!options.dryRun) {
    const report = await recoverInterruptedImports(ctx);
    for (const id of report.rolledForward) {
      ctx.io.err(`Finished an interrupted import (${id}) left by an earlier run.\n`);
    }
    for (const id of report.rolledBack) {
      ctx.io.err(`Undid an interrupted import (${id}) left by an earlier run.\n`);
    }
  }
  const [installDir, tftpDir] = await store.read(async (reader) => [
    await readInstallDir(reader),
    await readTftpDir(reader),
  ]);
  const stagingRoot = hostPathOf(ctx, `${installDir}/${STAGING_DIR_NAME}`);
  const warnings: string[] = [];
  const plan: ImportPlan = { moves: [], rows: [], images: [], messages: [] };
  const space = new SpaceReserve(stagingRoot, installDir, prefix, options.spaceReserve);
  let staging;
  const locks = new Map<string, AsyncDisposable>();
  try {
    // Before anything is written: a file system already inside its reserve is left alone.
    space.check(0);
    staging = await createStaging(stagingRoot);
  } catch (error) {
    throw importError(prefix, error);
  }
  try {
    ctx.io.out("Unbundling image...\n");
    if (options.verbose) ctx.io.out(`Bundle file is located at ${bundle}\n`);
    const size = (await Deno.stat(bundle)).size;
    const progress = ctx.progress(`Unbundling ${bundlePath}`, size);
    await Deno.mkdir(`${staging.dir}/tree`);
    const scan = await scanBundle(fileChunks(bundle), {
      prefix,
      name: bundlePath,
      destination: `${staging.dir}/tree`,
      onBytes: (bytes) => progress.advance(bytes),
      maxExpansion: options.maxExpansion,
      expansionHint: "import it with --allow-expansion",
      space,
    });
    progress.done();
    warnings.push(...scan.warnings);
    for (const warning of scan.warnings) ctx.io.err(`Warning: ${warning}\n`);
    await store.read(async (reader) => {
      const pc: PlanContext = {
        ctx,
        reader,
        prefix,
        stagingDir: staging!.dir,
        installDir,
        tftpDir,
        options,
        warnings: [],
        plan,
        claimed: new Map(),
        claimedAncestors: new Set(),
        realPaths: new Map(),
        space,
        counter: { value: 0 },
        locks,
      };
      for (const image of scan.images) await planImage(pc, image);
      warnings.push(...pc.warnings);
      for (const warning of pc.warnings) ctx.io.err(`Warning: ${warning}\n`);
    });
    if (options.dryRun) {
      printDryRun(ctx, plan);
      return { images: plan.images, warnings };
    }
    await commitStaged(store, staging, { moves: plan.moves, rows: plan.rows }, {
      root: ctx.root,
      hook: options.hook,
    });
    for (const line of plan.messages) ctx.io.out(`${line}\n`);
    for (const name of plan.images) ctx.io.out(`Successfully imported the image ${name}.\n`);
    return { images: plan.images, warnings };
  } catch (error) {
    throw importError(prefix, error);
  } finally {
    // Locks first: their directory sits beside the staging area, whose removal then also
    // removes the parents it created when they are empty again.
    for (const lock of locks.values()) await lock[Symbol.asyncDispose]();
    await staging.remove().catch(() => {});
  }
}

function printDryRun(ctx: Context, plan: ImportPlan): void {
  ctx.io.out("Dry run: nothing is changed. The import would write:\n");
  for (const move of plan.moves) {
    const how = move.existed ? (move.keepOrig ? " (old one kept as .ORIG)" : " (replacing)") : "";
    ctx.io.out(`  file ${move.shown}${how}\n`);
  }
  for (const change of plan.rows) {
    const where = Object.entries(change.where).map(([k, v]) => `${k}=${v}`).join(",");
    ctx.io.out(`  ${change.table} ${where}: replaced by\n`);
    for (const row of change.after) {
      const columns = findTable(change.table)!.columns.filter((column) => row[column]);
      ctx.io.out(`    ${columns.map((column) => `${column}=${row[column]}`).join(" ")}\n`);
    }
  }
  for (const name of plan.images) ctx.io.out(`Would import the image ${name}.\n`);
}
