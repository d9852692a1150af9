// The small files `osimg serve` keeps in memory (iPXE scripts, boot configs), each checked
// against the stat of its confined lookup on every request, so a changed file is never stale.

import { httpDate } from "../../formats/http/byte_ranges.ts";
import { entityTag, type ResolvedFile } from "./served_trees.ts";

/** A small file's whole content and the validators it is served with. */
export interface SmallFile {
  bytes: Uint8Array<ArrayBuffer>;
  /** What fstat(2) of the handle it was read from said. */
  info: Deno.FileInfo;
  etag: string;
  lastModified: string;
  /** The ResolvedFile version it was read as. */
  version: string;
}

/** Files up to this size are read whole and kept; bigger ones are streamed from their handle. */
export const SMALL_FILE = 64 << 10;

/** What the cache may hold at most: ample for every node script of a large site. */
const CACHE_BYTES = 32 << 20;

/**
 * How long a file must have been left alone before its content is kept. The kernel stamps
 * changes with a clock that ticks every few milliseconds, so a file rewritten in place within
 * one tick of the read keeps its ctime; once a file has been left alone for longer than a tick,
 * its next change always gets a new ctime (which, unlike the mtime that tar and rsync copy,
 * a user cannot set).
 */
const SETTLE_MS = 1000;

/**
 * Small files by device and inode. A hit needs the same size, mtime and ctime as the lookup of
 * this request: a file renamed over (packimage, nodeset) is another inode, a file rewritten in
 * place has a new ctime, so either is read again. Only content read in one piece from a handle
 * on the very file that was looked up, unchanged from before the read to after it, and left
 * alone for SETTLE_MS, is kept. Confinement is not the cache's business: every request is
 * resolved inside its tree before the cache is asked, and the cache is keyed by the file it
 * resolved to.
 *
 * @example
 * ```ts
 * const cache = new SmallFileCache();
 * const file = cache.read(resolved); // undefined: gone, changing, or not small any more
 * ```
 */
export class SmallFileCache {
  readonly #entries = new Map<string, SmallFile>();
  #bytes = 0;
  readonly #now: () => number;

  /** `now` is the clock SETTLE_MS is measured on (tests pass their own). */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** How many files are kept. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The content of a resolved small file: from memory when unchanged, else read (synchronously:
   * a few kilobytes from the page cache cost less than a hop to the thread pool). undefined when
   * it cannot be read as one version (gone, replaced by a big file, rewritten during the read):
   * the caller then streams it from a handle, as big files are. Does not release `resolved`.
   */
  read(resolved: ResolvedFile): SmallFile | undefined {
    const kept = this.#entries.get(resolved.key);
    if (kept?.version === resolved.version) return kept;
    if (kept) this.#forget(resolved.key, kept);
    const file = readWhole(resolved);
    if (file && this.#now() - resolved.changedMs >= SETTLE_MS) this.#keep(resolved.key, file);
    return file;
  }

  #keep(key: string, file: SmallFile): void {
    this.#entries.set(key, file);
    this.#bytes += file.bytes.length;
    // The oldest entries go first (a Map iterates in insertion order).
    for (const [oldKey, old] of this.#entries) {
      if (this.#bytes <= CACHE_BYTES) break;
      this.#forget(oldKey, old);
    }
  }

  #forget(key: string, file: SmallFile): void {
    this.#entries.delete(key);
    this.#bytes -= file.bytes.length;
  }
}

/** Reads the resolved file whole through one handle, if it is still that file, small, unchanged. */
function readWhole(resolved: ResolvedFile): SmallFile | undefined {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(resolved.path, { read: true });
  } catch {
    return undefined;
  }
  try {
    const info = file.statSync();
    // Another file (renamed over between the lookup and the open), or no longer small.
    if (!info.isFile || info.ino !== resolved.ino || info.size !== resolved.size) return undefined;
    if (info.size > SMALL_FILE) return undefined;
    const bytes = new Uint8Array(info.size);
    let filled = 0;
    while (filled < bytes.length) {
      const count = file.readSync(bytes.subarray(filled));
      if (count === null) break;
      filled += count;
    }
    // Rewritten in place while it was read: not one version.
    if (filled !== bytes.length || resolved.currentVersion() !== resolved.version) return undefined;
    const lastModified = httpDate(info.mtime ?? new Date(0));
    return { bytes, info, etag: entityTag(info), lastModified, version: resolved.version };
  } finally {
    file.close();
  }
}
