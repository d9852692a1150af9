// Reading an image bundle in one streaming pass: decompression by magic, tar, the member policy, and SHA256SUMS checked member by member.

import { concatBytes } from "../../formats/bytes.ts";
import { posix } from "node:path";
import type { Entry, EntryKind } from "../../formats/archive/entry.ts";
import { parseSha256Sums } from "../../formats/xcat/sha256sums.ts";
import { readTar } from "../../formats/archive/tar.ts";
import { memberFormat, MemberFormatCheck } from "./bundle_member_format.ts";
import { decompress } from "../compress/compress.ts";
import type { ProcessRunner } from "../process.ts";
import { IntegrityError } from "../errors.ts";
import { Sha256Worker } from "../tree/sha256_worker.ts";
import {
  consumeContent,
  type ContentObserver,
  extractEntries,
  type FileDigest,
  MemberPolicy,
  OrderedDigests,
  UnsafeMemberError,
} from "../tree/safe_extract.ts";
import { DEFAULT_MAX_EXPANSION, limitExpansion, type SpaceReserve } from "./staging_limits.ts";

/** The file names with a meaning inside an image directory. */
export const MANIFEST = "manifest.xml";
export const SUMS = "SHA256SUMS";
/** A manifest or SHA256SUMS larger than this is not one xCAT or osimg wrote. */
const MAX_SMALL_MEMBER = 16 * 1024 * 1024;

/** One image directory of a bundle (xCAT: every top-level directory is one image). */
export interface BundleImage {
  /** Its name in the archive (the first path component). */
  dir: string;
  /** manifest.xml's text, when the directory has one. */
  manifestText?: string;
  /** SHA256SUMS, path (relative to the image directory) -> digest, when present. */
  sums?: Map<string, string>;
  /** Regular files (hard links included), relative to the image directory. */
  files: Map<string, FileDigest>;
  /** Every member below the image directory, relative to it, with its kind. */
  members: Map<string, EntryKind>;
}

/** What one pass over a bundle found. */
export interface BundleScan {
  /** Image directories, sorted by name (the order xCAT's glob gives). */
  images: BundleImage[];
  /** Things the user should know that do not refuse the bundle (no SHA256SUMS). */
  warnings: string[];
  /** In collecting mode, every problem found; empty when the bundle is sound. */
  problems: string[];
  entries: number;
  bytes: number;
}

export interface ScanOptions {
  /**
   * The action and the bundle, as messages start: `Cannot import bundle "x.tgz"`. Problems are
   * reported as `<prefix>: member "..." <rule>`.
   */
  prefix: string;
  /** The bundle as the user named it, for warnings. */
  name: string;
  /** Write the members under this (empty) directory. Omitted: read and check only. */
  destination?: string;
  /** Report every problem in `problems` instead of throwing at the first (verify). */
  collect?: boolean;
  /** Called with the bytes of every member read (progress). */
  onBytes?: (bytes: number) => void;
  /**
   * Largest ratio of tar bytes to compressed bytes read (default DEFAULT_MAX_EXPANSION);
   * Infinity allows any (`--allow-expansion`).
   */
  maxExpansion?: number;
  /** How the expansion refusal tells the user to allow it ("import it with --allow-expansion"). */
  expansionHint?: string;
  /** With `destination`: the free space to keep on its file system while writing. */
  space?: SpaceReserve;
  /** Runs the decompressors of zstd, xz and bzip2 bundles and members. */
  runner: ProcessRunner;
}

/** Checks members against SHA256SUMS as they arrive; keeps the bundle's per-image record. */
class BundleChecker {
  readonly images = new Map<string, BundleImage>();
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  /** Files seen before their image's SHA256SUMS, checked when it arrives. */
  readonly #pending = new Map<string, [string, FileDigest][]>();
  readonly #options: ScanOptions;

  constructor(options: ScanOptions) {
    this.#options = options;
  }

  problem(member: string | undefined, rule: string): void {
    const message = member === undefined
      ? `${this.#options.prefix}: ${rule}`
      : `${this.#options.prefix}: member "${member}" ${rule}`;
    if (!this.#options.collect) throw new IntegrityError(message);
    this.problems.push(member === undefined ? rule : `member "${member}" ${rule}`);
  }

  #image(dir: string): BundleImage {
    let image = this.images.get(dir);
    if (!image) {
      image = { dir, files: new Map(), members: new Map() };
      this.images.set(dir, image);
    }
    return image;
  }

  entry(entry: Entry): void {
    const [dir, ...rest] = entry.path.split("/");
    const image = this.#image(dir!);
    if (rest.length > 0) image.members.set(rest.join("/"), entry.kind);
  }

  file(path: string, digest: FileDigest, bytes?: Uint8Array): void {
    const [dir, ...rest] = path.split("/");
    const image = this.#image(dir!);
    const inside = rest.join("/");
    image.files.set(inside, digest);
    if (inside === MANIFEST && bytes) {
      image.manifestText = new TextDecoder().decode(bytes);
    }
    if (inside === SUMS && bytes) {
      let lines;
      try {
        lines = parseSha256Sums(new TextDecoder().decode(bytes));
      } catch (error) {
        this.problem(path, `cannot be read: ${(error as Error).message}`);
        return;
      }
      image.sums = new Map(lines.map((line) => [line.path, line.digest]));
      for (const [earlier, earlierDigest] of this.#pending.get(dir!) ?? []) {
        this.#compare(image, earlier, earlierDigest);
      }
      this.#pending.delete(dir!);
      return;
    }
    if (inside === SUMS) return;
    if (image.sums) this.#compare(image, inside, digest);
    else {
      const list = this.#pending.get(dir!) ?? [];
      list.push([inside, digest]);
      this.#pending.set(dir!, list);
    }
  }

  #compare(image: BundleImage, inside: string, digest: FileDigest): void {
    const listed = image.sums!.get(inside);
    const member = `${image.dir}/${inside}`;
    if (listed === undefined) this.problem(member, `is not listed in ${SUMS}`);
    else if (listed !== digest.sha256) {
      this.problem(
        member,
        `does not match ${SUMS} (its SHA-256 is ${digest.sha256}, ${SUMS} lists ${listed})`,
      );
    }
  }

  finish(): BundleImage[] {
    const images = [...this.images.values()].sort((a, b) => a.dir < b.dir ? -1 : 1);
    for (const image of images) {
      if (image.manifestText === undefined) {
        this.problem(undefined, `the image directory "${image.dir}" has no ${MANIFEST}`);
      }
      if (!image.sums) {
        this.warnings.push(
          `The bundle "${this.#options.name}" has no ${SUMS} for "${image.dir}": ` +
            "its contents cannot be verified (a bundle made by xCAT).",
        );
        continue;
      }
      for (const listed of [...image.sums.keys()].sort()) {
        if (image.files.has(listed)) continue;
        const kind = image.members.get(listed);
        if (kind === "symlink") continue;
        this.problem(
          `${image.dir}/${listed}`,
          kind === undefined
            ? `is listed in ${SUMS} but missing from the bundle`
            : `is listed in ${SUMS} but is not a regular file`,
        );
      }
    }
    if (images.length === 0) this.problem(undefined, "the bundle holds no image directory");
    return images;
  }
}

/**
 * The format check of a file member named for what it holds (rootimg.cpio.gz, initrd-*.gz,
 * rootimg.sfs...), reporting through the checker: thrown at once, or collected by verify.
 */
function formatObserver(
  runner: ProcessRunner,
  checker: BundleChecker,
  path: string,
): ContentObserver | undefined {
  const format = memberFormat(path.split("/").slice(1).join("/"));
  if (format === undefined) return undefined;
  const check = new MemberFormatCheck(runner, format, (rule) => checker.problem(path, rule));
  return { chunk: (bytes) => check.push(bytes), end: () => check.end() };
}

function isSmallMember(path: string): boolean {
  const base = posix.basename(path);
  return (base === MANIFEST || base === SUMS) && path.split("/").length === 2;
}

/**
 * Wraps errors of the archive layers (corrupt compression, truncated tar) with the action and
 * the last member read, so the user learns where the archive went wrong.
 */
function archiveError(prefix: string, error: unknown, lastMember: string | undefined): unknown {
  // Only the archive layers' own verdicts (IntegrityError from decompression and tar) are about
  // the bundle; anything else (a full disk, a permission) is the caller's to word.
  if (!(error instanceof IntegrityError)) return error;
  if (error instanceof UnsafeMemberError || error.message.startsWith(prefix)) return error;
  const where = lastMember === undefined ? "" : ` near member "${lastMember}"`;
  return new IntegrityError(
    `${prefix}: the archive is cut short or corrupt${where}: ${error.message}`,
    { cause: error },
  );
}

/**
 * Reads a bundle in one pass: decompresses by magic, reads tar, applies the bundle member
 * policy, and checks every file against its image's SHA256SUMS as it streams (a mismatching or
 * unlisted member is reported as soon as it has been read, a missing one at the end). With
 * `destination`, members are written there (the import's staging area); without, only read.
 *
 * @example
 * ```ts
 * const scan = await scanBundle(fileChunks("x.tgz"), { prefix: 'Bundle "x.tgz"', name: "x.tgz", collect: true });
 * scan.problems; // [] when every checksum holds
 * ```
 */
export async function scanBundle(
  chunks: AsyncIterable<Uint8Array>,
  options: ScanOptions,
): Promise<BundleScan> {
  const checker = new BundleChecker(options);
  const counting = async function* () {
    for await (const chunk of chunks) {
      options.onBytes?.(chunk.byteLength);
      yield chunk;
    }
  };
  let lastMember: string | undefined;
  // A decompression bomb is stopped as it inflates, before its bytes reach the disk.
  const tar = limitExpansion(counting(), (input) => decompress(options.runner, input), {
    ratio: options.maxExpansion ?? DEFAULT_MAX_EXPANSION,
    prefix: options.prefix,
    hint: options.expansionHint ?? "allow it with --allow-expansion",
  });
  const space = options.space;
  const entries = (async function* () {
    for await (const entry of readTar(space ? space.watch(tar) : tar)) {
      lastMember = entry.path;
      yield entry;
    }
  })();
  let count = 0;
  let bytes = 0;
  // Large members are hashed on another core while this thread inflates and writes.
  const hasher = new Sha256Worker();
  let ordered: OrderedDigests | undefined;
  try {
    if (options.destination !== undefined) {
      const destination = options.destination;
      const result = await extractEntries(entries, destination, {
        policy: "bundle",
        prefix: options.prefix,
        hasher,
        onEntry: (entry) => checker.entry(entry),
        onContent: (entry) => formatObserver(options.runner, checker, entry.path),
        onFile: async (path, digest) => {
          if (isSmallMember(path) && digest.size > MAX_SMALL_MEMBER) {
            checker.problem(path, `is larger than ${MAX_SMALL_MEMBER} bytes`);
          }
          const small = isSmallMember(path)
            ? await Deno.readFile(`${destination}/${path}`)
            : undefined;
          checker.file(path, digest, small);
        },
      });
      count = result.entries;
      bytes = result.bytes;
    } else {
      const policy = new MemberPolicy("bundle", options.prefix);
      const smallBytes = new Map<string, Uint8Array>();
      ordered = new OrderedDigests((path, digest) => {
        checker.file(path, digest, smallBytes.get(path));
        smallBytes.delete(path);
      });
      const digests = new Map<string, Promise<FileDigest>>();
      for await (const raw of entries) {
        let entry: Entry | undefined;
        try {
          entry = policy.check(raw);
        } catch (error) {
          if (!(error instanceof UnsafeMemberError) || !options.collect) throw error;
          checker.problems.push(`member "${error.member}" ${error.rule}`);
          continue;
        }
        if (!entry) continue;
        count++;
        checker.entry(entry);
        if (entry.kind === "file") {
          const small = isSmallMember(entry.path) && entry.content.size <= MAX_SMALL_MEMBER;
          const parts: Uint8Array[] = [];
          const observer = formatObserver(options.runner, checker, entry.path);
          const pending = await consumeContent(options.prefix, entry, async (chunk) => {
            await observer?.chunk(chunk);
            if (small) parts.push(chunk.slice());
          }, hasher);
          await observer?.end();
          bytes += pending.size;
          if (isSmallMember(entry.path) && !small) {
            checker.problem(entry.path, `is larger than ${MAX_SMALL_MEMBER} bytes`);
          }
          if (small) smallBytes.set(entry.path, concatBytes(parts));
          digests.set(entry.path, ordered.add(entry.path, pending));
        } else if (entry.kind === "hardlink") {
          const target = digests.get(entry.target);
          if (target) digests.set(entry.path, ordered.add(entry.path, target));
        }
        await ordered.deliverReady();
      }
      await ordered.deliverAll();
    }
  } catch (error) {
    const wrapped = archiveError(options.prefix, error, lastMember);
    if (!options.collect || !(wrapped instanceof IntegrityError)) throw wrapped;
    checker.problems.push(wrapped.message.slice(options.prefix.length + 2));
    // The members read whole before the failure are still checked, as they would have been
    // had the archive gone on: their digests may not have been delivered yet.
    await ordered?.deliverAll().catch(() => {});
  } finally {
    hasher.close();
  }
  const images = checker.finish();
  return { images, warnings: checker.warnings, problems: checker.problems, entries: count, bytes };
}
