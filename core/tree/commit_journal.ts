// The staged, journaled commit of an import: staging directories, the intent journal, renames and rows applied forward or rolled back, and recovery after a crash.

import { cp, rm } from "node:fs/promises";
import { dirname, isAbsolute, join, relative } from "node:path";
import { exists, makeDirectories, removeEmptyDirectories, syncDirectory } from "./files.ts";
import type { Row, Store, StoreWriter } from "../store/store.ts";

/** Name of the directory, under the install dir, that holds every import's staging area. */
export const STAGING_DIR_NAME = ".osimg-staging";
const JOURNAL = "journal.json";
const OWNER = "owner";

/** One staged file or directory to put in place at commit. All paths are host paths. */
export interface FileMove {
  /** Where it was staged (inside the staging directory, so on the same file system). */
  from: string;
  /** Where it goes. */
  to: string;
  /**
   * xCAT's rule: an existing target is kept as `<to>.ORIG` (an older .ORIG is replaced).
   * When false, an existing target is replaced and discarded once the commit is done.
   */
  keepOrig: boolean;
}

/** Rows of `table` matching `where` are replaced by `after` (forward) or `before` (backward). */
export interface RowSetChange {
  table: string;
  where: Row;
  after: Row[];
}

/** What a commit does: the renames, then one transaction of row changes. */
export interface CommitPlan {
  moves: FileMove[];
  rows: RowSetChange[];
}

interface JournalMove extends FileMove {
  hadTarget: boolean;
  hadOrig: boolean;
  /**
   * Where a replaced target (keepOrig false) or an older .ORIG is parked until the end: beside
   * the target, so parking is a rename on the target's own file system.
   */
  targetBackup: string;
  origBackup: string;
  /** A same-directory temporary for a cross-device copy, renamed over `to` when complete. */
  crossDeviceTemp: string;
}

interface JournaledRows extends RowSetChange {
  before: Row[];
}

/**
 * The intent record written (and fsynced) before anything visible changes. On disk every path
 * is relative to the management-node root, so a root that was moved (or copied, as the crash
 * tests do) is still recovered in place.
 */
interface Journal {
  version: 1;
  id: string;
  /** "forward" until a failure decides to undo; recovery follows it. */
  direction: "forward" | "backward";
  /** Directories the moves need that did not exist, parents first. */
  createdDirs: string[];
  moves: JournalMove[];
  rows: JournaledRows[];
}

/** A staging directory that belongs to this process. */
export interface Staging {
  id: string;
  /** Host path of the staging directory. */
  dir: string;
  /** Removes the staging directory and everything in it. */
  remove(): Promise<void>;
}

/** The start time of process `pid` (field 22 of /proc/pid/stat), or undefined if it is gone. */
async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces; the fields after its ")" are plain.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

async function ownerAlive(dir: string): Promise<boolean> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${OWNER}`);
  } catch {
    return false;
  }
  const [pid, start] = text.trim().split(" ");
  if (!pid || Number(pid) === Deno.pid && start === await processStartTime(Deno.pid)) {
    // Our own earlier, abandoned staging (an in-process test run) is not alive work.
    return false;
  }
  return start !== undefined && start === await processStartTime(Number(pid));
}

/**
 * Creates a fresh staging directory under `stagingRoot` (`<installdir>/.osimg-staging`), owned
 * by this process so that a concurrent run leaves it alone while this process lives.
 */
export async function createStaging(stagingRoot: string): Promise<Staging> {
  // Parents that do not exist yet (a fresh install dir) are made 0755 as any install dir is,
  // and removed again with the staging area if they are still empty then.
  const createdParents = await makeDirectories(dirname(stagingRoot));
  await Deno.mkdir(stagingRoot, { mode: 0o700 }).catch((error) => {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  });
  const id = `${Date.now().toString(36)}-${Deno.pid}-${
    Math.floor(Math.random() * 0xffffff).toString(36)
  }`;
  const dir = `${stagingRoot}/${id}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await Deno.writeTextFile(`${dir}/${OWNER}`, `${Deno.pid} ${await processStartTime(Deno.pid)}\n`);
  return {
    id,
    dir,
    remove: async () => {
      // A journal still here means a commit could not be finished or undone: recovery owns it.
      if (await exists(`${dir}/${JOURNAL}`)) return;
      await removeTree(dir);
      await removeEmptyDirectories([stagingRoot, ...createdParents]);
    },
  };
}

async function removeTree(path: string): Promise<void> {
  // Trees restored from archives may hold read-only directories; rm's force handles files only.
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    await makeDirectoriesWritable(path).catch(() => {});
    await rm(path, { recursive: true, force: true });
  }
}

/**
 * Adds u+rwx to `path` and every directory under it, parents first (what `chmod -R u+rwx` did
 * for rm, without a program to spawn); symbolic links are not followed.
 */
async function makeDirectoriesWritable(path: string): Promise<void> {
  const info = await Deno.lstat(path);
  if (!info.isDirectory) return;
  await Deno.chmod(path, ((info.mode ?? 0) & 0o7777) | 0o700);
  for await (const entry of Deno.readDir(path)) {
    if (entry.isDirectory) await makeDirectoriesWritable(join(path, entry.name)).catch(() => {});
  }
}

function mapPaths(journal: Journal, map: (path: string) => string): Journal {
  return {
    ...journal,
    createdDirs: journal.createdDirs.map(map),
    moves: journal.moves.map((move) => ({
      ...move,
      from: map(move.from),
      to: map(move.to),
      targetBackup: map(move.targetBackup),
      origBackup: map(move.origBackup),
      crossDeviceTemp: map(move.crossDeviceTemp),
    })),
  };
}

async function writeJournal(path: string, journal: Journal, root: string): Promise<void> {
  const relativePath = (host: string) => {
    const rel = relative(root, host);
    if (rel.startsWith("..") || isAbsolute(rel)) throw new Error(`${host} is outside ${root}`);
    return rel;
  };
  await writeDurably(path, JSON.stringify(mapPaths(journal, relativePath), null, 1));
}

async function readJournal(path: string, root: string): Promise<Journal> {
  const stored = JSON.parse(await Deno.readTextFile(path)) as Journal;
  if (stored.version !== 1) throw new Error(`${path}: unknown journal version ${stored.version}`);
  return mapPaths(stored, (rel) => join(root, rel));
}

async function writeDurably(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
  try {
    const bytes = new TextEncoder().encode(text);
    let offset = 0;
    while (offset < bytes.byteLength) offset += await file.write(bytes.subarray(offset));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(temporary, path);
  // The journal must be durable before anything moves: a failed fsync fails the commit.
  await syncDirectory(dirname(path), { onError: "throw" });
}

/** Renames `from` to `to`; across file systems, copies beside `to` first and renames that. */
async function place(from: string, to: string, temporary: string): Promise<void> {
  try {
    await Deno.rename(from, to);
    return;
  } catch (error) {
    if ((error as { code?: string }).code !== "EXDEV") throw error;
  }
  await removeTree(temporary);
  await cp(from, temporary, {
    recursive: true,
    verbatimSymlinks: true,
    preserveTimestamps: true,
    errorOnExist: true,
    force: false,
  });
  await Deno.rename(temporary, to);
  await removeTree(from);
}

async function moveForward(move: JournalMove): Promise<void> {
  await removeTree(move.crossDeviceTemp);
  // The staged source gone means the final rename happened: this move is complete.
  if (!await exists(move.from)) return;
  const orig = `${move.to}.ORIG`;
  if (move.hadOrig && !await exists(move.origBackup)) await Deno.rename(orig, move.origBackup);
  if (move.hadTarget && await exists(move.to)) {
    await Deno.rename(move.to, move.keepOrig ? orig : move.targetBackup);
  }
  await place(move.from, move.to, move.crossDeviceTemp);
}

async function moveBackward(move: JournalMove): Promise<void> {
  await removeTree(move.crossDeviceTemp);
  if (!await exists(move.from) && await exists(move.to)) {
    // Ours: put it back into staging (or drop it: the bundle still has it).
    await Deno.rename(move.to, move.from).catch(() => removeTree(move.to));
  }
  const orig = `${move.to}.ORIG`;
  if (move.hadTarget && !await exists(move.to)) {
    const parked = move.keepOrig ? orig : move.targetBackup;
    if (await exists(parked)) await Deno.rename(parked, move.to);
  }
  if (move.hadOrig && await exists(move.origBackup)) await Deno.rename(move.origBackup, orig);
}

async function applyRows(
  writer: StoreWriter,
  rows: readonly JournaledRows[],
  direction: "forward" | "backward",
): Promise<void> {
  for (const change of rows) {
    await writer.delete(change.table, change.where);
    for (const row of direction === "forward" ? change.after : change.before) {
      await writer.upsert(change.table, row);
    }
  }
}

async function runForward(journal: Journal): Promise<void> {
  for (const dir of journal.createdDirs) await makeDirectories(dir);
  for (const move of journal.moves) await moveForward(move);
}

/** After a completed forward run: the parked old targets and old .ORIGs are dropped. */
async function dropParked(journal: Journal): Promise<void> {
  for (const move of journal.moves) {
    await removeTree(move.targetBackup);
    await removeTree(move.origBackup);
  }
}

async function runBackward(journal: Journal): Promise<void> {
  for (const move of [...journal.moves].reverse()) await moveBackward(move);
  // Only those still empty: something else may have put files there since.
  await removeEmptyDirectories([...journal.createdDirs].reverse());
}

/** Test seam: called at named points of a commit (kill -9 and fault tests hook in here). */
export type CommitHook = (point: "journal-written" | "files-moved" | "rows-applied") =>
  | Promise<void>
  | void;

/**
 * Commits a staged import: inside one write transaction (so nothing else changes these rows
 * meanwhile) it records the current rows, writes the journal durably, performs the renames and
 * applies the rows; the transaction's commit is the point of no return, after which the journal
 * and the staging directory are removed. A failure before that undoes the renames; a crash
 * anywhere leaves the journal for {@linkcode recoverStaging} to finish (it rolls forward: the
 * journal being on disk means every file needed for the new state is in staging).
 */
export async function commitStaged(
  store: Store,
  staging: Staging,
  plan: CommitPlan,
  options: { root: string; hook?: CommitHook },
): Promise<void> {
  const { root, hook } = options;
  const journalPath = `${staging.dir}/${JOURNAL}`;
  let journal: Journal | undefined;
  try {
    await store.write(async (writer) => {
      const rows: JournaledRows[] = [];
      for (const change of plan.rows) {
        const before = await writer.rows(change.table, change.where, { includeDisabled: true });
        rows.push({ ...change, before });
      }
      const createdDirs: string[] = [];
      const planned = new Set<string>();
      for (const move of plan.moves) {
        const missing: string[] = [];
        let dir = dirname(move.to);
        while (!planned.has(dir) && !await exists(dir)) {
          missing.unshift(dir);
          planned.add(dir);
          dir = dirname(dir);
        }
        createdDirs.push(...missing);
      }
      const moves: JournalMove[] = [];
      for (const [index, move] of plan.moves.entries()) {
        moves.push({
          ...move,
          hadTarget: await exists(move.to),
          hadOrig: move.keepOrig && await exists(`${move.to}.ORIG`),
          targetBackup: `${dirname(move.to)}/.osimg-${staging.id}-${index}.old`,
          origBackup: `${dirname(move.to)}/.osimg-${staging.id}-${index}.ORIG`,
          crossDeviceTemp: `${dirname(move.to)}/.osimg-${staging.id}-${index}`,
        });
      }
      journal = { version: 1, id: staging.id, direction: "forward", createdDirs, moves, rows };
      await writeJournal(journalPath, journal, root);
      await hook?.("journal-written");
      await runForward(journal);
      await hook?.("files-moved");
      await applyRows(writer, rows, "forward");
      await hook?.("rows-applied");
    });
  } catch (error) {
    if (journal) {
      // Nothing committed in the database: put the files back, then forget the journal. If
      // the direction cannot be recorded (a full disk), undoing is still right, and a crash
      // meanwhile leaves a forward journal whose replay gives the other consistent state.
      journal.direction = "backward";
      await writeJournal(journalPath, journal, root).catch(() => {});
      await runBackward(journal);
      await Deno.remove(journalPath);
    }
    throw error;
  }
  await dropParked(journal!);
  await Deno.remove(journalPath);
  await syncDirectory(staging.dir, { onError: "ignore" });
}

/** What recovery did, for the user. */
export interface RecoveryReport {
  /** Journals finished (rolled forward) or undone (rolled back), by staging id. */
  rolledForward: string[];
  rolledBack: string[];
  /** Abandoned staging directories removed (no journal: nothing had changed). */
  removed: string[];
}

/**
 * Finishes what interrupted imports left under `stagingRoot`: a journal is replayed in its
 * recorded direction (files and rows, both idempotent), then its staging directory goes; a
 * staging directory without a journal is simply removed. Directories of a live process are left
 * alone.
 */
export async function recoverStaging(
  store: Store,
  root: string,
  stagingRoot: string,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { rolledForward: [], rolledBack: [], removed: [] };
  let names: string[];
  try {
    names = [];
    for await (const entry of Deno.readDir(stagingRoot)) names.push(entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return report;
    throw error;
  }
  names.sort();
  for (const name of names) {
    const dir = `${stagingRoot}/${name}`;
    if (await ownerAlive(dir)) continue;
    let journal: Journal | undefined;
    try {
      journal = await readJournal(`${dir}/${JOURNAL}`, root);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (journal) {
      const direction = journal.direction;
      if (direction === "forward") await runForward(journal);
      else await runBackward(journal);
      await store.write((writer) => applyRows(writer, journal!.rows, direction));
      if (direction === "forward") await dropParked(journal);
      (direction === "forward" ? report.rolledForward : report.rolledBack).push(name);
      await Deno.remove(`${dir}/${JOURNAL}`);
    } else {
      report.removed.push(name);
    }
    await removeTree(dir);
  }
  await Deno.remove(stagingRoot).catch(() => {});
  return report;
}
