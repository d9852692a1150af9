// Limits on what unpacking an archive from elsewhere may write: how far it may expand, and how much free space it must leave on the file system it stages on.

import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { IntegrityError, OsimgError } from "../errors.ts";

/**
 * The largest ratio of bytes an archive expands to (the decompressed tar or cpio stream) to
 * compressed bytes read, unless the admin allows more (`--allow-expansion`). Real bundles come
 * nowhere near it: their packed root is already compressed, so the outer gzip finds little.
 * Measured on a Debian bookworm root-like tree (/usr/bin, /usr/lib/x86_64-linux-gnu,
 * /usr/share/doc, /etc: a 1.44 GB cpio newc): as rootimg.cpio.gz (gzip -6) inside a tgz the
 * bundle expands 1.01:1; the tree itself as gzip'd cpio (a snapshot's rootimgtree.gz, or an
 * uncompressed rootimg.cpio inside a tgz) 2.6:1; GNU tar's 10 KiB record padding around a few
 * small files stays under 50:1. gzip cannot exceed ~1032:1, zstd and xz reach far more; 200:1
 * leaves every real image a wide margin and stops a bomb after a bounded amount of work.
 */
export const DEFAULT_MAX_EXPANSION = 200;

/**
 * The ratio is judged only once this much has been produced: below it nothing is at stake (the
 * free-space reserve still applies), while small bundles do exceed 200:1 (a tar's 10 KiB record
 * padding around a few hundred compressed bytes; a few MB of repetitive text, 330:1).
 */
const EXPANSION_FLOOR = 32 * 1024 * 1024;

/** How an archive's expansion is limited and how a refusal is worded. */
export interface ExpansionLimit {
  /** Largest produced/read ratio; Infinity allows any. */
  ratio: number;
  /** The action and the object, as messages start: `Cannot import bundle "x.tgz"`. */
  prefix: string;
  /** What the user can do when the archive is trusted ("import it with --allow-expansion"). */
  hint: string;
}

/**
 * Decodes `input` with `decode` (a decompressor), refusing with an IntegrityError as soon as
 * the output exceeds `limit.ratio` times the input read so far: a decompression bomb is
 * stopped after a bounded amount of work, before it is written out.
 *
 * @example
 * ```ts
 * const tar = limitExpansion(fileChunks("x.tgz"), decompress, { ratio: 200, prefix, hint });
 * ```
 */
export async function* limitExpansion(
  input: AsyncIterable<Uint8Array>,
  decode: (input: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>,
  limit: ExpansionLimit,
): AsyncGenerator<Uint8Array> {
  let read = 0;
  let produced = 0;
  const counted = (async function* () {
    for await (const chunk of input) {
      read += chunk.byteLength;
      yield chunk;
    }
  })();
  for await (const chunk of decode(counted)) {
    produced += chunk.byteLength;
    if (produced > EXPANSION_FLOOR && produced > limit.ratio * read) {
      throw new IntegrityError(
        `${limit.prefix}: the archive expands more than ${limit.ratio} times (${
          formatBytes(produced)
        } ` +
          `from ${formatBytes(read)} read so far), as a decompression bomb does; nothing was ` +
          `changed. If it is trusted, ${limit.hint}`,
      );
    }
    yield chunk;
  }
}

/** Free space to keep on the staging file system: max(1 GiB, 5% of it). */
export function defaultSpaceReserve(totalBytes: number): number {
  // A full /install takes the DB, logs and every other image's next pack with it; 1 GiB is what
  // a management node needs to keep working, 5% keeps the same share ext4 reserves for root
  // (osimg runs as root, so ext4's own reserve does not stop it; XFS has none).
  return Math.max(1024 * 1024 * 1024, Math.floor(totalBytes * 0.05));
}

/** How often (bytes written) the free space is measured again while unpacking. */
const SPACE_CHECK_STEP = 4 * 1024 * 1024;

/**
 * Keeps a free-space reserve on the file system holding `hostDir` while something is written
 * there: `check(upcoming)` refuses, before the bytes are written, when fewer than `reserve`
 * bytes would be left. Free space is what an unprivileged user may still use (statfs f_bavail),
 * so ext4's own root reserve is never eaten into either.
 */
export class SpaceReserve {
  readonly #hostDir: string;
  readonly #shown: string;
  readonly #prefix: string;
  readonly #reserve: number | undefined;
  #sinceCheck = Infinity;

  /**
   * @param hostDir a directory on the file system to watch (host path)
   * @param shown how the messages name it (a management-node path)
   * @param prefix the action, as messages start: `Cannot import bundle "x.tgz"`
   * @param reserve bytes to keep free; default defaultSpaceReserve() of the file system
   */
  constructor(hostDir: string, shown: string, prefix: string, reserve?: number) {
    this.#hostDir = hostDir;
    this.#shown = shown;
    this.#prefix = prefix;
    this.#reserve = reserve;
  }

  /** Free bytes and the reserve, measured now. */
  measure(): { free: number; reserve: number } {
    // The staging directory may not exist yet: its nearest existing ancestor is on the same
    // file system unless a mount point lies between, which would then be created empty.
    let dir = this.#hostDir;
    let stats;
    while (true) {
      try {
        stats = statfsSync(dir);
        break;
      } catch (error) {
        const parent = dirname(dir);
        if ((error as { code?: string }).code !== "ENOENT" || parent === dir) throw error;
        dir = parent;
      }
    }
    const free = stats.bavail * stats.bsize;
    return { free, reserve: this.#reserve ?? defaultSpaceReserve(stats.blocks * stats.bsize) };
  }

  /**
   * About to write `upcoming` more bytes: measured again every 4 MiB (a statfs call), so the
   * reserve is kept to within that step. Throws an OsimgError naming the space left.
   */
  check(upcoming: number): void {
    // A reserve of 0 turns the check off (the file system's own ENOSPC is then what stops it).
    if (this.#reserve === 0) return;
    this.#sinceCheck += upcoming;
    if (this.#sinceCheck < SPACE_CHECK_STEP) return;
    const { free, reserve } = this.measure();
    this.#sinceCheck = 0;
    // Up to one step more is written before the next measurement.
    if (free - upcoming - SPACE_CHECK_STEP < reserve) {
      throw new OsimgError(
        `${this.#prefix}: stopped before the file system holding ${this.#shown} fills up ` +
          `(${formatBytes(free)} free, imgimport keeps ${formatBytes(reserve)} free there); ` +
          "nothing was changed. Free some space and retry.",
      );
    }
  }

  /** Passes `chunks` through, checking the reserve before each is written. */
  async *watch(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      this.check(chunk.byteLength);
      yield chunk;
    }
  }
}

/** 1536 -> "1.5 KiB"; for messages. */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
