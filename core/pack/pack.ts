// packimage: select a netboot root image's files by its exlist and pack them (cpio, tar, squashfs).

import { findProvmethod } from "../../providers/provmethods/provmethods.ts";
import { dirname } from "node:path";
import type { Context } from "../context.ts";
import { hostPathOf } from "../context.ts";
import {
  ConflictError,
  ExternalCommandError,
  IntegrityError,
  InvalidInputError,
  NotFoundError,
  UsageError,
} from "../errors.ts";
import { loadOsImage, type OsImage, readInstallDir, rootImgDir } from "../image/osimage.ts";
import type { Row } from "../store/store.ts";
import { walkTree } from "../tree/walk.ts";
import { syncDirectory } from "../tree/files.ts";
import {
  type Compression,
  compressionNamed,
  COMPRESSORS,
  compressToFile,
  type GzipWorkers,
  startGzipWorkers,
} from "../compress/compress.ts";
import { leadsOutsideImage, syncFilesIntoImage } from "../tree/sync_files.ts";
import { hasProgram, type ProcessRunner } from "../process.ts";
import type { Progress } from "../progress.ts";
import type { Entry, FileContent } from "../../formats/archive/entry.ts";
import { CpioLimitError, cpioStream } from "../../formats/archive/cpio_newc.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";
import { tarStream } from "../../formats/archive/tar.ts";
import { isLinkEntry, parseLitefileSave } from "../../formats/xcat/litefile_save.ts";
import {
  ALWAYS_EXCLUDED,
  compileExlist,
  type ExlistMatcher,
  type ExlistRules,
  parseExlist,
} from "../../formats/xcat/exlist.ts";

export type PackMethod = "cpio" | "tar" | "squashfs";
/** The compressors packimage accepts (`pigz` is xCAT's name for parallel gzip: ours is too). */
export type PackCompression = "gzip" | "pigz" | "xz" | "zstd" | "none";

export const PACK_METHODS: readonly PackMethod[] = ["cpio", "tar", "squashfs"];
export const PACK_COMPRESSIONS: readonly PackCompression[] = ["gzip", "pigz", "xz", "zstd", "none"];

/** `method` as a PackMethod, or xCAT's usage error for one packimage does not have. */
export function requirePackMethod(method: string): PackMethod {
  if (!PACK_METHODS.includes(method as PackMethod)) {
    throw new UsageError(`Invalid archive method '${method}' requested`);
  }
  return method as PackMethod;
}

/** `compression` as a PackCompression, or a usage error listing the ones packimage has. */
export function requirePackCompression(compression: string): PackCompression {
  if (!PACK_COMPRESSIONS.includes(compression as PackCompression)) {
    throw new UsageError(
      `Invalid compress method '${compression}' requested; use ${PACK_COMPRESSIONS.join(", ")}.`,
    );
  }
  return compression as PackCompression;
}

/** newc stores sizes in 8 hex digits. */
const CPIO_MAX_FILE_SIZE = 0xffffffff;

/** How to pack. */
export interface PackOptions {
  method: PackMethod;
  compression: PackCompression;
  /** Copy synclist files into the image first (xCAT's default; --nosyncfiles turns it off). */
  syncFiles: boolean;
  verbose: boolean;
  /** SOURCE_DATE_EPOCH (read by cmd/ only): mtimes above it are clamped to it. */
  sourceDateEpoch?: number;
  /** Compression threads; the output does not depend on it. */
  threads?: number;
  /** gzip Workers already started (packImage starts them before its setup); not closed here. */
  workers?: GzipWorkers;
  /**
   * Test seam: called with each path the walker has just looked at (lstat), before its entry is
   * made and its bytes read: a test removes or replaces files here, as a concurrent rm -rf would.
   */
  visited?: (path: string) => void;
}

/** What a pack produced. */
export interface PackResult {
  /** The archive written (a management-node path). */
  archive: string;
  entries: number;
  /** Bytes of the archive before compression (squashfs: 0, mksquashfs compresses itself). */
  uncompressedBytes: number;
  bytes: number;
  /** Entries whose xattrs the format could not carry (cpio). */
  droppedXattrs: number;
  /** Stale variants removed from rootimgdir (file names). */
  removed: string[];
}

/** The output file name for a method and compression, as xCAT names them (zstd: `.zst`). */
export function archiveName(method: PackMethod, compression: PackCompression): string {
  if (method === "squashfs") return "rootimg.sfs";
  return `rootimg.${method}${COMPRESSORS[compressionKind(compression)].extension}`;
}

/**
 * Finds the image the obsolete `-o osver -p profile -a arch` form names: the one netboot
 * osimage with those osvers/profile/osarch.
 */
export async function findNetbootImage(
  ctx: Context,
  osvers: string,
  profile: string,
  osarch: string,
): Promise<string> {
  const rows = await (await ctx.store()).read((reader) =>
    reader.rows("osimage", { osvers, profile, osarch })
  ).then((found) => found.filter((row) => findProvmethod(row.provmethod)?.packable));
  const names = rows.map((row) => row.imagename!).sort();
  if (names.length === 0) {
    throw new NotFoundError(
      `No netboot osimage has osvers=${osvers}, profile=${profile} and osarch=${osarch}.`,
    );
  }
  if (names.length > 1) {
    throw new ConflictError(
      `Several netboot osimages have osvers=${osvers}, profile=${profile} and osarch=${osarch}: ` +
        `${names.join(", ")}. Name one: 'packimage <osimage name>'.`,
    );
  }
  return names[0]!;
}

/**
 * Reads the exlist files (management-node paths) into one set of rules, expanding
 * `#INCLUDE:file#` (relative names are taken from the including file's directory) and adding
 * xCAT's always-excluded statelite paths.
 */
export async function readExlistRules(
  ctx: Context,
  files: readonly string[],
  options: { alwaysExcluded?: boolean } = {},
): Promise<ExlistRules> {
  const rules: ExlistRules = {
    excludes: options.alwaysExcluded === false ? [] : [...ALWAYS_EXCLUDED],
    includes: [],
  };
  const visit = async (file: string, chain: string[]) => {
    if (chain.includes(file)) {
      throw new InvalidInputError(
        `The exlist '${file}' includes itself (through ${chain.join(" -> ")}).`,
      );
    }
    let text: string;
    try {
      text = await Deno.readTextFile(hostPathOf(ctx, file));
    } catch (error) {
      throw new NotFoundError(
        chain.length === 0
          ? `Cannot read the exlist file '${file}'.`
          : `Cannot read the exlist file '${file}' included by '${chain.at(-1)}'.`,
        { cause: error },
      );
    }
    for (const line of parseExlist(text)) {
      if (line.kind === "include-file") {
        const included = line.file.startsWith("/") ? line.file : `${dirname(file)}/${line.file}`;
        await visit(included, [...chain, file]);
      } else if (line.kind === "include") rules.includes.push(line.pattern);
      else rules.excludes.push(line.pattern);
    }
  };
  for (const file of files) await visit(file, []);
  return rules;
}

/** The path as `find .` prints it, which is what exlist patterns are written against. */
function findPath(path: string): string {
  return path === "." ? "." : `./${path}`;
}

function isBelow(path: string, dir: string): boolean {
  return dir === "." ? path !== "." : path.startsWith(dir + "/");
}

/** Streams a file's bytes from disk: used when a hard link's first name was excluded. */
function diskContent(path: string, size: number): FileContent {
  return {
    size,
    async *open() {
      using file = await Deno.open(path, { read: true }).catch((error) => {
        throw error instanceof Deno.errors.NotFound
          ? new IntegrityError(`'${path}' vanished while it was being packed.`, { cause: error })
          : error;
      });
      const buffer = new Uint8Array(1 << 20);
      let remaining = size;
      while (remaining > 0) {
        const count = await file.read(buffer.subarray(0, Math.min(buffer.length, remaining)));
        if (count === null) throw new IntegrityError(`'${path}' shrank while it was being packed.`);
        remaining -= count;
        yield buffer.slice(0, count);
      }
    },
  };
}

/** Observers of the selection, for messages and for mksquashfs's exclude list. */
export interface SelectionHooks {
  /** An entry left out (a directory left out with everything under it is reported once). */
  dropped?(path: string): void;
  kept?(entry: Entry): void;
}

/**
 * Applies exlist rules to a walk: keeps what `matcher` keeps and, unlike xCAT's bare `find`
 * list, also the directories above a kept entry (an archive whose member's parent is missing
 * does not unpack in the kernel). A hard link whose first name was excluded becomes the file.
 */
export async function* selectEntries(
  entries: AsyncIterable<Entry>,
  matcher: ExlistMatcher,
  rootimg: string,
  hooks: SelectionHooks = {},
): AsyncIterable<Entry> {
  const pending: Entry[] = [];
  const emittedFirstNames = new Set<string>();
  const movedFirstNames = new Map<string, string>();
  for await (const original of entries) {
    let entry = original;
    while (pending.length > 0 && !isBelow(entry.path, pending.at(-1)!.path)) {
      hooks.dropped?.(pending.pop()!.path);
    }
    if (!matcher.keeps(findPath(entry.path))) {
      if (entry.kind === "dir") pending.push(entry);
      else hooks.dropped?.(entry.path);
      continue;
    }
    for (const dir of pending) {
      hooks.kept?.(dir);
      yield dir;
    }
    pending.length = 0;
    if (entry.kind === "file" && (entry.links ?? 1) > 1) emittedFirstNames.add(entry.path);
    if (entry.kind === "hardlink" && !emittedFirstNames.has(entry.target)) {
      const moved = movedFirstNames.get(entry.target);
      if (moved !== undefined) entry = { ...entry, target: moved };
      else {
        // The first name was excluded: this name carries the data now (same inode on disk).
        let info: Deno.FileInfo;
        try {
          info = Deno.lstatSync(`${rootimg}/${entry.path}`);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
          throw new IntegrityError(
            `"${entry.path}" vanished while the tree was being read.`,
            { cause: error },
          );
        }
        const { target, kind: _kind, ...meta } = entry;
        movedFirstNames.set(target, entry.path);
        emittedFirstNames.add(entry.path);
        entry = {
          ...meta,
          kind: "file",
          content: diskContent(`${rootimg}/${entry.path}`, info.size),
          links: info.nlink ?? 2,
        };
      }
    }
    hooks.kept?.(entry);
    yield entry;
  }
  for (const dir of pending) hooks.dropped?.(dir.path);
}

/** Counts bytes and reports progress as an archive stream passes. */
async function* metered(
  chunks: AsyncIterable<Uint8Array>,
  progress: Progress,
  count: { bytes: number },
): AsyncIterable<Uint8Array> {
  for await (const chunk of chunks) {
    count.bytes += chunk.byteLength;
    progress.advance(chunk.byteLength);
    yield chunk;
  }
}

/** Removes temporaries left by earlier packs that were killed (their process is gone). */
async function removeDeadTemporaries(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const match = /^\.rootimg.*\.osimg-tmp-(\d+)-[0-9a-f]+(?:\.exclude)?$/.exec(entry.name);
    if (!match) continue;
    const alive = await Deno.stat(`/proc/${match[1]}`).then(() => true, () => false);
    if (!alive) await Deno.remove(`${dir}/${entry.name}`, { recursive: true }).catch(() => {});
  }
}

/** Every other packed variant in rootimgdir (rootimg.*, legacy rootimg.gz), to be removed. */
async function staleVariants(dir: string, keep: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith("rootimg.") && entry.name !== keep && !entry.isDirectory) {
      names.push(entry.name);
    }
  }
  return names.sort();
}

function compressionKind(compression: PackCompression): Compression {
  return compressionNamed(compression)!;
}

/**
 * An image that liteimg prepared has its `link` entries replaced by links into
 * `.statelite/tmpfs`, which the archive leaves out. As xCAT's packimage does, put the originals
 * (kept in `.default`) back for the pack, the links aside in `.statebackup`, and return the
 * function that undoes this afterwards.
 */
async function restoreLiteLinks(rootimgHost: string): Promise<() => Promise<void>> {
  const saved = await Deno.readTextFile(`${rootimgHost}/.statelite/litefile.save`).catch(() =>
    undefined
  );
  if (saved === undefined) return () => Promise.resolve();
  const moved: string[] = [];
  const backup = `${rootimgHost}/.statebackup`;
  const hadBackup = await Deno.lstat(backup).then(() => true, () => false);
  const undo = async () => {
    for (const path of [...moved].reverse()) {
      await Deno.rename(`${rootimgHost}${path}`, `${rootimgHost}/.default${path}`);
      await Deno.rename(`${backup}${path}`, `${rootimgHost}${path}`);
    }
    // Only directories remain in a backup tree this pack created: leave the image as it was.
    if (!hadBackup) await Deno.remove(backup, { recursive: true }).catch(() => {});
  };
  try {
    for (const entry of parseLitefileSave(saved).filter(isLinkEntry)) {
      const path = entry.file.replace(/\/+$/, "");
      if (!path.startsWith("/") || path.split("/").includes("..")) continue;
      // Never follow an image's absolute symlink onto the management node's own files.
      if (await leadsOutsideImage(dirname(`${rootimgHost}${path}`), rootimgHost)) continue;
      const link = await Deno.lstat(`${rootimgHost}${path}`).catch(() => undefined);
      const original = await Deno.lstat(`${rootimgHost}/.default${path}`).catch(() => undefined);
      if (!link?.isSymlink || original === undefined) continue;
      await Deno.mkdir(dirname(`${rootimgHost}/.statebackup${path}`), { recursive: true });
      await Deno.rename(`${rootimgHost}${path}`, `${rootimgHost}/.statebackup${path}`);
      await Deno.rename(`${rootimgHost}/.default${path}`, `${rootimgHost}${path}`);
      moved.push(path);
    }
  } catch (error) {
    await undo();
    throw error;
  }
  return undo;
}

/** Checks the image is a netboot image and returns its rootimgdir (management and host). */
async function netbootImage(
  ctx: Context,
  name: string,
): Promise<{ image: OsImage; rootimgdir: string }> {
  const store = await ctx.store();
  return await store.read(async (reader) => {
    const image = await loadOsImage(reader, name);
    if (!findProvmethod(image.osimage.provmethod)?.packable) {
      throw new InvalidInputError(
        `'${name}' cannot be used to build diskless image. Make sure osimage.provmethod is 'netboot'.`,
      );
    }
    return { image, rootimgdir: rootImgDir(image, await readInstallDir(reader)) };
  });
}

/**
 * packimage: packs the netboot image `name`'s rootimg into `<rootimgdir>/rootimg.<method>[.<c>]`
 * (or rootimg.sfs), then removes every other variant so nodeset cannot pick a stale one.
 * The archive is written under a temporary name, fsynced and renamed into place: a node that
 * boots meanwhile gets the old image whole.
 */
export async function packImage(
  ctx: Context,
  name: string,
  options: PackOptions,
): Promise<PackResult> {
  // The deflate Workers start now, while the image is looked up and checked, so the first
  // blocks of the tree do not wait ~70 ms for them.
  const workers = options.method !== "squashfs" && compressionKind(options.compression) === "gzip"
    ? startGzipWorkers(options.threads)
    : undefined;
  try {
    return await packPrepared(ctx, name, { ...options, workers });
  } finally {
    workers?.close();
  }
}

async function packPrepared(
  ctx: Context,
  name: string,
  options: PackOptions,
): Promise<PackResult> {
  const { image, rootimgdir } = await netbootImage(ctx, name);
  const rootimg = `${rootimgdir}/rootimg`;
  const rootimgHost = hostPathOf(ctx, rootimg);
  const dirHost = hostPathOf(ctx, rootimgdir);
  const info = await Deno.stat(rootimgHost).catch(() => undefined);
  if (!info?.isDirectory) {
    throw new NotFoundError(
      `Cannot pack image '${name}': '${rootimg}' does not exist. ` +
        `Build it with 'genimage ${name}' (or put the image's root tree there) first.`,
    );
  }
  const rules = await readExlistRules(ctx, commaList(image.linuximage.exlist));
  const matcher = compileExlist(rules);
  if (options.syncFiles) {
    const synclists = commaList(image.osimage.synclists);
    if (synclists.length > 0) {
      const report = await syncFilesIntoImage(ctx.root, synclists, rootimgHost);
      for (const note of report.notes) ctx.reporter.note(note);
      if (options.verbose) {
        for (const path of report.written) ctx.reporter.line(`synced ${path}`);
      }
    }
  }

  ctx.reporter.line(`Packing contents of ${rootimg}`);
  ctx.reporter.line(`archive method:${options.method}`);
  ctx.reporter.line(`compress method:${options.compression}`);

  const outputName = archiveName(options.method, options.compression);
  await removeDeadTemporaries(dirHost);
  const temporary = `${dirHost}/.${outputName}.osimg-tmp-${Deno.pid}-${
    crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16)
  }`;
  const progress = ctx.progress(`Packing ${name}`);
  const skipped: string[] = [];
  let result: Omit<PackResult, "archive" | "removed">;
  const restoreLinks = await restoreLiteLinks(rootimgHost);
  try {
    result = options.method === "squashfs"
      ? await packSquashfs(ctx, rootimgHost, rootimg, matcher, temporary, options, skipped)
      : await packStream(
        ctx.runner,
        rootimgHost,
        rootimg,
        matcher,
        temporary,
        options,
        progress,
        skipped,
      );
    await Deno.chmod(temporary, 0o644);
    await Deno.rename(temporary, `${dirHost}/${outputName}`);
    await syncDirectory(dirHost, { onError: "ignore" });
  } catch (error) {
    await Deno.remove(temporary, { recursive: true }).catch(() => {});
    throw error;
  } finally {
    progress.done();
    await restoreLinks();
  }
  const removed = await staleVariants(dirHost, outputName);
  for (const stale of removed) await Deno.remove(`${dirHost}/${stale}`);
  if (removed.length > 0) await syncDirectory(dirHost, { onError: "ignore" });

  for (const path of skipped) ctx.reporter.note(path);
  if (result.droppedXattrs > 0) {
    ctx.reporter.note(
      `${result.droppedXattrs} entries have extended attributes (file capabilities, ` +
        `SELinux labels), which cpio cannot carry; they are not in the archive. ` +
        `Use '-m tar' to keep them.`,
    );
  }
  if (options.verbose) {
    ctx.reporter.line(
      `${result.entries} entries, ${result.uncompressedBytes} bytes packed into ` +
        `${rootimgdir}/${outputName} (${result.bytes} bytes)`,
    );
    for (const stale of removed) ctx.reporter.line(`removed stale ${rootimgdir}/${stale}`);
  }
  return { ...result, archive: `${rootimgdir}/${outputName}`, removed };
}

/**
 * cpio or tar: walk, select, serialize, compress, write `temporary` (fsynced); all streaming.
 * `rootimg` is the management-node name used in messages.
 */
export async function packStream(
  runner: ProcessRunner,
  rootimgHost: string,
  rootimg: string,
  matcher: ExlistMatcher,
  temporary: string,
  options:
    & Pick<
      PackOptions,
      "method" | "compression" | "sourceDateEpoch" | "threads" | "workers" | "visited"
    >
    & {
      oneFileSystem?: boolean;
    },
  progress: Progress,
  skipped: string[],
): Promise<Omit<PackResult, "archive" | "removed">> {
  let entries = 0;
  let droppedXattrs = 0;
  const cpio = options.method === "cpio";
  const walk = walkTree(rootimgHost, {
    oneFileSystem: options.oneFileSystem ?? true,
    xattrs: true,
    filter: (path, isDir) => {
      options.visited?.(path);
      return !(isDir && matcher.prunes(findPath(path)));
    },
    ...(options.sourceDateEpoch === undefined ? {} : { clampMtime: options.sourceDateEpoch }),
    onSkip: (path, reason) => skipped.push(`skipped ${rootimg}/${path}: ${reason}`),
  });
  const selected = selectEntries(walk, matcher, rootimgHost, {
    kept(entry) {
      entries++;
      if (cpio && entry.xattrs.size > 0) droppedXattrs++;
      if (cpio && entry.kind === "file" && entry.content.size > CPIO_MAX_FILE_SIZE) {
        throw new InvalidInputError(
          `Cannot pack '${rootimg}' as cpio: '${entry.path}' is ${entry.content.size} bytes, ` +
            `more than the 4 GiB - 1 a newc archive can hold. Exclude it in the exlist or use ` +
            `'-m tar'.`,
        );
      }
      if (entries % 256 === 0) progress.label(entry.path);
    },
  });
  const archive = cpio ? cpioStream(selected) : tarStream(selected);
  const count = { bytes: 0 };
  let bytes: number;
  try {
    bytes = await compressToFile(
      runner,
      compressionKind(options.compression),
      metered(archive, progress, count),
      temporary,
      {
        ...(options.threads === undefined ? {} : { threads: options.threads }),
        ...(options.workers === undefined ? {} : { workers: options.workers }),
      },
    );
  } catch (error) {
    if (error instanceof CpioLimitError) {
      throw new InvalidInputError(`Cannot pack '${rootimg}' as cpio: ${error.message}`, {
        cause: error,
      });
    }
    throw tornTree(rootimg, error);
  }
  return { entries, uncompressedBytes: count.bytes, bytes, droppedXattrs };
}

/**
 * An entry that vanished or changed while the tree was walked (the walker's IntegrityError), said
 * for the image: the archive would be a torn copy of the tree, so nothing is published.
 */
function tornTree(rootimg: string, error: unknown): unknown {
  if (!(error instanceof IntegrityError)) return error;
  return new IntegrityError(
    `Cannot pack '${rootimg}': ${error.message} Something else is changing the image; ` +
      `nothing was written (the previous archive is kept).`,
    { cause: error },
  );
}

/**
 * squashfs through mksquashfs: the selection is computed by the same walk as cpio/tar and
 * handed over as an exact-name exclude file (-ef), so both carry the same file list.
 */
async function packSquashfs(
  ctx: Context,
  rootimgHost: string,
  rootimg: string,
  matcher: ExlistMatcher,
  temporary: string,
  options: PackOptions,
  skipped: string[],
): Promise<Omit<PackResult, "archive" | "removed">> {
  const excluded: string[] = [];
  /** Mount points: find -xdev lists them (empty), mksquashfs -one-file-system drops them. */
  const mountPoints: string[] = [];
  const keptDirectories = new Map<string, Entry>();
  let entries = 0;
  let newest = 0;
  const walk = walkTree(rootimgHost, {
    oneFileSystem: true,
    xattrs: false,
    filter: (path, isDir) => {
      options.visited?.(path);
      if (isDir && matcher.prunes(findPath(path))) {
        excluded.push(path);
        return false;
      }
      return true;
    },
    ...(options.sourceDateEpoch === undefined ? {} : { clampMtime: options.sourceDateEpoch }),
    onSkip: (path, reason) => {
      if (/mount point/.test(reason)) mountPoints.push(path);
      else if (!/directory cannot be read|extended attributes/.test(reason)) {
        // What the walker leaves out (sockets, unreadable entries) mksquashfs would store:
        // exclude it too, so both lists stay equal.
        excluded.push(path);
      }
      skipped.push(`skipped ${path}: ${reason}`);
    },
  });
  try {
    for await (
      const entry of selectEntries(walk, matcher, rootimgHost, {
        dropped: (path) => excluded.push(path),
      })
    ) {
      entries++;
      if (entry.mtime > newest) newest = entry.mtime;
      // The walker reports a mount point after yielding it: keep directories to look them up.
      if (entry.kind === "dir") keptDirectories.set(entry.path, entry);
    }
  } catch (error) {
    throw tornTree(rootimg, error);
  }
  const mountPointEntries = mountPoints.flatMap((path) => keptDirectories.get(path) ?? []);
  // Recreate each kept mount point as an empty directory with its own metadata ("D" pseudo
  // definition: name, time, mode, uid, gid), as it lies in the cpio and tar archives.
  const pseudo: string[] = [];
  for (const entry of mountPointEntries) {
    if (/[\s"'\\]/.test(entry.path)) {
      throw new InvalidInputError(
        `Cannot pack as squashfs: the mount point '${entry.path}' has a name mksquashfs's ` +
          `pseudo definitions cannot express. Unmount it or use '-m cpio'.`,
      );
    }
    pseudo.push(
      "-p",
      `${entry.path} D ${entry.mtime} ${entry.mode.toString(8)} ${entry.uid} ${entry.gid}`,
    );
  }
  const badName = excluded.find((path) => path.includes("\n"));
  if (badName !== undefined) {
    throw new InvalidInputError(
      `Cannot pack as squashfs: the excluded path '${JSON.stringify(badName)}' holds a newline, ` +
        `which mksquashfs's exclude file cannot express. Use '-m cpio' or '-m tar'.`,
    );
  }
  const excludeFile = `${temporary}.exclude`;
  await Deno.writeTextFile(
    excludeFile,
    excluded.filter((path) => path !== ".").map(escapeExcludeName).join("\n") + "\n",
  );
  // A fixed filesystem time keeps two packs of one tree byte-identical: SOURCE_DATE_EPOCH when
  // given (then every inode gets it too: mksquashfs can set, not clamp), else the newest mtime.
  const time = options.sourceDateEpoch ?? newest;
  const comp = compressionKind(options.compression);
  const argv = [
    "mksquashfs",
    rootimgHost,
    temporary,
    "-noappend",
    "-no-progress",
    "-quiet",
    "-one-file-system",
    "-reproducible",
    "-mkfs-time",
    String(time),
    ...(options.sourceDateEpoch === undefined ? [] : ["-all-time", String(time)]),
    ...(comp === "none"
      ? ["-noI", "-noD", "-noF", "-noX"]
      : ["-comp", comp === "bzip2" ? "gzip" : comp]),
    "-processors",
    String(options.threads ?? navigator.hardwareConcurrency ?? 1),
    "-ef",
    excludeFile,
    ...pseudo,
  ];
  if (!(await hasProgram("mksquashfs"))) {
    await Deno.remove(excludeFile).catch(() => {});
    throw new ExternalCommandError(
      argv,
      127,
      "",
      "Command mksquashfs does not exist, please make sure it works (install squashfs-tools).",
    );
  }
  try {
    // mksquashfs refuses -mkfs-time/-all-time when SOURCE_DATE_EPOCH is in its environment
    // (even empty), and the runner adds to this process's environment: unset it there.
    await ctx.runner.run(["env", "-u", "SOURCE_DATE_EPOCH", ...argv]);
  } finally {
    await Deno.remove(excludeFile).catch(() => {});
  }
  const bytes = (await Deno.stat(temporary)).size;
  return { entries, uncompressedBytes: 0, bytes, droppedXattrs: 0 };
}

/**
 * mksquashfs 4.5 reads an exclude-file line verbatim except at its start, where blanks are
 * skipped, `#` opens a comment and a backslash quotes the next character (measured).
 */
function escapeExcludeName(path: string): string {
  return /^[\s#\\]/.test(path) ? "\\" + path : path;
}

/** The osimage's synclists and exlist, for liteimg. */
export function imageLists(image: OsImage): { exlists: string[]; synclists: string[] } {
  const linux: Row = image.linuximage;
  return { exlists: commaList(linux.exlist), synclists: commaList(image.osimage.synclists) };
}
