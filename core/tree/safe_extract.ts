// The extraction policy for archives from elsewhere: which members are refused, and how the rest are written without ever leaving the destination.

import { createHash } from "node:crypto";
import { lchown, lutimes } from "node:fs/promises";
import { posix } from "node:path";
import { assertNever, type Entry } from "../../formats/archive/entry.ts";
import { IntegrityError } from "../errors.ts";
import type { Sha256Worker } from "./sha256_worker.ts";
import type { ProcessRunner } from "../process.ts";

/**
 * What kind of archive is being read:
 * - `bundle`: an image bundle. Devices and FIFOs are refused, every link must stay inside the
 *   member's top-level (image) directory, setuid/setgid/sticky bits are dropped.
 * - `rootimage`: a node's root tree (a statelite rootimgtree). Devices, FIFOs and absolute or
 *   climbing symlinks belong there and are kept verbatim; they are never followed while writing.
 */
export type ExtractPolicy = "bundle" | "rootimage";

/**
 * A member the policy refuses. The message names the member and the rule; `prefix` is the
 * action (`Cannot import bundle "x.tgz"`), so the user reads one complete line.
 */
export class UnsafeMemberError extends IntegrityError {
  readonly member: string;
  readonly rule: string;

  constructor(prefix: string, member: string, rule: string) {
    super(`${prefix}: member "${member}" ${rule}`);
    this.member = member;
    this.rule = rule;
  }
}

/** Rule texts, shared by the checks, the tests and `verify`'s report. */
export const RULES = {
  absolute: "has an absolute path",
  climbs: "leaves the image directory",
  nul: "has a NUL byte in its name",
  device: "is a device node, which a bundle may not contain",
  fifo: "is a FIFO, which a bundle may not contain",
  duplicate: "appears twice in the archive",
  outsideImage: "lies outside any image directory",
  symlinkEscape: (target: string) =>
    `is a symbolic link to "${target}", which leaves the image directory`,
  hardlinkEscape: (target: string) =>
    `is a hard link to "${target}", which leaves the image directory`,
  hardlinkDangling: (target: string) =>
    `is a hard link to "${target}", which is not an earlier file of the archive`,
  underLink: (parent: string) => `lies under the symbolic link "${parent}"`,
  underFile: (parent: string) => `lies under "${parent}", which is not a directory`,
  oversize: (size: number) => `is larger than its declared size of ${size} bytes`,
  undersize: (size: number, got: number) =>
    `is shorter than its declared size of ${size} bytes (${got} bytes)`,
} as const;

/**
 * The member name as a clean relative path ("./a//b/" -> "a/b"), or "" for the archive root
 * ("./"). Absolute names, `..` components and NUL bytes are refused: GNU tar would strip a
 * leading "/" and follow "..", which is exactly what a hostile bundle relies on.
 */
export function normalizeMemberName(prefix: string, raw: string): string {
  if (raw.includes("\0")) throw new UnsafeMemberError(prefix, raw, RULES.nul);
  if (raw.startsWith("/")) throw new UnsafeMemberError(prefix, raw, RULES.absolute);
  const parts = raw.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) throw new UnsafeMemberError(prefix, raw, RULES.climbs);
  return parts.join("/");
}

/** The kinds the policy remembers for each path it let through. */
type SeenKind = "file" | "dir" | "symlink" | "other";

/**
 * The stateful member check, without I/O: names normalized, kinds allowed by the policy, links
 * resolved against what came before. `verify` runs it alone; `extractEntries` runs it before
 * every write.
 */
export class MemberPolicy {
  readonly #seen = new Map<string, SeenKind>();
  readonly #policy: ExtractPolicy;
  readonly #prefix: string;

  constructor(policy: ExtractPolicy, prefix: string) {
    this.#policy = policy;
    this.#prefix = prefix;
  }

  /** The kind recorded for `path`, if the archive held it. */
  kindOf(path: string): SeenKind | undefined {
    return this.#seen.get(path);
  }

  #refuse(member: string, rule: string): never {
    throw new UnsafeMemberError(this.#prefix, member, rule);
  }

  /**
   * Checks one entry and returns it with its normalized path (and, for hard links, normalized
   * target), or undefined for the archive root itself. Throws UnsafeMemberError.
   */
  check(entry: Entry): Entry | undefined {
    const path = normalizeMemberName(this.#prefix, entry.path);
    if (path === "") {
      if (entry.kind !== "dir") this.#refuse(entry.path, RULES.outsideImage);
      return undefined;
    }
    if (this.#policy === "bundle" && entry.kind !== "dir" && !path.includes("/")) {
      // A stray top-level file: xCAT's glob would take it for an image directory and stop.
      this.#refuse(entry.path, RULES.outsideImage);
    }
    const existing = this.#seen.get(path);
    if (existing !== undefined && !(existing === "dir" && entry.kind === "dir")) {
      this.#refuse(entry.path, RULES.duplicate);
    }
    const segments = path.split("/");
    for (let index = 1; index < segments.length; index++) {
      const parent = segments.slice(0, index).join("/");
      const kind = this.#seen.get(parent);
      if (kind === "symlink") this.#refuse(entry.path, RULES.underLink(parent));
      if (kind !== undefined && kind !== "dir") this.#refuse(entry.path, RULES.underFile(parent));
    }
    // Parents the archive did not list are directories from now on: a later member of another
    // kind with that name is a duplicate.
    for (let index = 1; index < segments.length; index++) {
      const parent = segments.slice(0, index).join("/");
      if (!this.#seen.has(parent)) this.#seen.set(parent, "dir");
    }
    const top = segments[0]!;
    let checked: Entry;
    switch (entry.kind) {
      case "file":
        checked = { ...entry, path };
        this.#seen.set(path, "file");
        break;
      case "dir":
        checked = { ...entry, path };
        this.#seen.set(path, "dir");
        break;
      case "symlink": {
        if (this.#policy === "bundle") {
          if (entry.target.startsWith("/") || entry.target === "") {
            this.#refuse(entry.path, RULES.symlinkEscape(entry.target));
          }
          const resolved = posix.normalize(posix.join(posix.dirname(path), entry.target));
          if (resolved !== top && !resolved.startsWith(`${top}/`)) {
            this.#refuse(entry.path, RULES.symlinkEscape(entry.target));
          }
        }
        checked = { ...entry, path };
        this.#seen.set(path, "symlink");
        break;
      }
      case "hardlink": {
        let target: string;
        try {
          target = normalizeMemberName(this.#prefix, entry.target);
        } catch {
          this.#refuse(entry.path, RULES.hardlinkEscape(entry.target));
        }
        if (this.#policy === "bundle" && target !== top && !target.startsWith(`${top}/`)) {
          this.#refuse(entry.path, RULES.hardlinkEscape(entry.target));
        }
        // Only a regular file extracted earlier may get a second name: anything else would let
        // the link reach a file the archive did not create.
        if (this.#seen.get(target) !== "file") {
          this.#refuse(entry.path, RULES.hardlinkDangling(entry.target));
        }
        checked = { ...entry, path, target };
        this.#seen.set(path, "file");
        break;
      }
      case "chardev":
      case "blockdev":
        if (this.#policy === "bundle") this.#refuse(entry.path, RULES.device);
        checked = { ...entry, path };
        this.#seen.set(path, "other");
        break;
      case "fifo":
        if (this.#policy === "bundle") this.#refuse(entry.path, RULES.fifo);
        checked = { ...entry, path };
        this.#seen.set(path, "other");
        break;
      default:
        return assertNever(entry);
    }
    return checked;
  }
}

/** What a file's bytes were, as written. */
export interface FileDigest {
  size: number;
  /** Lower-case hex SHA-256. */
  sha256: string;
}

/** A file's digest that a Worker may still be computing. */
export interface PendingDigest {
  size: number;
  sha256: Promise<string>;
}

/** Files at least this large are hashed by the Worker when one is given; smaller ones here. */
const OFFLOAD_MIN_BYTES = 1024 * 1024;

/**
 * Reads a file member's content exactly: more bytes than declared is an oversize member, fewer
 * a truncated one. Calls `onChunk` for every chunk and returns size and SHA-256 — computed by
 * `hasher`'s Worker for large files when one is given, so hashing overlaps this thread's work.
 */
export async function consumeContent(
  prefix: string,
  entry: Extract<Entry, { kind: "file" }>,
  onChunk: (chunk: Uint8Array) => Promise<void> | void,
  hasher?: Sha256Worker,
): Promise<PendingDigest> {
  const declared = entry.content.size;
  const offloaded = hasher !== undefined && declared >= OFFLOAD_MIN_BYTES
    ? hasher.stream()
    : undefined;
  const hash = offloaded ? undefined : createHash("sha256");
  let size = 0;
  for await (const chunk of entry.content.open()) {
    size += chunk.byteLength;
    if (size > declared) throw new UnsafeMemberError(prefix, entry.path, RULES.oversize(declared));
    if (offloaded) {
      offloaded.update(chunk);
      await hasher!.ready();
    } else hash!.update(chunk);
    await onChunk(chunk);
  }
  if (size < declared) {
    throw new UnsafeMemberError(prefix, entry.path, RULES.undersize(declared, size));
  }
  const sha256 = offloaded ? offloaded.digest() : Promise.resolve(hash!.digest("hex"));
  // Observed at once: a Worker failure surfaces where the digest is awaited, never unhandled.
  sha256.catch(() => {});
  return { size, sha256 };
}

/**
 * Hands out file digests in the order the files were read, as soon as each is known: the
 * callbacks see the same sequence whether a digest was computed here or by a Worker.
 */
export class OrderedDigests {
  readonly #queue: { path: string; digest: Promise<FileDigest>; value?: FileDigest }[] = [];
  readonly #deliver: (path: string, digest: FileDigest) => Promise<void> | void;

  constructor(deliver: (path: string, digest: FileDigest) => Promise<void> | void) {
    this.#deliver = deliver;
  }

  /** Queues one file; returns its digest's promise (for hard links to the same content). */
  add(path: string, pending: PendingDigest | Promise<FileDigest>): Promise<FileDigest> {
    const digest = "sha256" in pending
      ? pending.sha256.then((sha256) => ({ size: pending.size, sha256 }))
      : pending;
    const item: { path: string; digest: Promise<FileDigest>; value?: FileDigest } = {
      path,
      digest,
    };
    digest.then((value) => item.value = value, () => {});
    this.#queue.push(item);
    return digest;
  }

  /** Delivers the files at the head of the queue whose digests are known. */
  async deliverReady(): Promise<void> {
    while (this.#queue[0]?.value !== undefined) {
      const item = this.#queue.shift()!;
      await this.#deliver(item.path, item.value!);
    }
  }

  /** Waits for every digest and delivers them all, in order. */
  async deliverAll(): Promise<void> {
    while (this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      await this.#deliver(item.path, await item.digest);
    }
  }
}

/**
 * How to extract: the policy, and for root images the runner that creates device nodes and FIFOs
 * (a bundle refuses them, so it needs none).
 */
export type ExtractOptions =
  & CommonExtractOptions
  & ({ policy: "bundle"; runner?: undefined } | { policy: "rootimage"; runner: ProcessRunner });

interface CommonExtractOptions {
  policy: ExtractPolicy;
  /** The action, for messages: `Cannot import bundle "x.tgz"`. */
  prefix: string;
  /** Set owners from the archive (only meaningful as root; rootimage trees). */
  keepOwners?: boolean;
  /**
   * Called for each regular file written, with its digest (SHA256SUMS checks), in archive
   * order; with `hasher` possibly a few files later than the file was written.
   */
  onFile?: (path: string, digest: FileDigest) => Promise<void> | void;
  /** Hashes large files in a Worker while this thread writes. */
  hasher?: Sha256Worker;
  /** Called before each entry is written (progress, bundle bookkeeping). */
  onEntry?: (entry: Entry) => Promise<void> | void;
  /**
   * Called for each regular file before its content is written; the observer returned sees
   * every chunk before it is written and the end of the file (member format checks).
   */
  onContent?: (entry: Extract<Entry, { kind: "file" }>) => ContentObserver | undefined;
}

/** Sees a file's content as it streams; a throw stops the extraction. */
export interface ContentObserver {
  chunk(bytes: Uint8Array): Promise<void> | void;
  end(): Promise<void> | void;
}

/** What one extraction wrote. */
export interface ExtractResult {
  /** Regular files (hard links included) by normalized path. */
  files: Map<string, FileDigest>;
  entries: number;
  bytes: number;
}

/**
 * Writes `entries` under `destination` (an empty directory the caller owns), refusing what the
 * policy refuses. Files are created with O_EXCL, so a name can never land on an existing path or
 * follow a symlink; directories get their final modes and times only at the end, so a read-only
 * directory in the archive cannot block its own contents.
 *
 * @example
 * ```ts
 * await extractEntries(readTar(decompress(chunks)), "/install/.osimg-staging/1/tree", {
 *   policy: "bundle",
 *   prefix: 'Cannot import bundle "x.tgz"',
 * });
 * ```
 */
export async function extractEntries(
  entries: AsyncIterable<Entry> | Iterable<Entry>,
  destination: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const policy = new MemberPolicy(options.policy, options.prefix);
  const files = new Map<string, FileDigest>();
  const digests = new Map<string, Promise<FileDigest>>();
  const ordered = new OrderedDigests(async (path, digest) => {
    files.set(path, digest);
    await options.onFile?.(path, digest);
  });
  const directories: { path: string; mode: number; mtime: number; uid: number; gid: number }[] = [];
  const ensured = new Set<string>([""]);
  const keepOwners = options.keepOwners === true && Deno.uid() === 0;
  const modeMask = options.policy === "bundle" ? 0o777 : 0o7777;
  let count = 0;
  let bytes = 0;

  const ensureParents = async (path: string) => {
    const parent = posix.dirname(path);
    if (parent === "." || ensured.has(parent)) return;
    await Deno.mkdir(`${destination}/${parent}`, { recursive: true, mode: 0o755 });
    let walk = parent;
    while (walk !== "." && !ensured.has(walk)) {
      ensured.add(walk);
      walk = posix.dirname(walk);
    }
  };
  const setOwner = async (host: string, entry: Entry) => {
    if (keepOwners) await lchown(host, entry.uid, entry.gid);
  };

  for await (const raw of entries) {
    const entry = policy.check(raw);
    if (!entry) continue;
    await options.onEntry?.(entry);
    count++;
    const host = `${destination}/${entry.path}`;
    await ensureParents(entry.path);
    switch (entry.kind) {
      case "dir":
        if (!ensured.has(entry.path)) {
          // 0700 until the end: the archive's own mode might deny us writing its contents.
          await Deno.mkdir(host, { mode: 0o700 }).catch((error) => {
            if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
          });
          ensured.add(entry.path);
        }
        directories.push({
          path: host,
          mode: entry.mode & modeMask,
          mtime: entry.mtime,
          uid: entry.uid,
          gid: entry.gid,
        });
        break;
      case "file": {
        // Synchronous file calls: a bundle holds thousands of small files, and each awaited
        // call costs more than the write itself (measured on 20,000 files).
        const file = Deno.openSync(host, { write: true, createNew: true, mode: 0o600 });
        const observer = options.onContent?.(entry);
        let pending: PendingDigest;
        try {
          const write = (chunk: Uint8Array) => {
            let offset = 0;
            while (offset < chunk.byteLength) offset += file.writeSync(chunk.subarray(offset));
          };
          pending = await consumeContent(
            options.prefix,
            entry,
            observer
              ? async (chunk) => {
                await observer.chunk(chunk);
                write(chunk);
              }
              : write,
            options.hasher,
          );
          await observer?.end();
        } finally {
          file.close();
        }
        bytes += pending.size;
        await setOwner(host, entry);
        // chmod after chown: chown clears setuid/setgid bits.
        Deno.chmodSync(host, entry.mode & modeMask);
        Deno.utimeSync(host, entry.mtime, entry.mtime);
        digests.set(entry.path, ordered.add(entry.path, pending));
        break;
      }
      case "hardlink": {
        await Deno.link(`${destination}/${entry.target}`, host);
        digests.set(entry.path, ordered.add(entry.path, digests.get(entry.target)!));
        break;
      }
      case "symlink":
        await Deno.symlink(entry.target, host);
        await setOwner(host, entry);
        await lutimes(host, entry.mtime, entry.mtime);
        break;
      case "chardev":
      case "blockdev":
      case "fifo":
        // The bundle policy refused this entry above, so only a root image gets here.
        await makeNode(options.runner!, host, entry);
        await setOwner(host, entry);
        await Deno.chmod(host, entry.mode & modeMask);
        await Deno.utime(host, entry.mtime, entry.mtime);
        break;
      default:
        assertNever(entry);
    }
    await ordered.deliverReady();
  }
  await ordered.deliverAll();
  // Deepest first, so setting a parent's time is not undone by finishing its children.
  directories.sort((a, b) => b.path.length - a.path.length);
  for (const dir of directories) {
    if (keepOwners) await lchown(dir.path, dir.uid, dir.gid);
    await Deno.chmod(dir.path, dir.mode);
    await Deno.utime(dir.path, dir.mtime, dir.mtime);
  }
  return { files, entries: count, bytes };
}

async function makeNode(
  runner: ProcessRunner,
  host: string,
  entry: Extract<Entry, { kind: "chardev" | "blockdev" | "fifo" }>,
): Promise<void> {
  // Deno has no mknod; coreutils' does the one syscall, and a root image holds only a handful.
  const argv = entry.kind === "fifo" ? ["mknod", host, "p"] : [
    "mknod",
    host,
    entry.kind === "chardev" ? "c" : "b",
    String(entry.devmajor),
    String(entry.devminor),
  ];
  await runner.run(argv);
}
