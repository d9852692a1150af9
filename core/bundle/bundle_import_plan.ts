// imgimport's planning: every file move and row change an import makes, worked out and checked (allowed paths, links, collisions) before anything changes.

import { architectureOf } from "../../providers/distros/architectures.ts";
import { findProvmethod, matchProvmethod } from "../../providers/provmethods/provmethods.ts";
import { posix } from "node:path";
import {
  KIT_KEY_COLUMN,
  type ParsedManifest,
  parseManifest,
} from "../../formats/xcat/manifest_xml.ts";
import { readCpio } from "../../formats/archive/cpio_newc.ts";
import type { BundleImage } from "./bundle_reader.ts";
import { exists as pathExists, fileChunks } from "../tree/files.ts";
import type { ImportOptions } from "./bundle_import.ts";
import {
  applyProfile,
  fileRefs,
  manifestProblems,
  parseLitefileCsv,
  splitList,
  XCAT_SHARE_DIR,
} from "./bundle_import_rules.ts";
import type { FileMove, RowSetChange } from "../tree/commit_journal.ts";
import { decompress } from "../compress/compress.ts";
import { type Context, hostPathOf } from "../context.ts";
import { IntegrityError, InvalidInputError, NotFoundError } from "../errors.ts";
import { loadNodeUniverse } from "../nodes/node_universe.ts";
import { expandNoderange } from "../nodes/noderange.ts";
import { noderangeEnvironment } from "../nodes/noderange_environment.ts";
import { objectNameProblem } from "../definitions/object_names.ts";
import { belowProblem, isWithin } from "../paths.ts";
import type { Reporter } from "../reporter.ts";
import { extractEntries } from "../tree/safe_extract.ts";
import { DEFAULT_MAX_EXPANSION, limitExpansion, type SpaceReserve } from "./staging_limits.ts";
import { findTable, MANIFEST_COLUMNS } from "../store/schema.ts";
import type { Row, StoreReader } from "../store/store.ts";

/** The allowed roots for manifest paths, as management paths. */
function allowedRoots(installDir: string, tftpDir: string, extra: readonly string[]): string[] {
  return [installDir, tftpDir, XCAT_SHARE_DIR, ...extra];
}

/** Everything an import will do, computed before anything changes. */
export interface ImportPlan {
  /** `shown`: the target as a management-node path; `existed`: it replaces something. */
  moves: (FileMove & { shown: string; existed: boolean })[];
  rows: RowSetChange[];
  images: string[];
  /** Lines xCAT prints while placing files (after commit). */
  messages: string[];
}

/** What planning an import reads and adds to. */
export interface ImportPlanning {
  ctx: Context;
  reader: StoreReader;
  prefix: string;
  stagingDir: string;
  installDir: string;
  tftpDir: string;
  options: ImportOptions;
  /** Where planning's warnings go (importBundle shows them once planning has succeeded). */
  reporter: Pick<Reporter, "warn">;
  plan: ImportPlan;
  /** Targets already claimed in this import (two sources for one path is an error). */
  claimed: Map<string, string>;
  /** Every directory above a claimed target. */
  claimedAncestors: Set<string>;
  /** realpath cache for checkNoLinkEscape. */
  realPaths: Map<string, string>;
  /** The free space kept on the staging file system. */
  space: SpaceReserve;
  /** Numbers the staging directories planning makes (rootimgtree-<n>, kit-postscripts-<n>). */
  counter: { value: number };
  /** The image locks this import holds, by image name. */
  locks: Map<string, AsyncDisposable>;
}

function checkAllowed(planning: ImportPlanning, path: string, what: string): string {
  if (!posix.isAbsolute(path)) {
    throw new IntegrityError(
      `${planning.prefix}: the manifest path "${path}" (${what}) is not absolute`,
    );
  }
  const normalized = posix.normalize(path);
  const roots = allowedRoots(
    planning.installDir,
    planning.tftpDir,
    planning.options.allowPaths ?? [],
  );
  if (!roots.some((root) => isWithin(root, normalized))) {
    throw new IntegrityError(
      `${planning.prefix}: the manifest path "${path}" (${what}) is outside the allowed directories ` +
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
async function checkNoLinkEscape(
  planning: ImportPlanning,
  targetManagement: string,
): Promise<void> {
  let dir = posix.dirname(hostPathOf(planning.ctx, targetManagement));
  while (!(await pathExists(dir))) dir = posix.dirname(dir);
  let real = planning.realPaths.get(dir);
  if (real === undefined) {
    real = await Deno.realPath(dir);
    planning.realPaths.set(dir, real);
  }
  const rootReal = await Deno.realPath(planning.ctx.root);
  const lexical = posix.join(rootReal, posix.relative(posix.resolve(planning.ctx.root), dir));
  if (real === lexical) return;
  const roots = allowedRoots(
    planning.installDir,
    planning.tftpDir,
    planning.options.allowPaths ?? [],
  );
  for (const root of roots) {
    const host = hostPathOf(planning.ctx, root);
    const rootTarget = await Deno.realPath(host).catch(() => host);
    if (isWithin(rootTarget, real)) return;
  }
  throw new IntegrityError(
    `${planning.prefix}: the path "${targetManagement}" leads through a symbolic link out of the allowed directories`,
  );
}

async function addMove(
  planning: ImportPlanning,
  from: string,
  targetManagement: string,
  keepOrig: boolean,
  existed: boolean,
): Promise<void> {
  await checkNoLinkEscape(planning, targetManagement);
  const to = hostPathOf(planning.ctx, targetManagement);
  const claimedBy = planning.claimed.get(to);
  if (claimedBy !== undefined) {
    if (claimedBy === from) return;
    throw new IntegrityError(
      `${planning.prefix}: two members of the bundle would be written to "${targetManagement}"`,
    );
  }
  // One target inside another (a file into a restored directory) would depend on the order of
  // the renames; checked through ancestors so that thousands of extras stay linear.
  const ancestors: string[] = [];
  for (let dir = posix.dirname(to); dir !== posix.dirname(dir); dir = posix.dirname(dir)) {
    ancestors.push(dir);
  }
  if (planning.claimedAncestors.has(to) || ancestors.some((dir) => planning.claimed.has(dir))) {
    throw new IntegrityError(
      `${planning.prefix}: "${targetManagement}" would be written inside another restored path`,
    );
  }
  for (const dir of ancestors) planning.claimedAncestors.add(dir);
  planning.claimed.set(to, from);
  planning.plan.moves.push({ from, to, keepOrig, shown: targetManagement, existed });
}

/** Columns of `table` this schema has; others are dropped with a warning (version skew, §5.2-2). */
function schemaRow(planning: ImportPlanning, table: string, row: Row, element: string): Row {
  const columns = findTable(table)!.columns;
  const kept: Row = {};
  for (const [column, value] of Object.entries(row)) {
    if (columns.includes(column)) kept[column] = value;
    else {
      planning.reporter.warn(
        `The manifest's <${element}> has the column '${column}', which the ${table} table does not have; it is ignored.`,
      );
    }
  }
  return kept;
}

/** Moves a staged extra directory's contents into `dest`: whole subtrees where the target is new. */
async function planDirectoryMerge(
  planning: ImportPlanning,
  stagedDir: string,
  destManagement: string,
): Promise<void> {
  const destHost = hostPathOf(planning.ctx, destManagement);
  const info = await Deno.lstat(destHost).catch(() => undefined);
  if (!info) {
    await addMove(planning, stagedDir, destManagement, false, false);
    return;
  }
  if (!info.isDirectory) {
    throw new IntegrityError(
      `${planning.prefix}: the extra destination "${destManagement}" exists and is not a directory`,
    );
  }
  const names: string[] = [];
  for await (const entry of Deno.readDir(stagedDir)) names.push(entry.name);
  names.sort();
  for (const name of names) {
    const child = `${stagedDir}/${name}`;
    const target = posix.join(destManagement, name);
    const childInfo = await Deno.lstat(child);
    const targetInfo = await Deno.lstat(hostPathOf(planning.ctx, target)).catch(() => undefined);
    if (childInfo.isDirectory && targetInfo?.isDirectory) {
      await planDirectoryMerge(planning, child, target);
    } else {
      // cp -a -f semantics: overwritten, no .ORIG (imgport.pm moveExtra).
      await addMove(planning, child, target, false, targetInfo !== undefined);
    }
  }
}

/** Plans one image of the bundle: its manifest checked, files, rows, kits, litefile rows. */
export async function planImage(planning: ImportPlanning, image: BundleImage): Promise<void> {
  const { ctx, prefix, options } = planning;
  const imageDir = `${planning.stagingDir}/tree/${image.dir}`;
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
    const mediaDir = hostPathOf(ctx, `${planning.installDir}/${osvers}/${osarch}`);
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
  if (options.profile !== undefined) {
    applyProfile(manifest, refs, options.profile, planning.installDir);
  }
  const name = manifest.osimage.imagename!;
  // -f builds the name from four values; their sum may be too long for a file name.
  const nameProblem = objectNameProblem("osimage", name);
  if (nameProblem !== undefined) throw new InvalidInputError(`${prefix}: ${nameProblem}`);
  // The rootimgdir is where rmimage removes and packimage writes: the rule they apply to the
  // row (core/image/osimage.ts rootImgDir) is applied before the row is written.
  const rootimgdir = manifest.linuximage.rootimgdir?.replace(/\/+$/, "");
  const rootimgdirProblem = rootimgdir ? belowProblem(planning.installDir, rootimgdir) : undefined;
  if (rootimgdirProblem !== undefined) {
    throw new IntegrityError(
      `${prefix}: the manifest's rootimgdir "${rootimgdir}" is invalid: ${rootimgdirProblem}`,
    );
  }
  if (options.lockImage && !options.dryRun && !planning.locks.has(name)) {
    planning.locks.set(name, await options.lockImage(name));
  }
  const provmethod = manifest.osimage.provmethod!;
  const osimage = schemaRow(planning, "osimage", manifest.osimage, "osimage");
  const linuximage = schemaRow(
    planning,
    "linuximage",
    { ...manifest.linuximage, imagename: name },
    "linuximage",
  );
  if (options.verbose) planning.plan.messages.push(`Adding ${name}`);

  const staged = (original: string) => `${imageDir}/${posix.basename(original)}`;
  for (const ref of refs) {
    const target = checkAllowed(planning, ref.target, ref.field);
    const base = posix.basename(ref.original);
    if (!base || image.files.get(base) === undefined) {
      // xCAT would rename the target to .ORIG and put nothing there (§4.6); we leave it alone.
      planning.reporter.warn(
        `The bundle has no file for "${ref.original}" (${ref.field}); "${target}" is left as it is.`,
      );
      continue;
    }
    if (ref.field === "rootimgtree") {
      await planRootImgTree(planning, staged(ref.original), target);
      continue;
    }
    const existed = await pathExists(hostPathOf(ctx, target));
    await addMove(planning, staged(ref.original), target, true, existed);
    planning.plan.messages.push(target);
    if (existed) planning.plan.messages.push(`  Moving old ${target} to ${target}.ORIG.`);
  }

  for (const extra of manifest.extra) {
    const dest = checkAllowed(planning, extra.dest, "extra dest");
    const inBundle = posix.normalize(`extra/${extra.src.replace(/^\/+/, "")}`);
    if (image.members.get(inBundle) === "dir") {
      planning.plan.messages.push(dest);
      await planDirectoryMerge(planning, `${imageDir}/${inBundle}`, dest);
    } else {
      const base = posix.basename(extra.src);
      if (image.files.get(`extra/${base}`) === undefined) {
        throw new IntegrityError(
          `${prefix}: the manifest's extra "${extra.src}" is not in the bundle (extra/${base})`,
        );
      }
      const target = checkAllowed(planning, posix.join(dest, base), "extra");
      const existed = await pathExists(hostPathOf(ctx, target));
      await addMove(planning, `${imageDir}/extra/${base}`, target, true, existed);
      planning.plan.messages.push(target);
      if (existed) planning.plan.messages.push(`  Moving old ${target} to ${target}.ORIG.`);
    }
  }

  const rows: RowSetChange[] = [
    { table: "osimage", where: { imagename: name }, after: [osimage] },
    { table: "linuximage", where: { imagename: name }, after: [linuximage] },
  ];

  await planKits(planning, manifest, image, imageDir, rows);

  if (findProvmethod(provmethod)?.statelite) {
    planning.plan.messages.push("Updating the litefile table.");
    const litefile = manifest.litefile;
    const base = litefile ? posix.basename(litefile) : "";
    if (!litefile || image.files.get(base) === undefined) {
      planning.reporter.warn(
        litefile ? `Could not find ${litefile}.` : "Could not find litefile.csv.",
      );
    } else {
      const text = await Deno.readTextFile(`${imageDir}/${base}`);
      const all = await planning.reader.rows("litefile", { image: "ALL" });
      for (const row of parseLitefileCsv(text)) {
        if (all.some((other) => other.file === row.file && (other.options ?? "") === row.options)) {
          continue;
        }
        const after: Row = { image: name, file: row.file };
        if (row.options) after.options = row.options;
        rows.push({ table: "litefile", where: { image: name, file: row.file }, after: [after] });
      }
      planning.plan.messages.push(
        "The litetree and statelite tables are untouched. You can update them if needed.",
      );
    }
  }

  const rawImages = matchProvmethod(provmethod)?.rawImages;
  if (
    manifest.rawimagefiles?.length && rawImages &&
    architectureOf(manifest.osimage.osarch ?? "")?.rawDiskImages
  ) {
    const dir = checkAllowed(
      planning,
      `${planning.installDir}/${rawImages.dir}/${manifest.osimage.osvers}/${manifest.osimage.osarch}/${manifest.osimage.profile}`,
      "rawimagefiles",
    );
    planning.plan.messages.push(`Copying image files to ${dir}`);
    for (const file of manifest.rawimagefiles) {
      const base = posix.basename(file);
      if (image.files.get(base) === undefined) {
        throw new IntegrityError(`${prefix}: the raw image file "${file}" is not in the bundle`);
      }
      const suffix = posix.extname(base) === ".img" ? "" : ".img";
      const target = `${dir}/${base}${suffix}`;
      await addMove(
        planning,
        `${imageDir}/${base}`,
        target,
        false,
        await pathExists(hostPathOf(ctx, target)),
      );
    }
  }

  if (options.postscripts !== undefined) {
    await planPostscripts(planning, manifest, rows);
  }
  planning.plan.rows.push(...rows);
  planning.plan.images.push(name);
}

async function planRootImgTree(
  planning: ImportPlanning,
  stagedFile: string,
  target: string,
): Promise<void> {
  // The tree lands beside the file: <dirname(rootimgtree)>/rootimg. Very old bundles recorded
  // <rootimgdir>/rootimg/rootimgtree.gz, which made xCAT build rootimg/rootimg (§5.1); we do not.
  let dir = posix.dirname(target);
  if (posix.basename(dir) === "rootimg") dir = posix.dirname(dir);
  const treeTarget = `${dir}/rootimg`;
  const unpackInto = `${planning.stagingDir}/rootimgtree-${planning.counter.value++}`;
  await Deno.mkdir(unpackInto);
  planning.plan.messages.push("Extracting rootimgtree.gz. It will take a while.");
  // rootimgtree.gz inflates on the staging file system too: same bomb and free-space limits.
  const cpio = limitExpansion(
    fileChunks(stagedFile),
    (chunks) => decompress(planning.ctx.runner, chunks),
    {
      ratio: planning.options.maxExpansion ?? DEFAULT_MAX_EXPANSION,
      prefix: `${planning.prefix}: rootimgtree.gz`,
      hint: "import it with --allow-expansion",
    },
  );
  await extractEntries(readCpio(planning.space.watch(cpio)), unpackInto, {
    policy: "rootimage",
    prefix: `${planning.prefix}: rootimgtree.gz`,
    keepOwners: true,
    runner: planning.ctx.runner,
  });
  // The newc archive holds "rootimg" itself as its first member.
  const unpacked = `${unpackInto}/rootimg`;
  if (!(await Deno.lstat(unpacked).catch(() => undefined))?.isDirectory) {
    await Deno.mkdir(unpacked);
  }
  // The old tree is replaced whole rather than overlaid file by file as xCAT does, so no stale
  // file of the previous image survives; it is discarded once the commit is done.
  await addMove(
    planning,
    unpacked,
    treeTarget,
    false,
    await pathExists(hostPathOf(planning.ctx, treeTarget)),
  );
}

async function planKits(
  planning: ImportPlanning,
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
      const [existing] = await planning.reader.rows(table, { [key]: name }, {
        includeDisabled: true,
      });
      // xCAT upserts kit rows (merge): columns the bundle lacks keep their values.
      const after = schemaRow(planning, table, { ...existing, ...row, [key]: name }, element);
      rows.push({ table, where: { [key]: name }, after: [after] });
    }
  }
  for (const [name, row] of Object.entries(manifest.kit)) {
    const kitdir = row.kitdir;
    if (!kitdir || image.members.get(name) !== "dir") continue;
    const target = checkAllowed(planning, posix.join(posix.dirname(kitdir), name), "kit kitdir");
    const existed = await pathExists(hostPathOf(planning.ctx, target));
    planning.plan.messages.push(kitdir);
    if (existed) planning.plan.messages.push(`  Moving old ${target} to ${target}.ORIG.`);
    // other_files go to the postscripts directory as copies (the kit keeps its own).
    const otherFiles = `${imageDir}/${name}/other_files`;
    if (image.members.get(`${name}/other_files`) === "dir") {
      const copyDir = `${planning.stagingDir}/kit-postscripts-${planning.counter.value++}`;
      await Deno.mkdir(copyDir);
      for await (const entry of Deno.readDir(otherFiles)) {
        if (entry.name.startsWith(".") || /\.(exlist|env)$/i.test(entry.name)) continue;
        if (!entry.isFile) continue;
        await Deno.copyFile(`${otherFiles}/${entry.name}`, `${copyDir}/${entry.name}`);
        await Deno.chmod(`${copyDir}/${entry.name}`, 0o755);
        const to = `${planning.installDir}/postscripts/${entry.name}`;
        await addMove(
          planning,
          `${copyDir}/${entry.name}`,
          to,
          false,
          await pathExists(hostPathOf(planning.ctx, to)),
        );
      }
    }
    if (image.members.get(`${name}/plugins`) === "dir") {
      planning.reporter.warn(
        `The kit ${name} has plugins; osimg runs no xcatd, so they are not installed.`,
      );
    }
    await addMove(planning, `${imageDir}/${name}`, target, true, existed);
  }
}

/** `imgimport -p noderange` (imgport.pm set_postscripts, reference §4.9). */
async function planPostscripts(
  planning: ImportPlanning,
  manifest: ParsedManifest,
  rows: RowSetChange[],
): Promise<void> {
  planning.plan.messages.push("Adding postscripts.");
  // Groups and ranges expand as xCAT's noderange does; names that are not nodes are skipped
  // with xCAT's warning rather than failing the expansion.
  const universe = await loadNodeUniverse(planning.reader, ["nodelist"]);
  const requested = expandNoderange(planning.options.postscripts ?? "", universe, {
    ...noderangeEnvironment(planning.ctx),
    verify: false,
  });
  const valid: string[] = [];
  const skipped: string[] = [];
  for (const node of requested) {
    const found = await planning.reader.rows("nodelist", { node });
    (found.length > 0 ? valid : skipped).push(node);
  }
  if (valid.length === 0) {
    throw new NotFoundError(
      `The nodes ${planning.options.postscripts} are not defined in xCAT DB.`,
    );
  }
  if (skipped.length > 0) {
    planning.reporter.warn(
      `The following nodes will be skipped because they are not in the nodelist table.\n  ${
        skipped.join(",")
      }`,
    );
  }
  const [defaults] = await planning.reader.rows("postscripts", { node: "xcatdefaults" });
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
    const [existing] = await planning.reader.rows("postscripts", { node }, {
      includeDisabled: true,
    });
    const row: Row = { ...existing, node };
    delete row.postscripts;
    delete row.postbootscripts;
    if (postscripts) row.postscripts = postscripts;
    if (postbootscripts) row.postbootscripts = postbootscripts;
    rows.push({ table: "postscripts", where: { node }, after: [row] });
  }
}
