// Distro media in an ISO image file: the MediaTree seam over osimg's own ISO 9660 decoder, with
// positioned reads on the image and a streaming copy that never writes outside its destination.

import { createHash } from "node:crypto";
import { lutimesSync } from "node:fs";
import { type ExtentCopyFailure, ExtentCopyWorkers } from "./extent_copy_workers.ts";
import { ConflictError, IntegrityError, InvalidInputError } from "../errors.ts";
import type { Progress } from "../progress.ts";
import {
  type IsoEntry,
  type IsoImage,
  type IsoLimits,
  readIso9660,
} from "../../formats/media/iso9660.ts";
import { type RandomAccessReader, readExactly } from "../../formats/media/random_access_reader.ts";
import type { MediaTree } from "./media_tree.ts";

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
  /** The image's path: each copy Worker opens it for itself. */
  readonly #path: string;

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

  /**
   * Directories, links and checks on this thread, file content by one Worker per core (see
   * ExtentCopyWorkers): media holds tens of thousands of small files, and creating them is what
   * the copy's time goes to. Files are handed out in the order of their content in the image, so
   * the image is still read front to back.
   */
  async copyTo(destination: string, progress: Progress): Promise<void> {
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
    const hardlinks: Extract<IsoEntry, { kind: "hardlink" }>[] = [];
    const pool = new ExtentCopyWorkers(this.#path, (bytes) => progress.advance(bytes));
    try {
      for (const entry of this.#image.entries) {
        if (pool.failed) break;
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
            await pool.add({
              path: entry.path,
              host,
              extents: entry.content.extents.flatMap((extent) => [extent.offset, extent.length]),
              mode: entry.mode & SAFE_MODE_BITS,
              mtime: entry.mtime,
            }, entry.content.size);
            break;
          case "hardlink":
            // After the Workers are done: the file it names may not exist yet.
            hardlinks.push(entry);
            break;
        }
      }
      const failure = await pool.finish();
      if (failure) throw this.#copyFailure(failure);
    } finally {
      pool.close();
    }
    for (const link of hardlinks) {
      Deno.linkSync(`${destination}/${link.target}`, `${destination}/${link.path}`);
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

  #copyFailure(failure: ExtentCopyFailure): Error {
    if (failure.cutShort) {
      return new IntegrityError(
        `Cannot copy "${this.source}": the content of "/${failure.path}" is cut short ` +
          `(${failure.message}; the image changed while it was being copied?)`,
      );
    }
    return new ConflictError(
      `Cannot copy "${this.source}"${
        failure.path ? `: cannot write "/${failure.path}"` : ""
      }: ${failure.message}`,
    );
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

  [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#file.close();
    }
    return Promise.resolve();
  }
}
