// copycds: identify distro media, copy it into the install tree all-or-nothing, and define the
// osdistro and xCAT's default osimages for it.

import { createHash } from "node:crypto";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import type { Context } from "../context.ts";
import { hostPathOf, installDir as readInstallDir } from "../context.ts";
import { ConflictError, InvalidInputError, UsageError } from "../errors.ts";
import { acquireImageLock, LOCK_DIR_NAME } from "../image/image_lock.ts";
import { pathComponentProblem } from "../definitions/object_names.ts";
import { isWithin, siteDirectoryProblem } from "../paths.ts";
import { exists, makeDirectories, removeEmptyDirectories, syncDirectory } from "../tree/files.ts";
import type { Row } from "../store/store.ts";
import {
  commonArch,
  MEDIA_FAMILIES,
  type MediaFamily,
  type MediaIdentity,
} from "../../providers/distros/media_families.ts";
import { loadProfileCatalog, planDefaultOsimages } from "./default_osimages.ts";
import type { MediaTree } from "./media_tree.ts";
import { openMedia as openMediaByPath } from "./open_media.ts";

/** The options of one copycds run (xCAT's flags). */
export interface CopycdsOptions {
  /** -n: the osvers to give the media instead of the detected one. */
  name?: string;
  /** -a: the architecture (must agree with the media's when it names one). */
  arch?: string;
  /** -p: the directory to copy to instead of <installdir>/<osvers>/<arch>. */
  path?: string;
  /** -i: print what the media is and copy nothing. */
  inspection?: boolean;
  /** -o: copy, define the osdistro, but no default osimages. */
  noOsimage?: boolean;
  /** -w: do not copy media that is already copied (say so instead). */
  noOverwrite?: boolean;
  /** -v: name each default file written and each osimage defined. */
  verbose?: boolean;
  /** Opens a command-line argument as media (tests pass media that fail on purpose). */
  openMedia?: (path: string) => Promise<MediaTree>;
}

/** The most a metadata file (.discinfo, .treeinfo, media.1/products) may hold. */
const METADATA_LIMIT = 1 << 20;

/** The media record's version, checked when it is read. */
const RECORD_VERSION = 1;

/**
 * What copycds keeps beside a copied disc, `<parent>/.<dir>.osimg-media` (JSON): the media's
 * fingerprint and the identity (device, inode) of the directory the copy was made in. It is
 * written before that directory is renamed into place, so a record whose inode is not the
 * directory's belongs to a copy that never landed; only a record that matches both says the
 * directory holds a whole copy of that media. Kept outside the tree, the copy stays identical
 * to the disc.
 */
interface MediaRecord {
  version: number;
  fingerprint: string;
  source: string;
  dev: number;
  ino: number;
}

const UNIDENTIFIED = "copycds could not identify the ISO supplied, you may wish to try -n <osver>";
const NO_ARCH = "copycds could not identify the ARCH, you may wish to try -a <arch>.";

/** What copycds decided a disc is. */
interface Identified {
  family: MediaFamily;
  distname: string;
  arch: string;
  discno?: string;
  alsoServes: string[];
}

async function identify(
  media: MediaTree,
  options: { name?: string; arch?: string },
): Promise<Identified> {
  const decoder = new TextDecoder();
  const read = async (path: string) => {
    const bytes = await media.readFile(path, METADATA_LIMIT);
    return bytes === undefined ? undefined : decoder.decode(bytes);
  };
  let family: MediaFamily | undefined;
  let identity: MediaIdentity | undefined;
  if (options.name !== undefined) {
    // -n picks the family that owns the name; the media then only tells the architecture.
    family = MEDIA_FAMILIES.find((candidate) => candidate.acceptsName(options.name!));
    if (!family) throw new InvalidInputError(UNIDENTIFIED);
    identity = await family.detectMedia(read);
  } else {
    for (const candidate of MEDIA_FAMILIES) {
      identity = await candidate.detectMedia(read);
      if (identity) {
        family = candidate;
        break;
      }
    }
    if (!family || !identity) throw new InvalidInputError(UNIDENTIFIED);
  }
  const distname = options.name ?? identity!.distname;
  const requested = options.arch === undefined ? undefined : family.normalizeArch(options.arch);
  if (identity?.arch !== undefined && requested !== undefined && requested !== identity.arch) {
    throw new InvalidInputError(family.archMismatch(commonArch(options.arch!), identity.arch));
  }
  const arch = requested ?? identity?.arch;
  if (arch === undefined) throw new InvalidInputError(NO_ARCH);
  // Both become directory names under the install dir: a disc naming itself "../../etc" is not
  // followed there.
  for (const [what, value] of [["osvers", distname], ["arch", arch]] as const) {
    const problem = pathComponentProblem(what, value, `the media '${media.source}'`);
    if (problem !== undefined) throw new InvalidInputError(problem);
  }
  const discno = identity?.discno ?? (family.discDirectories ? "1" : undefined);
  if (family.discDirectories) {
    const problem = pathComponentProblem("disc number", discno!, `the media '${media.source}'`);
    if (problem !== undefined) throw new InvalidInputError(problem);
  }
  return {
    family,
    distname,
    arch,
    ...(discno !== undefined ? { discno } : {}),
    alsoServes: identity?.alsoServes ?? [],
  };
}

/**
 * Runs copycds over each argument in turn (an unpacked media folder, or an ISO once the ISO
 * reader is in): identifies the disc; with `inspection` prints `DISTNAME:`, `ARCH:`, `DISCNO:`;
 * otherwise copies it to `<installdir>/<osvers>/<arch>` (SLES: `/<discno>`) through a staging
 * directory renamed into place when complete, records its fingerprint, and in one transaction
 * writes the osdistro row and (unless `noOsimage`) xCAT's default osimages. Media that is
 * already copied is not copied again; with `noOverwrite` nothing is done for it at all.
 */
export async function copycds(
  ctx: Context,
  sources: readonly string[],
  options: CopycdsOptions = {},
): Promise<void> {
  if (sources.length === 0) {
    throw new UsageError("copycds needs at least one full path to ISO currently.");
  }
  const open = options.openMedia ?? openMediaByPath;
  for (const source of sources) {
    const path = resolve(ctx.cwd, source);
    await using media = await open(path);
    if (options.inspection) {
      ctx.reporter.line(`OS Image:${path}`);
      for (const flag of ["name", "arch"] as const) {
        if (options[flag] !== undefined) {
          ctx.reporter.warn(
            `copycds: option --inspection specified, argument specified with option --${flag} is ignored`,
          );
        }
      }
      const found = await identify(media, {});
      ctx.reporter.line(`DISTNAME:${found.distname}`);
      ctx.reporter.line(`ARCH:${found.arch}`);
      if (found.discno !== undefined) ctx.reporter.line(`DISCNO:${found.discno}`);
      continue;
    }
    const found = await identify(media, options);
    await copyOne(ctx, media, found, options);
  }
}

async function copyOne(
  ctx: Context,
  media: MediaTree,
  found: Identified,
  options: CopycdsOptions,
): Promise<void> {
  const { family, distname, arch } = found;
  if (family.refusesPathAndNoOverwrite && (options.path !== undefined || options.noOverwrite)) {
    throw new InvalidInputError(family.refusesPathAndNoOverwrite);
  }
  const store = await ctx.store();
  const installDir = await readInstallDir(store);
  let base = `${installDir}/${distname}/${arch}`;
  if (options.path !== undefined) {
    base = options.path.replace(/\/+$/, "").replace(/\/\/+/g, "/") || "/";
    const problem = isAbsolute(base) ? siteDirectoryProblem(base) : "it is not an absolute path";
    if (problem !== undefined) {
      throw new InvalidInputError(
        `The path '${options.path}' given with -p is invalid: ${problem}.`,
      );
    }
    if (!isWithin(installDir, base)) {
      ctx.reporter.warn(
        `copycds: the specified path "${base}" is not a subdirectory under ${installDir}. Make sure this path is configured for httpd/apache, otherwise, the provisioning with this iso will fail!`,
      );
    }
  }
  const destination = family.discDirectories ? `${base}/${found.discno}` : base;
  const hostDestination = hostPathOf(ctx, destination);
  const parent = dirname(hostDestination);
  const leaf = basename(hostDestination);
  const recordPath = join(parent, `.${leaf}.osimg-media`);
  const lockName = `copycds-${
    createHash("sha256").update(hostDestination).digest("hex").slice(0, 16)
  }`;
  await using _lock = await acquireImageLock(
    hostPathOf(ctx, `${installDir}/${LOCK_DIR_NAME}`),
    lockName,
    "copycds",
  );
  const fingerprint = await media.fingerprint();
  const record = await readRecord(recordPath);
  const current = await lstatOrUndefined(hostDestination);
  const alreadyCopied = record !== undefined && current !== undefined &&
    record.fingerprint === fingerprint && record.dev === current.dev && record.ino === current.ino;
  if (alreadyCopied && options.noOverwrite) {
    ctx.reporter.line("The disc iso has already been copied in!");
    return;
  }
  if (alreadyCopied) {
    ctx.reporter.line(`${destination} already holds a copy of this media; nothing copied.`);
  } else {
    if (current !== undefined && record === undefined && !await isEmptyDirectory(hostDestination)) {
      throw new ConflictError(
        `${destination} already holds files that copycds did not copy there. ` +
          `Move them away, or copy the media elsewhere with -p <directory>.`,
      );
    }
    await copyIntoPlace(ctx, media, {
      destination,
      hostDestination,
      recordPath,
      fingerprint,
    });
    for (const slot of found.alsoServes) {
      const link = join(dirname(hostDestination), slot);
      if (!await exists(link)) await Deno.symlink(leaf, link);
    }
    ctx.reporter.line("Media copy operation successful");
  }
  await defineDistro(ctx, found, base, installDir, options);
}

/** Copies the media into a staging directory beside the destination and renames it into place. */
async function copyIntoPlace(
  ctx: Context,
  media: MediaTree,
  target: { destination: string; hostDestination: string; recordPath: string; fingerprint: string },
): Promise<void> {
  const { hostDestination } = target;
  const parent = dirname(hostDestination);
  const leaf = basename(hostDestination);
  const created = await makeDirectories(parent);
  // Whatever a killed copycds of this destination left (we hold its lock): never a whole copy.
  await removeLeftovers(parent, leaf);
  const staging = join(parent, `.${leaf}.osimg-staging-${Deno.pid}`);
  await Deno.mkdir(staging, { mode: 0o755 });
  ctx.reporter.line(`Copying media to ${target.destination}`);
  const progress = ctx.progress(`Copying ${basename(media.source)}`, media.totalBytes);
  try {
    await media.copyTo(staging, progress);
    // xCAT leaves the top of a copied disc world-readable whatever the disc says: the web
    // server serves it.
    await Deno.chmod(staging, 0o755);
    const info = await Deno.lstat(staging);
    await writeRecord(target.recordPath, {
      version: RECORD_VERSION,
      fingerprint: target.fingerprint,
      source: media.source,
      dev: info.dev,
      ino: info.ino ?? 0,
    });
    const old = join(parent, `.${leaf}.osimg-old-${Deno.pid}`);
    const replacing = await exists(hostDestination);
    if (replacing) await Deno.rename(hostDestination, old);
    try {
      await Deno.rename(staging, hostDestination);
    } catch (error) {
      if (replacing) await Deno.rename(old, hostDestination).catch(() => {});
      throw error;
    }
    await syncDirectory(parent, { onError: "ignore" });
    if (replacing) await Deno.remove(old, { recursive: true });
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    if (!await exists(hostDestination)) {
      await Deno.remove(target.recordPath).catch(() => {});
      await removeEmptyDirectories(created);
    }
    throw error;
  } finally {
    progress.done();
  }
}

/** Removes staging and replaced directories of `leaf` that an interrupted copycds left. */
async function removeLeftovers(parent: string, leaf: string): Promise<void> {
  const prefixes = [`.${leaf}.osimg-staging-`, `.${leaf}.osimg-old-`, `.${leaf}.osimg-media.`];
  for await (const entry of Deno.readDir(parent)) {
    if (prefixes.some((prefix) => entry.name.startsWith(prefix))) {
      await Deno.remove(join(parent, entry.name), { recursive: true });
    }
  }
}

/** The osdistro row and the default osimages, files first, rows in one transaction. */
async function defineDistro(
  ctx: Context,
  found: Identified,
  pkgdir: string,
  installDir: string,
  options: CopycdsOptions,
): Promise<void> {
  const { distname, arch, family } = found;
  const osdistroname = `${distname}-${arch}`;
  const plan = options.noOsimage ? undefined : planDefaultOsimages({
    family,
    osver: distname,
    arch,
    pkgdir,
    osdistroname,
    installDir,
    catalog: await loadProfileCatalog(ctx.root, installDir),
  });
  for (const problem of plan?.problems ?? []) {
    ctx.reporter.warn(`Error when updating the osimage tables: ${problem}`);
  }
  for (const [path, file] of plan?.files ?? []) {
    const host = hostPathOf(ctx, path);
    if (await exists(host)) continue;
    await makeDirectories(dirname(host));
    // Written under a temporary name: a half-written template never sits where one is read.
    const temporary = `${host}.osimg-${Deno.pid}`;
    await Deno.writeTextFile(temporary, file.content, { mode: file.mode });
    await Deno.chmod(temporary, file.mode);
    await Deno.rename(temporary, host);
    if (options.verbose) ctx.reporter.line(`Wrote ${path}`);
  }
  // xCAT's parseosver: letters, then the major and minor numbers (rhels9.2 → rhels, 9, 2).
  const version = /(\D+)(\d*)\.*(\d*)/.exec(distname);
  await (await ctx.store()).write(async (writer) => {
    const [existing] = await writer.rows("osdistro", { osdistroname });
    const paths = (existing?.dirpaths ?? "").split(",").filter((item) => item !== "");
    const row: Row = {
      osdistroname,
      basename: version?.[1] ?? "",
      majorversion: version?.[2] ?? "",
      minorversion: version?.[3] ?? "",
      arch,
      type: "Linux",
    };
    if (!paths.some((item) => item.replace(/\/+$/, "") === pkgdir)) {
      row.dirpaths = [...paths, pkgdir].join(",");
    }
    await writer.upsert("osdistro", row);
    for (const image of plan?.images ?? []) {
      await writer.upsert("osimage", image.osimage);
      const [linux] = await writer.rows("linuximage", { imagename: image.name });
      // xCAT seeds addkcmdline=quiet on a new image only; an admin's value stays.
      const linuximage = linux?.pkgdir
        ? image.linuximage
        : { ...image.linuximage, addkcmdline: "quiet" };
      await writer.upsert("linuximage", linuximage);
    }
  });
  if (options.verbose) {
    for (const image of plan?.images ?? []) ctx.reporter.line(`Defined osimage ${image.name}`);
  }
}

async function readRecord(path: string): Promise<MediaRecord | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const value = JSON.parse(text) as Partial<MediaRecord>;
    if (
      value.version === RECORD_VERSION && typeof value.fingerprint === "string" &&
      typeof value.dev === "number" && typeof value.ino === "number"
    ) {
      return value as MediaRecord;
    }
  } catch {
    // A torn or foreign record says nothing about the copy: it is replaced by the next copy.
  }
  return { version: 0, fingerprint: "", source: "", dev: -1, ino: -1 };
}

async function writeRecord(path: string, record: MediaRecord): Promise<void> {
  const temporary = `${path}.${Deno.pid}`;
  await Deno.writeTextFile(temporary, JSON.stringify(record) + "\n", { mode: 0o644 });
  await Deno.rename(temporary, path);
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function isEmptyDirectory(path: string): Promise<boolean> {
  const info = await Deno.lstat(path);
  if (!info.isDirectory) return false;
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}
