// Copying an osimage's synclist files into its root image (what `xdcp -i <rootimg> -F` does).

import { basename, dirname } from "node:path";
import { lchown } from "node:fs/promises";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { hostPath } from "../paths.ts";
import { globSource } from "../../formats/xcat/exlist.ts";
import {
  mergeColonFile,
  parseSynclist,
  type SynclistLine,
  SynclistSyntaxError,
} from "../../formats/xcat/synclist.ts";

/** One planned change to the image: copy a file or tree, or merge a password-style file. */
type SyncAction =
  | { kind: "copy"; from: string; to: string; origin: string }
  | { kind: "merge"; from: string; to: string; origin: string };

/** What syncing did, for the command's output. */
export interface SyncReport {
  /** Paths inside the image that were written (management-style, "/etc/hosts"). */
  written: string[];
  /** Lines that do not apply to an image, with the reason (printed as notes). */
  notes: string[];
}

/** The files MERGE may touch, as in xdcp: it knows how to merge only these. */
const MERGEABLE = new Set(["/etc/passwd", "/etc/shadow", "/etc/group"]);

/**
 * Syncs the files listed in `synclists` (management-node paths, mapped under `root`) into the
 * root image directory `rootimg` (a host path). Every list is read and every source checked
 * before anything is written, so a bad list changes nothing.
 *
 * Image mode follows xdcp -i: plain copies and MERGE (passwd/shadow/group) apply; EXECUTE and
 * EXECUTEALWAYS scripts and node-specific `(noderange)` lines are for live nodes and are
 * skipped with a note; APPEND is refused because repeating packimage would append again.
 */
export async function syncFilesIntoImage(
  root: string,
  synclists: readonly string[],
  rootimg: string,
): Promise<SyncReport> {
  const report: SyncReport = { written: [], notes: [] };
  const actions: SyncAction[] = [];
  for (const list of synclists) {
    const listHost = hostPath(root, list);
    let text: string;
    try {
      text = await Deno.readTextFile(listHost);
    } catch (error) {
      throw new NotFoundError(`Cannot sync files: the synclist '${list}' cannot be read.`, {
        cause: error,
      });
    }
    let lines: SynclistLine[];
    try {
      lines = parseSynclist(text);
    } catch (error) {
      if (error instanceof SynclistSyntaxError) {
        throw new InvalidInputError(
          `Cannot sync files: synclist '${list}' line ${error.line}: ${error.message}.`,
        );
      }
      throw error;
    }
    for (const line of lines) {
      const origin = `synclist '${list}' line ${line.line}`;
      if (line.kind === "script") {
        report.notes.push(
          `${origin}: ${line.section} script '${line.path}' runs on nodes, not in an image; skipped.`,
        );
        continue;
      }
      if (line.noderange !== undefined) {
        report.notes.push(
          `${origin}: the copy for nodes '${line.noderange}' is node-specific; skipped for the image.`,
        );
        continue;
      }
      if (line.section === "APPEND") {
        throw new InvalidInputError(
          `Cannot sync files: ${origin}: APPEND is not supported for an image (every packimage ` +
            `would append again); copy a complete file instead, or use --nosyncfiles.`,
        );
      }
      if (line.section === "MERGE") {
        if (!MERGEABLE.has(line.destination)) {
          throw new InvalidInputError(
            `Cannot sync files: ${origin}: MERGE works only on /etc/passwd, /etc/shadow and ` +
              `/etc/group, not '${line.destination}'.`,
          );
        }
        const from = await requireSource(root, line.sources[0]!, origin);
        actions.push({ kind: "merge", from, to: line.destination, origin });
        continue;
      }
      const sources: string[] = [];
      for (const source of line.sources) sources.push(...await expandSource(root, source, origin));
      const intoDirectory = sources.length > 1 || line.destination.endsWith("/") ||
        line.sources.some((source) => /[*?[]/.test(source));
      for (const from of sources) {
        const to = intoDirectory
          ? `${line.destination.replace(/\/+$/, "")}/${basename(from)}`
          : line.destination;
        actions.push({ kind: "copy", from, to, origin });
      }
    }
  }
  // Every destination is checked before the first write, so a refused list changes nothing.
  for (const action of actions) await refuseEscape(dirname(hostPath(rootimg, action.to)), rootimg);
  for (const action of actions) {
    const target = hostPath(rootimg, action.to);
    if (action.kind === "merge") {
      await refuseEscape(dirname(target), rootimg);
      const base = await Deno.readTextFile(target).catch(() => "");
      const merged = mergeColonFile(base, await Deno.readTextFile(action.from));
      const existing = await Deno.lstat(target).catch(() => undefined);
      await Deno.mkdir(dirname(target), { recursive: true });
      await Deno.writeTextFile(target, merged, { mode: existing?.mode ?? 0o644 });
      if (existing?.mode !== undefined && existing.mode !== null) {
        await Deno.chmod(target, existing.mode & 0o7777);
      }
      report.written.push(action.to);
    } else {
      await copyInto(action.from, target, rootimg);
      report.written.push(action.to);
    }
  }
  return report;
}

async function requireSource(root: string, source: string, origin: string): Promise<string> {
  const host = hostPath(root, source);
  try {
    await Deno.lstat(host);
  } catch {
    throw new NotFoundError(`Cannot sync files: ${origin}: the source '${source}' does not exist.`);
  }
  return host;
}

/** A source path, or the sorted matches of a wildcard in its last component. */
async function expandSource(root: string, source: string, origin: string): Promise<string[]> {
  const name = basename(source);
  if (!/[*?[]/.test(name)) return [await requireSource(root, source, origin)];
  const dir = hostPath(root, dirname(source));
  const pattern = new RegExp(`^${globSource(name).replaceAll("[\\s\\S]", "[^/]")}$`);
  const matches: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (pattern.test(entry.name)) matches.push(`${dir}/${entry.name}`);
    }
  } catch {
    // an unreadable or absent directory matches nothing, reported below
  }
  if (matches.length === 0) {
    throw new NotFoundError(`Cannot sync files: ${origin}: nothing matches '${source}'.`);
  }
  return matches.sort();
}

/**
 * Copies a file, symlink or directory tree to `target`, keeping modes, owners and mtimes
 * (rsync -pogt, as xdcp runs it). A file newer in the image is left alone (rsync -u).
 */
async function copyInto(from: string, target: string, rootimg: string): Promise<void> {
  const info = await Deno.lstat(from);
  await refuseEscape(dirname(target), rootimg);
  await Deno.mkdir(dirname(target), { recursive: true });
  const existing = await Deno.lstat(target).catch(() => undefined);
  if (info.isDirectory) {
    if (existing && !existing.isDirectory) await Deno.remove(target, { recursive: true });
    await Deno.mkdir(target, { recursive: true });
    const names: string[] = [];
    for await (const entry of Deno.readDir(from)) names.push(entry.name);
    for (const name of names.sort()) {
      await copyInto(`${from}/${name}`, `${target}/${name}`, rootimg);
    }
  } else if (info.isSymlink) {
    if (existing) await Deno.remove(target, { recursive: true });
    await Deno.symlink(await Deno.readLink(from), target);
  } else if (info.isFile) {
    if (existing?.isFile && existing.mtime && info.mtime && existing.mtime > info.mtime) return;
    if (existing && !existing.isFile) await Deno.remove(target, { recursive: true });
    // Write through a temporary name so a symlink planted at `target` is replaced, not followed.
    const temporary = `${target}.osimg-sync-${Deno.pid}`;
    await Deno.copyFile(from, temporary);
    await Deno.rename(temporary, target);
  } else {
    throw new InvalidInputError(`Cannot sync '${from}': only files, directories and symlinks.`);
  }
  if (!info.isSymlink) await Deno.chmod(target, (info.mode ?? 0o644) & 0o7777);
  if (info.uid !== null && info.gid !== null) {
    await lchown(target, info.uid, info.gid).catch(() => {});
  }
  if (!info.isSymlink && info.mtime) {
    await Deno.utime(target, info.atime ?? info.mtime, info.mtime);
  }
}

/**
 * True when `dir`, or its nearest existing ancestor, lies outside `rootimg` once symlinks are
 * followed: an absolute link in an image points at the management node's own files.
 */
export async function leadsOutsideImage(dir: string, rootimg: string): Promise<boolean> {
  let existing = dir;
  while (!(await Deno.lstat(existing).then(() => true, () => false))) existing = dirname(existing);
  const real = await Deno.realPath(existing);
  const realRoot = await Deno.realPath(rootimg);
  return real !== realRoot && !real.startsWith(realRoot + "/");
}

/** Fails when a sync into `dir` would be redirected out of the image by a symlink. */
async function refuseEscape(dir: string, rootimg: string): Promise<void> {
  if (await leadsOutsideImage(dir, rootimg)) {
    throw new InvalidInputError(
      `Cannot sync into '${dir}': it leads outside the image through a symbolic link.`,
    );
  }
}
