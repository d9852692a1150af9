// What diff keeps of one path (type, mode, owner, size, SHA-256, link, device, xattrs), built while entries stream, and the comparison of two.

import { createHash } from "node:crypto";
import { assertNever, type Entry } from "../../formats/archive/entry.ts";
import { IntegrityError } from "../errors.ts";
import type { Sha256Worker } from "../tree/sha256_worker.ts";

/** The file types a path can have (a hard link is a `file` with `hardlink` set). */
export type PathType = "file" | "dir" | "symlink" | "chardev" | "blockdev" | "fifo";

/**
 * One path as diff remembers it: a few dozen bytes whatever the file's size, so memory grows
 * with the number of paths only.
 */
export interface PathSummary {
  type: PathType;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Regular files: the content's size and SHA-256 (hex). */
  size?: number;
  sha256?: string;
  /** Symbolic links: the target as stored. */
  target?: string;
  /** Device nodes: "major,minor". */
  device?: string;
  /** Extended attributes: sorted `name=<SHA-256 of the value, 16 hex digits>`; absent when none. */
  xattrs?: string[];
  /** A second name of a file: the path of the first (the one the archive stores the data under). */
  hardlink?: string;
}

/** What a source records, so a field is compared only when both sides could hold it. */
export interface Carries {
  /** Owners (a bundle's top-level files are root-owned by construction: not compared). */
  owner: boolean;
  /** Extended attributes (cpio newc and `unsquashfs -pf` have none). */
  xattrs: boolean;
  /** Which names share an inode. */
  hardlinks: boolean;
}

/** One field that differs between two summaries of a path. */
export type FieldChange =
  | { field: "type"; old: PathType; new: PathType }
  | { field: "content"; old: string; new: string }
  | { field: "size"; old: number; new: number }
  /** Modes as four octal digits ("0644"). */
  | { field: "mode"; old: string; new: string }
  /** "uid:gid". */
  | { field: "owner"; old: string; new: string }
  | { field: "target"; old: string; new: string }
  /** "major,minor". */
  | { field: "device"; old: string; new: string }
  /** The attributes as `name=digest` lists; `names` are those added, removed or changed. */
  | { field: "xattrs"; old: string[]; new: string[]; names: string[] }
  /** The first name this path is a hard link to; null when it is not one. */
  | { field: "hardlink"; old: string | null; new: string | null };

/** A path as diff names it inside an archive or tree: no "./" or "/" prefix, "." for the root. */
export function insidePath(raw: string): string {
  let path = raw;
  while (path.startsWith("./")) path = path.slice(2);
  path = path.replace(/^\/+/, "").replace(/\/+$/, "");
  return path === "" || path === "." ? "." : path;
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}

/** The canonical, value-hashed form of a set of xattrs: sorted `name=digest`, undefined when empty. */
export function xattrDigests(xattrs: ReadonlyMap<string, Uint8Array>): string[] | undefined {
  if (xattrs.size === 0) return undefined;
  return [...xattrs.entries()]
    .map(([name, value]) =>
      `${name}=${createHash("sha256").update(value).digest("hex").slice(0, 16)}`
    )
    .sort();
}

/** Files at least this large are hashed on the Worker (when one is given) while this thread reads on. */
const OFFLOAD_MIN_BYTES = 1024 * 1024;

/**
 * Collects path summaries from entries fed one at a time, hashing each file's content as it
 * streams. A path listed twice keeps its last entry (what an extraction would leave). `map`
 * renames or drops a path (undefined drops it); a hard link's target is mapped the same way.
 */
export class PathSummarizer {
  readonly paths = new Map<string, PathSummary>();
  readonly #hasher?: Sha256Worker;
  readonly #map?: (path: string) => string | undefined;

  constructor(options: { hasher?: Sha256Worker; map?: (path: string) => string | undefined } = {}) {
    this.#hasher = options.hasher;
    this.#map = options.map;
  }

  #mapped(raw: string): string | undefined {
    const path = insidePath(raw);
    return this.#map ? this.#map(path) : path;
  }

  /** Summarizes one entry (reading a file's content to its end). */
  async add(entry: Entry): Promise<void> {
    const path = this.#mapped(entry.path);
    if (path === undefined) {
      if (entry.kind === "file") { for await (const _ of entry.content.open()); }
      return;
    }
    const base = { mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid };
    const xattrs = xattrDigests(entry.xattrs);
    let summary: PathSummary;
    switch (entry.kind) {
      case "file": {
        const { size, sha256 } = await hashContent(
          entry.content.open(),
          entry.content.size,
          entry.path,
          this.#hasher,
        );
        summary = { ...base, type: "file", size, sha256 };
        break;
      }
      case "hardlink": {
        const target = this.#mapped(entry.target);
        const first = target === undefined ? undefined : this.paths.get(target);
        if (target === undefined || first?.type !== "file") {
          throw new IntegrityError(
            `The hard link "${entry.path}" names "${entry.target}", which is not a file listed before it`,
          );
        }
        summary = {
          ...base,
          type: "file",
          size: first.size,
          sha256: first.sha256,
          hardlink: target,
        };
        break;
      }
      case "dir":
        summary = { ...base, type: "dir" };
        break;
      case "symlink":
        summary = { ...base, type: "symlink", target: entry.target };
        break;
      case "chardev":
      case "blockdev":
        summary = { ...base, type: entry.kind, device: `${entry.devmajor},${entry.devminor}` };
        break;
      case "fifo":
        summary = { ...base, type: "fifo" };
        break;
      default:
        assertNever(entry);
    }
    if (xattrs) summary.xattrs = xattrs;
    this.paths.set(path, summary);
  }
}

/**
 * Reads `entries` once and returns every path's summary keyed by {@linkcode insidePath} (see
 * {@linkcode PathSummarizer}).
 *
 * @example
 * ```ts
 * const paths = await summarizeEntries(readCpio(decompress(runner, fileChunks("rootimg.cpio.gz"))));
 * paths.get("etc/hostname")?.sha256;
 * ```
 */
export async function summarizeEntries(
  entries: AsyncIterable<Entry>,
  options: { hasher?: Sha256Worker; map?: (path: string) => string | undefined } = {},
): Promise<Map<string, PathSummary>> {
  const summarizer = new PathSummarizer(options);
  for await (const entry of entries) await summarizer.add(entry);
  return summarizer.paths;
}

/**
 * Reads a content stream to its end and returns its size and SHA-256; a large one is hashed by
 * `hasher`'s Worker while this thread reads the next chunks. Fewer or more bytes than `declared`
 * is an IntegrityError naming `label`.
 */
export async function hashContent(
  chunks: AsyncIterable<Uint8Array>,
  declared: number | undefined,
  label: string,
  hasher?: Sha256Worker,
): Promise<{ size: number; sha256: string }> {
  const offloaded = hasher !== undefined && (declared ?? Infinity) >= OFFLOAD_MIN_BYTES
    ? hasher.stream()
    : undefined;
  const hash = offloaded ? undefined : createHash("sha256");
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.byteLength;
    if (offloaded) {
      offloaded.update(chunk);
      await hasher!.ready();
    } else hash!.update(chunk);
  }
  if (declared !== undefined && size !== declared) {
    throw new IntegrityError(
      `"${label}" holds ${size} bytes, not the ${declared} its header declares`,
    );
  }
  return { size, sha256: offloaded ? await offloaded.digest() : hash!.digest("hex") };
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  return left.length === right.length && left.every((item, index) => item === right[index]);
}

/** The attribute names whose presence or value differs between two `name=digest` lists. */
function changedXattrNames(a: readonly string[], b: readonly string[]): string[] {
  const split = (list: readonly string[]) =>
    new Map(list.map((item) => [item.slice(0, item.lastIndexOf("=")), item]));
  const left = split(a);
  const right = split(b);
  const names = new Set([...left.keys(), ...right.keys()]);
  return [...names].filter((name) => left.get(name) !== right.get(name)).sort();
}

/**
 * What differs between two summaries of one path, in a fixed order: a type change alone (the
 * rest of two different kinds of file does not compare), else content, size, mode, owner, link
 * target, device numbers, xattrs and hard link. Fields a side cannot hold are not compared
 * (`carries`); a symlink's mode is not compared (Linux ignores it).
 */
export function compareSummaries(
  a: PathSummary,
  b: PathSummary,
  carries: Carries,
): FieldChange[] {
  if (a.type !== b.type) return [{ field: "type", old: a.type, new: b.type }];
  const changes: FieldChange[] = [];
  if (a.type === "file") {
    if (a.sha256 !== b.sha256) changes.push({ field: "content", old: a.sha256!, new: b.sha256! });
    if (a.size !== b.size) changes.push({ field: "size", old: a.size!, new: b.size! });
  }
  if (a.type !== "symlink" && a.mode !== b.mode) {
    changes.push({ field: "mode", old: octal(a.mode), new: octal(b.mode) });
  }
  if (carries.owner && (a.uid !== b.uid || a.gid !== b.gid)) {
    changes.push({ field: "owner", old: `${a.uid}:${a.gid}`, new: `${b.uid}:${b.gid}` });
  }
  if (a.target !== b.target) changes.push({ field: "target", old: a.target!, new: b.target! });
  if (a.device !== b.device) changes.push({ field: "device", old: a.device!, new: b.device! });
  if (carries.xattrs && !sameList(a.xattrs, b.xattrs)) {
    const old = a.xattrs ?? [];
    const next = b.xattrs ?? [];
    changes.push({ field: "xattrs", old, new: next, names: changedXattrNames(old, next) });
  }
  if (carries.hardlinks && a.hardlink !== b.hardlink) {
    changes.push({ field: "hardlink", old: a.hardlink ?? null, new: b.hardlink ?? null });
  }
  return changes;
}
