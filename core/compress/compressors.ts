// The compressor table: every fact about each compression osimg writes and reads (its names,
// magic number, file extensions and levels), in one place that every module reads.

import { InvalidInputError } from "../errors.ts";

export type Compression = "gzip" | "zstd" | "xz" | "bzip2" | "none";

/** What osimg knows about one compression. */
export interface Compressor {
  /** Other names a command accepts for it (xCAT's packimage calls parallel gzip `pigz`). */
  aliases: readonly string[];
  /** The magic number its data starts with, from the format's specification (none: empty). */
  magic: readonly number[];
  /** The extension its files carry (`rootimg.cpio.zst`); none: "". */
  extension: string;
  /** The name ending of an imgexport bundle, a tar compressed this way (xCAT's `.tgz`). */
  bundleExtension: string;
  /** Levels it takes; "none" has none. Each level is part of the output's identity. */
  levels?: {
    min: number;
    max: number;
    /** What compress() uses when no level is given (packimage). */
    defaultLevel: number;
    /** What imgexport always passes, so a bundle is the same bytes everywhere. */
    bundleLevel: number;
  };
}

/** Every compression, in the order help texts list them. */
export const COMPRESSORS: Readonly<Record<Compression, Compressor>> = {
  gzip: {
    aliases: ["pigz"],
    magic: [0x1f, 0x8b],
    extension: ".gz",
    bundleExtension: ".tgz",
    levels: {
      min: 1,
      max: 9,
      // Level 4: the size budget (design: at most 4% over pigz -6) bought as speed. Measured on
      // this project's 2-core bench machine, one thread, 1 MiB blocks, against pigz -6: a Debian
      // minbase cpio (200 MB) level 3 +2.9% / level 4 +2.0% / level 5 +1.2% / level 6 +1.0%, a
      // 1.1 GB /usr tree level 3 +4.0% (over budget) / level 4 +2.7% / level 5 +1.7%; level 4
      // deflates ~12% faster than 5 and ~20% faster than 6 (Chromium's zlib in Deno). The default
      // (no level given) also stores incompressible blocks and lowers poorly compressible ones to
      // 3 or 2 (blockLevel).
      defaultLevel: 4,
      // Bundles keep level 5, given explicitly: every block gets it (no adaptive lowering), and
      // bundles made before the default became 4 are reproduced byte for byte.
      bundleLevel: 5,
    },
  },
  zstd: {
    aliases: [],
    magic: [0x28, 0xb5, 0x2f, 0xfd],
    extension: ".zst",
    bundleExtension: ".tar.zst",
    levels: { min: 1, max: 19, defaultLevel: 3, bundleLevel: 3 },
  },
  xz: {
    aliases: [],
    magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
    extension: ".xz",
    bundleExtension: ".tar.xz",
    levels: { min: 0, max: 9, defaultLevel: 6, bundleLevel: 6 },
  },
  bzip2: {
    aliases: [],
    magic: [0x42, 0x5a, 0x68],
    extension: ".bz2",
    bundleExtension: ".tar.bz2",
    levels: { min: 1, max: 9, defaultLevel: 9, bundleLevel: 9 },
  },
  none: { aliases: [], magic: [], extension: "", bundleExtension: ".tar" },
};

/** Every compression osimg writes and reads, in the order help texts list them. */
export const COMPRESSIONS: readonly Compression[] = Object.keys(COMPRESSORS) as Compression[];

/** The longest magic number: how many bytes detectCompression wants to see. */
export const MAGIC_LENGTH = Math.max(...COMPRESSIONS.map((kind) => COMPRESSORS[kind].magic.length));

/**
 * The compression a name or alias stands for (`pigz` is gzip), or undefined for an unknown name.
 *
 * @example
 * ```ts
 * compressionNamed("pigz"); // "gzip"
 * ```
 */
export function compressionNamed(name: string): Compression | undefined {
  for (const kind of COMPRESSIONS) {
    if (kind === name || COMPRESSORS[kind].aliases.includes(name)) return kind;
  }
  return undefined;
}

/** The compression a file name's extension promises, or undefined when it names none. */
export function compressionOfName(name: string): Exclude<Compression, "none"> | undefined {
  for (const kind of COMPRESSIONS) {
    const extension = COMPRESSORS[kind].extension;
    if (extension !== "" && name.endsWith(extension)) return kind as Exclude<Compression, "none">;
  }
  return undefined;
}

/**
 * Which compression a stream uses, by its first bytes (give at least MAGIC_LENGTH when the
 * stream has them). Anything unrecognised, or too short to tell, is "none".
 *
 * @example
 * ```ts
 * detectCompression(new Uint8Array([0x1f, 0x8b, 8, 0])); // "gzip"
 * ```
 */
export function detectCompression(head: Uint8Array): Compression {
  for (const kind of COMPRESSIONS) {
    const magic = COMPRESSORS[kind].magic;
    if (magic.length === 0) continue;
    if (head.length >= magic.length && magic.every((byte, index) => head[index] === byte)) {
      return kind;
    }
  }
  return "none";
}

/** The level to compress with: `level` checked against the table, or the default level. */
export function checkLevel(kind: Exclude<Compression, "none">, level: number | undefined): number {
  const range = COMPRESSORS[kind].levels!;
  if (level === undefined) return range.defaultLevel;
  if (!Number.isInteger(level) || level < range.min || level > range.max) {
    throw new InvalidInputError(
      `Cannot compress with ${kind}: level ${level} is not an integer from ${range.min} to ${range.max}.`,
    );
  }
  return level;
}

/** A thread count checked (1..1024), or undefined when none was given. */
export function checkThreads(kind: Compression, threads: number | undefined): number | undefined {
  if (threads === undefined) return undefined;
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new InvalidInputError(
      `Cannot compress with ${kind}: thread count ${threads} is not an integer from 1 to 1024.`,
    );
  }
  return threads;
}
