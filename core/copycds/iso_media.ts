// Distro media in an ISO image file: the MediaTree seam over osimg's own ISO 9660 decoder, with
// positioned reads on the image and a streaming copy that never writes outside its destination.

import { createHash } from "node:crypto";
import { closeSync, fchmodSync, futimesSync, lutimesSync, openSync, writeSync } from "node:fs";
import { kernelCopier } from "../tree/kernel_copy.ts";
import { ConflictError, IntegrityError, InvalidInputError } from "../errors.ts";
import type { Progress } from "../progress.ts";
import {
  type IsoEntry,
  type IsoFileEntry,
  type IsoImage,
  type IsoLimits,
  readIso9660,
} from "../../formats/media/iso9660.ts";
import { type RandomAccessReader, readExactly } from "../../formats/media/random_access_reader.ts";
import type { MediaTree } from "./media_tree.ts";

/** How much of the image one read takes: small files next to each other come in one read. */
const WINDOW_BYTES = 1024 * 1024;

/**
 * Permission bits kept from the media: setuid, setgid and sticky are dropped, so media from
 * elsewhere cannot plant a setuid-root program in the install directory (distro media has none).
 */
export const SAFE_MODE_BITS = 0o777;

export interface OpenIsoMediaOptions {
  /** What the user named, for messages; the path by default. */
  source?: string;
  /** Tighter decoder bounds (tests); the defaults suit any real media. */
  limits?: Partial<IsoLimits>;
}

/**
 * Opens an ISO image file as a MediaTree. The whole directory tree is decoded and checked here,
 * so hostile media is refused (InvalidInputError naming the path and the rule) before anything
 * is copied; file content is read only by `readFile` and `copyTo`.
 *
 * @example
 * ```ts
 * await using media = await openIsoMedia("/srv/rhel-9.2-x86_64-dvd.iso");
 * const discinfo = await media.readFile("/.discinfo", 4096);
 * await media.copyTo("/install/.osimg-staging/1", progress);
 * ```
 */
export async function openIsoMedia(
  path: string,
  options: OpenIsoMediaOptions = {},
): Promise<MediaTree> {
  const source = options.source ?? path;
  const file = await Deno.open(path, { read: true });
  try {
    const info = await file.stat();
    if (!info.isFile) {
      throw new InvalidInputError(`Cannot read ISO image "${source}": it is not a regular file`);
    }
    const reader = fileReader(file, info.size);
    const image = await readIso9660(reader, { source, limits: options.limits });
    return new IsoMedia(source, path, file, reader, image);
  } catch (error) {
    file.close();
    throw error;
  }
}

/**
 * Positioned reads on an open file. Synchronous underneath: the decoder reads one directory at a
 * time and waits for it anyway, and an awaited read costs more than the read itself.
 */
function fileReader(file: Deno.FsFile, size: number): RandomAccessReader {
  return {
    size,
    read(offset, length) {
      try {
        const buffer = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
        if (buffer.byteLength === 0) return Promise.resolve(buffer);
        file.seekSync(offset, Deno.SeekMode.Start);
        const read = file.readSync(buffer);
        return Promise.resolve(buffer.subarray(0, read ?? 0));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

class IsoMedia implements MediaTree {
  readonly source: string;
  readonly totalBytes: number;
  readonly #file: Deno.FsFile;
  readonly #reader: RandomAccessReader;
  readonly #image: IsoImage;
  readonly #byPath: Map<string, IsoEntry>;
  #closed = false;
  /** The image's path and a plain descriptor of it, for copy_file_range. */
  readonly #path: string;
  #imageFd: number | undefined;
  #kernelCopyUnsupported = false;

  constructor(
    source: string,
    path: string,
    file: Deno.FsFile,
    reader: RandomAccessReader,
    image: IsoImage,
  ) {
    this.source = source;
    this.#path = path;
    this.#file = file;
    this.#reader = reader;
    this.#image = image;
    this.totalBytes = image.totalBytes;
    this.#byPath = new Map(image.entries.map((entry) => [entry.path, entry]));
  }

  async readFile(path: string, maxBytes: number): Promise<Uint8Array | undefined> {
    const key = path.split("/").filter((part) => part !== "" && part !== ".").join("/");
    let entry = this.#byPath.get(key);
    if (entry?.kind === "hardlink") entry = this.#byPath.get(entry.target);
    if (entry?.kind !== "file") return undefined;
    if (entry.content.size > maxBytes) {
      throw new InvalidInputError(
        `Cannot read ISO image "${this.source}": "/${key}" is ${entry.content.size} bytes, ` +
          `more than the ${maxBytes} a metadata file may have`,
      );
    }
    const out = new Uint8Array(entry.content.size);
    let at = 0;
    for (const extent of entry.content.extents) {
      out.set(
        await readExactly(this.#reader, extent.offset, extent.length, `"/${key}"`),
        at,
      );
      at += extent.length;
    }
    return out;
  }

  fingerprint(): Promise<string> {
    // The descriptors carry the volume's identity and creation time; the size pins the rest.
    const hash = createHash("sha256");
    hash.update(this.#image.descriptors);
    hash.update(`\0${this.#reader.size}`);
    return Promise.resolve(`iso9660:${hash.digest("hex")}`);
  }

  copyTo(destination: string, progress: Progress): Promise<void> {
    try {
      this.#copy(destination, progress);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Synchronous on purpose: media holds tens of thousands of small files, and each awaited call
   * costs more than the write itself. Files go in the order of their content in the image, read
   * through one window, so the image is read front to back with few, large reads.
   */
  #copy(destination: string, progress: Progress): void {
    const info = Deno.lstatSync(destination);
    if (!info.isDirectory) {
      throw new ConflictError(`Cannot copy "${this.source}": "${destination}" is not a directory`);
    }
    for (const _ of Deno.readDirSync(destination)) {
      throw new ConflictError(`Cannot copy "${this.source}": "${destination}" is not empty`);
    }
    const directories = new Set<string>([""]);
    const created: IsoEntry[] = [];
    const links: Extract<IsoEntry, { kind: "symlink" }>[] = [];
    const window = new ImageWindow(this.#file, this.#reader.size, this.source);
    for (const entry of this.#image.entries) {
      this.#checkPath(entry.path, directories);
      const host = `${destination}/${entry.path}`;
      switch (entry.kind) {
        case "dir":
          // 0700 until the end: the media's own mode (often 0555) would stop us filling it.
          Deno.mkdirSync(host, { mode: 0o700 });
          directories.add(entry.path);
          created.push(entry);
          break;
        case "symlink":
          // Made after every file and directory, so no write can ever pass through one.
          links.push(entry);
          break;
        case "file":
          progress.label(entry.path);
          this.#copyFile(window, entry, host);
          progress.advance(entry.content.size);
          break;
        case "hardlink":
          Deno.linkSync(`${destination}/${entry.target}`, host);
          break;
      }
    }
    for (const link of links) {
      Deno.symlinkSync(link.target, `${destination}/${link.path}`);
      lutimesSync(`${destination}/${link.path}`, link.mtime, link.mtime);
    }
    // Deepest first, so finishing a child does not move its parent's time again.
    created.sort((a, b) => b.path.length - a.path.length);
    for (const directory of created) {
      Deno.chmodSync(`${destination}/${directory.path}`, directory.mode & SAFE_MODE_BITS);
      Deno.utimeSync(`${destination}/${directory.path}`, directory.mtime, directory.mtime);
    }
    Deno.chmodSync(destination, this.#image.root.mode & SAFE_MODE_BITS);
    Deno.utimeSync(destination, this.#image.root.mtime, this.#image.root.mtime);
  }

  /**
   * The decoder already refused bad names; this re-checks at the point of writing that each path
   * is plain and that its parent is a directory this copy made (never a link or a file).
   */
  #checkPath(path: string, directories: Set<string>): void {
    const parts = path.split("/");
    const parent = parts.slice(0, -1).join("/");
    if (
      parts.some((part) => part === "" || part === "." || part === ".." || part.includes("\0")) ||
      !directories.has(parent)
    ) {
      throw new IntegrityError(
        `Cannot copy "${this.source}": "/${path}" would be written outside a directory of the media`,
      );
    }
  }

  /** In-kernel copy of one extent; false when the kernel cannot do it for these files. */
  #kernelCopy(offset: number, out: number, length: number, path: string): boolean {
    if (this.#kernelCopyUnsupported || length === 0) return false;
    const copy = kernelCopier();
    this.#imageFd ??= openSync(this.#path, "r");
    try {
      if (copy?.(this.#imageFd, offset, out, length)) return true;
    } catch (error) {
      throw new IntegrityError(
        `Cannot copy "${this.source}": the content of "/${path}" is cut short ` +
          `(${(error as Error).message}; the image changed while it was being copied?)`,
      );
    }
    this.#kernelCopyUnsupported = true;
    return false;
  }

  #copyFile(window: ImageWindow, entry: IsoFileEntry, host: string): void {
    // "wx" (O_EXCL): never lands on, or follows, anything already there. Mode and times are set
    // through the open descriptor: path-based chmod and utime cost a third of the copy's time
    // on media of many small files (two more path lookups each).
    const out = openSync(host, "wx", 0o600);
    try {
      for (const extent of entry.content.extents) {
        if (!this.#kernelCopy(extent.offset, out, extent.length, entry.path)) {
          window.copy(extent.offset, extent.length, out, entry.path);
        }
      }
      fchmodSync(out, entry.mode & SAFE_MODE_BITS);
      futimesSync(out, entry.mtime, entry.mtime);
    } finally {
      closeSync(out);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#file.close();
      if (this.#imageFd !== undefined) closeSync(this.#imageFd);
    }
    return Promise.resolve();
  }
}

/** A sliding window over the image: one large read serves many small files that follow. */
class ImageWindow {
  readonly #buffer = new Uint8Array(WINDOW_BYTES);
  #start = 0;
  #length = 0;
  /** Where the file's position is, so a seek is made only when reading jumps. */
  #position = -1;

  constructor(
    readonly file: Deno.FsFile,
    readonly size: number,
    readonly source: string,
  ) {}

  copy(offset: number, length: number, out: number, path: string): void {
    let at = offset;
    const end = offset + length;
    while (at < end) {
      if (at < this.#start || at >= this.#start + this.#length) this.#fill(at, path);
      const from = at - this.#start;
      const take = Math.min(end - at, this.#length - from);
      const piece = this.#buffer.subarray(from, from + take);
      let written = 0;
      while (written < take) written += writeSync(out, piece, written, take - written);
      at += take;
    }
  }

  #fill(at: number, path: string): void {
    if (this.#position !== at) this.file.seekSync(at, Deno.SeekMode.Start);
    const want = Math.min(WINDOW_BYTES, this.size - at);
    let filled = 0;
    while (filled < want) {
      const read = this.file.readSync(this.#buffer.subarray(filled, want));
      if (read === null || read === 0) break;
      filled += read;
    }
    this.#position = at + filled;
    this.#start = at;
    this.#length = filled;
    if (filled === 0) {
      throw new IntegrityError(
        `Cannot copy "${this.source}": the content of "/${path}" is cut short at byte ${at} ` +
          `(the image changed while it was being copied?)`,
      );
    }
  }
}
