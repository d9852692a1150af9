// The ISO 9660 image decoder: the tree of a CD/DVD image (Rock Ridge, else Joliet, else plain
// ISO names) as the project's entries, checked against hostile content, without any I/O of its own.

import { IntegrityError, InvalidInputError } from "../../core/errors.ts";
import type { Entry, EntryMeta, FileContent } from "../archive/entry.ts";
import { type RandomAccessReader, readExactly } from "./random_access_reader.ts";
import {
  type DirectoryRecord,
  FIRST_DESCRIPTOR_SECTOR,
  FLAG_ASSOCIATED,
  FLAG_DIRECTORY,
  FLAG_MULTI_EXTENT,
  isoName,
  IsoProblem,
  isRockRidgeExtension,
  jolietName,
  parseDirectoryRecord,
  parseSuspArea,
  parseVolumeDescriptor,
  RockRidgeAccumulator,
  type RockRidgeFields,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SECTOR,
  type VolumeInfo,
} from "./iso9660_records.ts";

/** Bounds that keep a hostile image from costing unbounded memory or time. */
export interface IsoLimits {
  /** Entries in the whole tree. */
  maxEntries: number;
  /** Directory levels below the root. */
  maxDepth: number;
  /** Bytes of one directory's records (read into memory at once). */
  maxDirectoryBytes: number;
  /** Rock Ridge continuation areas (CE) followed for one directory record. */
  maxContinuations: number;
  /** Bytes of a path inside the image (Linux PATH_MAX less one). */
  maxPathBytes: number;
  /** Volume descriptors read before the terminator. */
  maxDescriptors: number;
  /**
   * Bytes of directories and continuation areas read in all. Undefined means the image's size:
   * real directories never overlap, so only a hostile image (directories sharing blocks, many
   * records reusing one continuation area) reads more than that.
   */
  maxMetadataBytes: number | undefined;
}

export const DEFAULT_ISO_LIMITS: IsoLimits = {
  maxEntries: 500_000,
  maxDepth: 128,
  maxDirectoryBytes: 64 * 1024 * 1024,
  maxContinuations: 32,
  maxPathBytes: 4095,
  maxDescriptors: 64,
  maxMetadataBytes: undefined,
};

/** One empty, shared xattr map: media carries none, and a map per entry costs memory. */
const NO_XATTRS: ReadonlyMap<string, Uint8Array> = new Map();

/** Modes for media without Rock Ridge: read-only, as the media is (and as Linux mounts it). */
export const PLAIN_FILE_MODE = 0o444;
export const PLAIN_DIRECTORY_MODE = 0o555;

/**
 * Hostile or broken ISO content: names the image, the path inside it and the rule it breaks,
 * e.g. `Cannot read ISO image "x.iso": "/a/b" is a directory loop`.
 */
export class IsoContentError extends InvalidInputError {
  constructor(readonly source: string, readonly path: string | undefined, readonly rule: string) {
    super(
      `Cannot read ISO image "${source}": ${
        path === undefined ? "the image" : `"/${path}"`
      } ${rule}`,
    );
  }
}

/** One contiguous run of a file's bytes in the image. */
export interface IsoExtent {
  /** Byte offset in the image. */
  offset: number;
  length: number;
}

/** How much a file content read asks the reader for at once. */
const READ_CHUNK = 1024 * 1024;

/** A file's bytes: its extents in the image, read lazily (one or several, multi-extent). */
export class IsoFileContent implements FileContent {
  readonly size: number;
  constructor(
    readonly extents: readonly IsoExtent[],
    readonly reader: RandomAccessReader,
    readonly path: string,
  ) {
    this.size = extents.reduce((sum, extent) => sum + extent.length, 0);
  }

  async *open(): AsyncGenerator<Uint8Array> {
    for (const extent of this.extents) {
      let done = 0;
      while (done < extent.length) {
        const piece = await this.reader.read(
          extent.offset + done,
          Math.min(READ_CHUNK, extent.length - done),
        );
        if (piece.byteLength === 0) {
          throw new IntegrityError(
            `The content of "/${this.path}" is cut short: the image ends at byte ${
              extent.offset + done
            }`,
          );
        }
        const take = piece.byteLength > extent.length - done
          ? piece.subarray(0, extent.length - done)
          : piece;
        done += take.byteLength;
        yield take;
      }
    }
  }
}

/** A regular file of the image, its content in IsoFileContent (extents exposed for fast copies). */
export type IsoFileEntry = Extract<Entry, { kind: "file" }> & { content: IsoFileContent };

/** What the decoder produces: no devices or FIFOs (refused), files with their extents. */
export type IsoEntry =
  | IsoFileEntry
  | Extract<Entry, { kind: "dir" | "symlink" | "hardlink" }>;

/** Which names the tree was read with. */
export type IsoNaming = "rockridge" | "joliet" | "iso9660";

/** A decoded image. */
export interface IsoImage {
  volumeId: string;
  systemId: string;
  naming: IsoNaming;
  /** The raw descriptor sectors, 16 through the terminator (an identity for fingerprints). */
  descriptors: Uint8Array;
  /** The root directory's own metadata (path ""). */
  root: EntryMeta;
  /**
   * Every entry but the root, in the order a copy should write them: directories parents first,
   * then symbolic links, then files in the order of their content in the image (so reading is
   * sequential), each hard link right after the file whose extent it shares.
   */
  entries: IsoEntry[];
  /** Bytes of file content (hard links counted once). */
  totalBytes: number;
}

export interface ReadIsoOptions {
  /** The image's name for messages ("rhel-9.2-x86_64-dvd.iso"). */
  source: string;
  limits?: Partial<IsoLimits>;
}

/** What the walk keeps per entry before ordering. */
interface Found {
  entry: IsoEntry;
  /** Extents of a regular file. */
  extents?: IsoExtent[];
}

/**
 * Decodes the directory tree of an ISO 9660 image. Everything is checked before this returns:
 * names, loops, extents inside the image, overlapping files, links that leave the tree, sizes
 * and counts within `limits`; file content is read only when a FileContent is opened.
 *
 * Hard links: files whose extents are identical (how mkisofs and xorriso record them) come out
 * as one file and `hardlink` entries to it; files that overlap otherwise are refused, so the
 * bytes written never exceed the image's size.
 *
 * @example
 * ```ts
 * const image = await readIso9660(reader, { source: "debian-12.iso" });
 * for (const entry of image.entries) console.log(entry.kind, entry.path);
 * ```
 */
export async function readIso9660(
  reader: RandomAccessReader,
  options: ReadIsoOptions,
): Promise<IsoImage> {
  return await new IsoWalk(reader, options).run();
}

/** A tree node for resolving links inside the image. */
type Node = { kind: "dir" | "file" } | { kind: "symlink"; target: string };

class IsoWalk {
  readonly #reader: RandomAccessReader;
  readonly #source: string;
  readonly #limits: IsoLimits;
  #blockSize = SECTOR;
  /** SUSP LEN_SKP: bytes at the start of each System Use area to skip (SUSP §5.3). */
  #suspSkip = 0;
  #naming: IsoNaming = "iso9660";
  #entryCount = 0;
  #metadataBytes = 0;
  readonly #found: Found[] = [];
  readonly #nodes = new Map<string, Node>([["", { kind: "dir" }]]);
  /** Directory extents seen: a second sighting is a loop (or a directory with two parents). */
  readonly #directories = new Set<number>();

  constructor(reader: RandomAccessReader, options: ReadIsoOptions) {
    this.#reader = reader;
    this.#source = options.source;
    this.#limits = { ...DEFAULT_ISO_LIMITS, ...options.limits };
  }

  #fail(path: string | undefined, rule: string): never {
    throw new IsoContentError(this.#source, path, rule);
  }

  /** Runs `step`, turning an IsoProblem into an IsoContentError naming `path`. */
  #at<T>(path: string | undefined, step: () => T): T {
    try {
      return step();
    } catch (error) {
      if (error instanceof IsoProblem) this.#fail(path, error.rule);
      throw error;
    }
  }

  async run(): Promise<IsoImage> {
    const { primary, joliet, descriptors } = await this.#descriptors();
    this.#blockSize = primary.blockSize;
    const rootDot = await this.#dotRecord(primary.root.extent, "");
    const rockRidge = await this.#detectRockRidge(rootDot);
    let top: DirectoryRecord;
    if (rockRidge) {
      this.#naming = "rockridge";
      top = primary.root;
    } else if (joliet) {
      this.#naming = "joliet";
      this.#blockSize = joliet.blockSize;
      top = joliet.root;
    } else top = primary.root;
    const topDot = top === primary.root ? rootDot : await this.#dotRecord(top.extent, "");
    const rootFields = rockRidge ? await this.#rockRidge(topDot, "", true) : undefined;
    const root = this.#meta("", topDot, rootFields, true);
    this.#directories.add(top.extent);
    await this.#walk(top.extent, top.size, "");
    return this.#finish(primary, descriptors, root);
  }

  async #descriptors(): Promise<{
    primary: VolumeInfo;
    joliet: VolumeInfo | undefined;
    descriptors: Uint8Array;
  }> {
    let primary: VolumeInfo | undefined;
    let joliet: VolumeInfo | undefined;
    const sectors: Uint8Array[] = [];
    for (let index = 0;; index++) {
      if (index >= this.#limits.maxDescriptors) {
        this.#fail(undefined, `has more than ${this.#limits.maxDescriptors} volume descriptors`);
      }
      const offset = (FIRST_DESCRIPTOR_SECTOR + index) * SECTOR;
      if (offset + SECTOR > this.#reader.size) {
        this.#fail(
          undefined,
          index === 0
            ? "is too small to be an ISO 9660 image"
            : "ends before its volume descriptor set terminator",
        );
      }
      const sector = await readExactly(this.#reader, offset, SECTOR, "A volume descriptor");
      const descriptor = this.#at(undefined, () => parseVolumeDescriptor(sector));
      sectors.push(sector);
      if (descriptor.type === "terminator") break;
      if (descriptor.type === "primary") primary ??= descriptor;
      if (descriptor.type === "supplementary" && descriptor.joliet !== undefined) {
        joliet ??= descriptor;
      }
    }
    if (!primary) this.#fail(undefined, "has no primary volume descriptor");
    const descriptors = new Uint8Array(sectors.length * SECTOR);
    sectors.forEach((sector, index) => descriptors.set(sector, index * SECTOR));
    return { primary, joliet, descriptors };
  }

  /** The "." record at the start of the directory at `extent` (its own metadata). */
  async #dotRecord(extent: number, path: string): Promise<DirectoryRecord> {
    const offset = extent * this.#blockSize;
    if (offset + this.#blockSize > this.#reader.size) {
      this.#fail(path, "is a directory past the end of the image");
    }
    const block = await readExactly(this.#reader, offset, this.#blockSize, `Directory "/${path}"`);
    return this.#at(path, () => {
      const record = parseDirectoryRecord(block, 0, Math.min(block[0]!, block.byteLength));
      if (record.identifier.byteLength !== 1 || record.identifier[0] !== 0) {
        throw new IsoProblem('is a directory that does not start with its "." record');
      }
      return record;
    });
  }

  /** Rock Ridge is in use when the root's "." record has SUSP's SP entry and RRIP's ER (or PX). */
  async #detectRockRidge(rootDot: DirectoryRecord): Promise<boolean> {
    const area = rootDot.systemUse;
    // SUSP §5.3: SP at byte 0 of the root's "." System Use field, check bytes BE EF.
    if (
      area.byteLength < 7 || area[0] !== 0x53 || area[1] !== 0x50 || area[4] !== 0xbe ||
      area[5] !== 0xef
    ) return false;
    this.#suspSkip = area[6]!;
    let found = false;
    await this.#suspEntries(rootDot, "", true, (entry) => {
      if (isRockRidgeExtension(entry) || entry.signature === "PX" || entry.signature === "RR") {
        found = true;
      }
    });
    return found;
  }

  /** Every SUSP entry of `record`, following continuation areas with loop and count bounds. */
  async #suspEntries(
    record: DirectoryRecord,
    path: string,
    isRootDot: boolean,
    each: (entry: { signature: string; data: Uint8Array; version: number }) => void,
  ): Promise<void> {
    let area = isRootDot ? record.systemUse : record.systemUse.subarray(this.#suspSkip);
    const seen = new Set<number>();
    for (let hops = 0;; hops++) {
      const { entries, continuation } = this.#at(path, () => parseSuspArea(area));
      this.#at(path, () => entries.forEach(each));
      if (!continuation) return;
      if (hops >= this.#limits.maxContinuations) {
        this.#fail(
          path,
          `has more than ${this.#limits.maxContinuations} Rock Ridge continuation areas`,
        );
      }
      const offset = continuation.block * this.#blockSize + continuation.offset;
      if (seen.has(offset)) this.#fail(path, "has a Rock Ridge continuation area loop (CE)");
      seen.add(offset);
      // As Linux reads them: a continuation area lies within one block.
      if (continuation.offset + continuation.length > this.#blockSize) {
        this.#fail(path, "has a Rock Ridge continuation area that crosses a block boundary");
      }
      this.#countMetadata(path, continuation.length);
      if (offset + continuation.length > this.#reader.size) {
        this.#fail(path, "has a Rock Ridge continuation area past the end of the image");
      }
      area = await readExactly(this.#reader, offset, continuation.length, `"/${path}"`);
    }
  }

  async #rockRidge(
    record: DirectoryRecord,
    path: string,
    isRootDot = false,
  ): Promise<RockRidgeFields> {
    const accumulator = new RockRidgeAccumulator();
    await this.#suspEntries(record, path, isRootDot, (entry) => accumulator.add(entry));
    return this.#at(path, () => accumulator.finish());
  }

  #meta(
    path: string,
    record: DirectoryRecord,
    fields: RockRidgeFields | undefined,
    directory: boolean,
  ): EntryMeta {
    return {
      path,
      mode: fields?.mode !== undefined
        ? fields.mode & 0o7777
        : directory
        ? PLAIN_DIRECTORY_MODE
        : PLAIN_FILE_MODE,
      uid: fields?.uid ?? 0,
      gid: fields?.gid ?? 0,
      uname: "",
      gname: "",
      mtime: fields?.mtime ?? record.recorded,
      xattrs: NO_XATTRS,
    };
  }

  #name(record: DirectoryRecord, fields: RockRidgeFields | undefined): string {
    if (fields?.name !== undefined) return fields.name;
    return this.#naming === "joliet" ? jolietName(record.identifier) : isoName(record.identifier);
  }

  /** Walks one directory (records of `size` bytes at block `extent`) and, depth first, its subdirectories. */
  async #walk(extent: number, size: number, path: string): Promise<void> {
    const depth = path === "" ? 0 : path.split("/").length;
    if (size > this.#limits.maxDirectoryBytes) {
      this.#fail(
        path,
        `is a directory of ${size} bytes (more than ${this.#limits.maxDirectoryBytes})`,
      );
    }
    const offset = extent * this.#blockSize;
    if (offset + size > this.#reader.size) {
      this.#fail(path, "is a directory past the end of the image");
    }
    this.#countMetadata(path, size);
    const bytes = await readExactly(this.#reader, offset, size, `Directory "/${path}"`);
    const names = new Set<string>();
    const subdirectories: { extent: number; size: number; path: string }[] = [];
    /** A multi-extent file whose later parts are still to come (ECMA-119 §6.5.1). */
    let pending:
      | { record: DirectoryRecord; fields?: RockRidgeFields; extents: IsoExtent[] }
      | undefined;

    let at = 0;
    while (at < bytes.byteLength) {
      const length = bytes[at]!;
      if (length === 0) {
        // §6.8.1.1: records do not cross a block; the rest of a block after the last is zero.
        at = (Math.floor(at / this.#blockSize) + 1) * this.#blockSize;
        continue;
      }
      if ((at % this.#blockSize) + length > this.#blockSize || at + length > bytes.byteLength) {
        this.#fail(path, "has a directory record that crosses a block boundary");
      }
      const record = this.#at(path, () => parseDirectoryRecord(bytes, at, length));
      at += length;
      const id = record.identifier;
      if (id.byteLength === 1 && (id[0] === 0 || id[0] === 1)) continue; // "." and ".."
      if (pending) {
        if (!sameBytes(pending.record.identifier, id)) {
          this.#fail(
            join(path, this.#name(pending.record, pending.fields)),
            "is a multi-extent file that ends without its last part",
          );
        }
        pending.extents.push(
          this.#extent(record, join(path, this.#name(pending.record, pending.fields))),
        );
        if (!(record.flags & FLAG_MULTI_EXTENT)) {
          this.#addFile(path, pending.record, pending.fields, pending.extents, names);
          pending = undefined;
        }
        continue;
      }
      if (record.flags & FLAG_ASSOCIATED) continue; // associated files (resource forks) are not copied
      const fields = this.#naming === "rockridge"
        ? await this.#rockRidge(record, join(path, isoName(id)))
        : undefined;
      if (fields?.relocated) continue; // listed at its real place by a CL placeholder
      if (fields?.unsupported) {
        this.#fail(join(path, this.#name(record, fields)), fields.unsupported);
      }
      if (record.flags & FLAG_MULTI_EXTENT) {
        if (record.flags & FLAG_DIRECTORY) {
          this.#fail(join(path, this.#name(record, fields)), "is a multi-extent directory");
        }
        const name = this.#name(record, fields);
        pending = { record, fields, extents: [this.#extent(record, join(path, name))] };
        continue;
      }
      if (fields?.childLink !== undefined) {
        // RRIP §4.1.5.1: a placeholder for a directory relocated to keep ISO 9660's 8 levels.
        const child = join(path, this.#name(record, fields));
        const entryPath = this.#checkName(path, this.#name(record, fields), names);
        const dot = await this.#dotRecord(fields.childLink, child);
        const dotFields = await this.#rockRidge(dot, child);
        this.#addDirectory(entryPath, dot, dotFields, fields.childLink, dot.size, subdirectories);
        continue;
      }
      const name = this.#name(record, fields);
      if (record.flags & FLAG_DIRECTORY) {
        const entryPath = this.#checkName(path, name, names);
        this.#addDirectory(entryPath, record, fields, record.extent, record.size, subdirectories);
        continue;
      }
      const type = fields?.mode === undefined ? S_IFREG : fields.mode & S_IFMT;
      if (fields?.symlink !== undefined || type === S_IFLNK) {
        const entryPath = this.#checkName(path, name, names);
        this.#addSymlink(entryPath, record, fields!);
        continue;
      }
      if (type !== S_IFREG) {
        this.#fail(join(path, name), fileTypeRule(type));
      }
      this.#addFile(path, record, fields, [this.#extent(record, join(path, name))], names);
    }
    if (pending) {
      this.#fail(
        join(path, this.#name(pending.record, pending.fields)),
        "is a multi-extent file that ends without its last part",
      );
    }
    for (const subdirectory of subdirectories) {
      if (depth + 1 > this.#limits.maxDepth) {
        this.#fail(
          subdirectory.path,
          `is nested more than ${this.#limits.maxDepth} directories deep`,
        );
      }
      await this.#walk(subdirectory.extent, subdirectory.size, subdirectory.path);
    }
  }

  /** Counts directory and continuation bytes against their bound (the image size by default). */
  #countMetadata(path: string, bytes: number): void {
    this.#metadataBytes += bytes;
    const limit = this.#limits.maxMetadataBytes ?? this.#reader.size;
    if (this.#metadataBytes > limit) {
      this.#fail(
        path,
        `takes the directories past ${limit} bytes in all (directories or continuation areas that share blocks)`,
      );
    }
  }

  /** Validates a name in directory `path` and returns the entry's path; counts the entry. */
  #checkName(path: string, name: string, names: Set<string>): string {
    const shown = join(path, name);
    if (name === "") this.#fail(join(path, ""), "has an empty name");
    if (name.includes("\0")) this.#fail(shown, "has a NUL byte in its name");
    if (name.includes("/")) this.#fail(shown, 'has a "/" in its name');
    if (name === "." || name === "..") this.#fail(shown, `is named "${name}"`);
    if (names.has(name)) this.#fail(shown, "appears twice in its directory");
    names.add(name);
    // UTF-8 takes at most 3 bytes per UTF-16 unit: most paths need no encoding to be measured.
    if (
      shown.length * 3 > this.#limits.maxPathBytes &&
      encoder.encode(shown).byteLength > this.#limits.maxPathBytes
    ) {
      this.#fail(shown, `has a path longer than ${this.#limits.maxPathBytes} bytes`);
    }
    if (++this.#entryCount > this.#limits.maxEntries) {
      this.#fail(shown, `is beyond the limit of ${this.#limits.maxEntries} entries`);
    }
    return shown;
  }

  #addDirectory(
    path: string,
    record: DirectoryRecord,
    fields: RockRidgeFields | undefined,
    extent: number,
    size: number,
    subdirectories: { extent: number; size: number; path: string }[],
  ): void {
    if (fields?.mode !== undefined && (fields.mode & S_IFMT) !== S_IFDIR) {
      this.#fail(path, "is a directory record whose Rock Ridge mode is not a directory");
    }
    if (this.#directories.has(extent)) {
      this.#fail(path, "is a directory that is already in the tree (a directory loop)");
    }
    this.#directories.add(extent);
    this.#nodes.set(path, { kind: "dir" });
    this.#found.push({ entry: { ...this.#meta(path, record, fields, true), kind: "dir" } });
    subdirectories.push({ extent, size, path });
  }

  #addSymlink(path: string, record: DirectoryRecord, fields: RockRidgeFields): void {
    const target = fields.symlink;
    if (target === undefined || target === "") {
      this.#fail(path, "is a symbolic link without a target");
    }
    this.#nodes.set(path, { kind: "symlink", target });
    this.#found.push({
      entry: { ...this.#meta(path, record, fields, false), kind: "symlink", target },
    });
  }

  #addFile(
    directory: string,
    record: DirectoryRecord,
    fields: RockRidgeFields | undefined,
    extents: IsoExtent[],
    names: Set<string>,
  ): void {
    const path = this.#checkName(directory, this.#name(record, fields), names);
    this.#nodes.set(path, { kind: "file" });
    const content = new IsoFileContent(
      extents.filter((extent) => extent.length > 0),
      this.#reader,
      path,
    );
    this.#found.push({
      entry: { ...this.#meta(path, record, fields, false), kind: "file", content },
      extents: content.extents as IsoExtent[],
    });
  }

  /** Where a record's data is, checked to lie inside the image. */
  #extent(record: DirectoryRecord, path: string): IsoExtent {
    if (record.unitSize !== 0 || record.gapSize !== 0) {
      this.#fail(path, "is an interleaved file, which osimg does not read");
    }
    // §9.1.2/§9.5: an extended attribute record of `xattrBlocks` blocks precedes the data.
    const offset = (record.extent + record.xattrBlocks) * this.#blockSize;
    if (record.size > 0 && offset + record.size > this.#reader.size) {
      this.#fail(
        path,
        `has content past the end of the image (bytes ${offset}..${
          offset + record.size
        } of a ${this.#reader.size}-byte image)`,
      );
    }
    return { offset, length: record.size };
  }

  #finish(
    primary: VolumeInfo,
    descriptors: Uint8Array,
    root: EntryMeta,
  ): IsoImage {
    const directories: IsoEntry[] = [];
    const symlinks: IsoEntry[] = [];
    const files: { entry: IsoFileEntry; key: string; start: number }[] = [];
    for (const found of this.#found) {
      const { entry } = found;
      if (entry.kind === "dir") directories.push(entry);
      else if (entry.kind === "symlink") {
        this.#checkLink(entry.path, entry.target);
        symlinks.push(entry);
      } else if (entry.kind === "file") {
        const extents = found.extents!;
        files.push({
          entry,
          key: extents.length === 0
            ? `empty:${entry.path}`
            : extents.map((extent) => `${extent.offset}+${extent.length}`).join(","),
          start: extents[0]?.offset ?? 0,
        });
      }
    }
    files.sort((a, b) =>
      a.start - b.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
      (a.entry.path < b.entry.path ? -1 : 1)
    );
    // Identical extents are hard links; any other overlap is refused, so no byte of the image
    // is written twice (an image cannot expand into more than its own size).
    const ordered: IsoEntry[] = [];
    const pieces: { offset: number; end: number; path: string }[] = [];
    let totalBytes = 0;
    for (let index = 0; index < files.length;) {
      const first = files[index]!;
      let next = index + 1;
      while (next < files.length && files[next]!.key === first.key) next++;
      ordered.push({ ...first.entry, links: next - index });
      totalBytes += first.entry.content.size;
      for (const extent of first.entry.content.extents) {
        pieces.push({
          offset: extent.offset,
          end: extent.offset + extent.length,
          path: first.entry.path,
        });
      }
      for (let link = index + 1; link < next; link++) {
        const { content: _content, ...meta } = files[link]!.entry;
        ordered.push({ ...meta, kind: "hardlink", target: first.entry.path });
      }
      index = next;
    }
    pieces.sort((a, b) => a.offset - b.offset);
    let reach = { end: 0, path: "" };
    for (const piece of pieces) {
      if (piece.offset < reach.end) {
        this.#fail(
          piece.path,
          `has content that overlaps the content of "/${reach.path}" (at byte ${piece.offset})`,
        );
      }
      if (piece.end > reach.end) reach = piece;
    }
    return {
      volumeId: primary.volumeId,
      systemId: primary.systemId,
      naming: this.#naming,
      descriptors,
      root,
      entries: [...directories, ...symlinks, ...ordered],
      totalBytes,
    };
  }

  /**
   * Refuses a link whose target leaves the tree: absolute, or climbing above the root once the
   * links it passes through are followed as the kernel would (a lexical check alone misses
   * `a -> .` followed by `b -> a/..`).
   */
  #checkLink(path: string, target: string): void {
    const rule = `is a symbolic link to "${target}", which leaves the media`;
    if (target.startsWith("/")) this.#fail(path, rule);
    let hops = 0;
    const resolve = (directory: string[], link: string): string[] | undefined => {
      const current = [...directory];
      for (const part of link.split("/")) {
        if (part === "" || part === ".") continue;
        if (part === "..") {
          if (current.length === 0) return undefined;
          current.pop();
          continue;
        }
        const node = this.#nodes.get([...current, part].join("/"));
        if (node?.kind === "symlink") {
          // The kernel gives up after 40 links (ELOOP): nothing past that can be reached.
          if (++hops > 40) return current;
          if (node.target.startsWith("/")) return undefined;
          const resolved = resolve(current, node.target);
          if (resolved === undefined) return undefined;
          current.splice(0, current.length, ...resolved);
        } else current.push(part);
      }
      return current;
    };
    const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")).split("/") : [];
    if (resolve(parent, target) === undefined) this.#fail(path, rule);
  }
}

const encoder = new TextEncoder();

function join(directory: string, name: string): string {
  return directory === "" ? name : `${directory}/${name}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let index = 0; index < a.byteLength; index++) if (a[index] !== b[index]) return false;
  return true;
}

function fileTypeRule(type: number): string {
  switch (type) {
    case 0o010000:
      return "is a FIFO, which media may not contain";
    case 0o140000:
      return "is a socket, which media may not contain";
    case 0o020000:
    case 0o060000:
      return "is a device node, which media may not contain";
    default:
      return `has an unknown file type (Rock Ridge mode ${type.toString(8)})`;
  }
}
