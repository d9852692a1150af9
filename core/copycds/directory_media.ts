// An unpacked media folder as a MediaTree: listed once, refused if it holds what a disc cannot.

import { createHash } from "node:crypto";
import { posix } from "node:path";
import { lutimes } from "node:fs/promises";
import type { Entry } from "../../formats/archive/entry.ts";
import { assertNever } from "../../formats/archive/entry.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { Progress } from "../progress.ts";
import { walkTree } from "../tree/walk.ts";
import type { MediaTree } from "./media_tree.ts";

/** A media entry copycds copies: what a disc can hold. */
type MediaEntry = Extract<Entry, { kind: "file" | "dir" | "symlink" | "hardlink" }>;

/**
 * Why a symlink at `path` (relative to the media root) with `target` would lead out of the
 * media, or undefined: an absolute target, or one whose `..` parts climb above the root.
 */
export function escapingLinkProblem(path: string, target: string): string | undefined {
  if (target.startsWith("/")) return "it is an absolute link";
  if (target.includes("\0")) return "its target contains a NUL byte";
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === ".." || resolved.startsWith("../")) return "it points outside the media";
  return undefined;
}

/** The media's file information, or xCAT's error for media that is not there. */
export async function statMedia(path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `The management server was unable to find/read ${path}. Ensure that file exists on the server at the specified location.`,
      );
    }
    throw error;
  }
}

/**
 * Opens the media folder `path` (an unpacked or loop-mounted disc): walks it once, refusing,
 * with an InvalidInputError naming the path and the rule, a device node, FIFO or socket, an
 * unreadable directory, and a symbolic link that points outside the folder; a disc holds none
 * of these, and copying them into the install tree would give the web server a way out of it.
 *
 * @example
 * ```ts
 * await using media = await openDirectoryMedia("/mnt/rhel-9.2");
 * const discinfo = await media.readFile("/.discinfo", 4096);
 * ```
 */
export async function openDirectoryMedia(path: string): Promise<MediaTree> {
  const info = await statMedia(path);
  if (!info.isDirectory) throw new InvalidInputError(`'${path}' is not a directory.`);
  const refuse = (member: string, rule: string) =>
    new InvalidInputError(`Cannot copy the media '${path}': '${member}' ${rule}.`);
  const entries: MediaEntry[] = [];
  const files = new Map<string, MediaEntry>();
  let totalBytes = 0;
  const walk = walkTree(path, {
    xattrs: false,
    // A disc mounted inside the folder is part of what the user named.
    oneFileSystem: false,
    onSkip(member, reason) {
      throw refuse(member, `cannot be copied (${reason})`);
    },
  });
  for await (const entry of walk) {
    switch (entry.kind) {
      case "file":
        totalBytes += entry.content.size;
        break;
      case "dir":
      case "hardlink":
        break;
      case "symlink": {
        const problem = escapingLinkProblem(entry.path, entry.target);
        if (problem) {
          throw refuse(entry.path, `is a symbolic link to '${entry.target}': ${problem}`);
        }
        break;
      }
      case "chardev":
      case "blockdev":
      case "fifo":
        throw refuse(
          entry.path,
          `is a ${
            entry.kind === "fifo" ? "FIFO" : "device node"
          }; media holds only files, directories and links`,
        );
      default:
        assertNever(entry);
    }
    entries.push(entry);
    files.set(entry.path, entry);
  }
  const source = path;
  return {
    source,
    totalBytes,
    async readFile(mediaPath: string, maxBytes: number): Promise<Uint8Array | undefined> {
      const relative = posix.normalize(mediaPath).replace(/^\/+/, "");
      const entry = files.get(relative);
      if (!entry || entry.kind !== "file") return undefined;
      if (entry.content.size > maxBytes) {
        throw new InvalidInputError(
          `Cannot read the media '${source}': '${relative}' is ${entry.content.size} bytes, more than the ${maxBytes} a metadata file may have.`,
        );
      }
      const chunks: Uint8Array[] = [];
      for await (const chunk of entry.content.open()) chunks.push(chunk);
      const bytes = new Uint8Array(entry.content.size);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return bytes;
    },
    copyTo(destination: string, progress: Progress): Promise<void> {
      return copyEntries(entries, destination, progress);
    },
    fingerprint(): Promise<string> {
      // The sorted listing, not the bytes: reading a 10 GB disc twice to recognise it would
      // cost what copying it does. Size and mtime change when a file's content is replaced.
      const hash = createHash("sha256");
      for (const entry of entries) {
        const size = entry.kind === "file" ? entry.content.size : 0;
        const target = entry.kind === "symlink" || entry.kind === "hardlink" ? entry.target : "";
        hash.update(
          `${entry.kind}\0${entry.path}\0${size}\0${entry.mtime}\0${entry.mode}\0${target}\n`,
        );
      }
      return Promise.resolve(`directory-sha256:${hash.digest("hex")}`);
    },
    async [Symbol.asyncDispose]() {},
  };
}

/**
 * Writes the listed entries under `destination` in walk order (a directory before what is in
 * it): file contents streamed, hard links linked to the first name, symlinks as they are; then
 * modes and mtimes, directories last and deepest first, so that a read-only directory does not
 * stop its own contents from being written and writing does not change the times set.
 */
async function copyEntries(
  entries: readonly MediaEntry[],
  destination: string,
  progress: Progress,
): Promise<void> {
  const directories: MediaEntry[] = [];
  for (const entry of entries) {
    const target = entry.path === "." ? destination : posix.join(destination, entry.path);
    progress.label(entry.path);
    switch (entry.kind) {
      case "dir":
        if (entry.path !== ".") await Deno.mkdir(target, { mode: 0o700 });
        directories.push(entry);
        break;
      case "file": {
        const file = await Deno.open(target, { write: true, createNew: true, mode: 0o600 });
        try {
          for await (const chunk of entry.content.open()) {
            let offset = 0;
            while (offset < chunk.byteLength) offset += await file.write(chunk.subarray(offset));
            progress.advance(chunk.byteLength);
          }
        } finally {
          file.close();
        }
        await Deno.chmod(target, entry.mode);
        await Deno.utime(target, entry.mtime, entry.mtime);
        break;
      }
      case "hardlink":
        await Deno.link(posix.join(destination, entry.target), target);
        break;
      case "symlink":
        await Deno.symlink(entry.target, target);
        await lutimes(target, entry.mtime, entry.mtime);
        break;
      default:
        assertNever(entry);
    }
  }
  for (const entry of directories.reverse()) {
    const target = entry.path === "." ? destination : posix.join(destination, entry.path);
    await Deno.chmod(target, entry.mode);
    await Deno.utime(target, entry.mtime, entry.mtime);
  }
}
