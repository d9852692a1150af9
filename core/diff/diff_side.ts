// One side of a diff: which thing an argument names (bundle file, snapshot, osimage) and its summary, read in one streaming pass.

import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { Context } from "../context.ts";
import { IntegrityError, InvalidInputError, NotFoundError } from "../errors.ts";
import type { Entry } from "../../formats/archive/entry.ts";
import { readTar } from "../../formats/archive/tar.ts";
import { readCpio } from "../../formats/archive/cpio_newc.ts";
import { concatBytes } from "../../formats/bytes.ts";
import { parseManifest } from "../../formats/xcat/manifest_xml.ts";
import { parseSha256Sums } from "../../formats/xcat/sha256sums.ts";
import { decompress } from "../compress/compress.ts";
import { memberFormat } from "../bundle/bundle_member_format.ts";
import { planExport } from "../bundle/bundle_export.ts";
import { blobPath, findSnapshot, snapshotStore } from "../image/snapshot.ts";
import { findObjectType } from "../definitions/object_types.ts";
import { MANIFEST_COLUMNS } from "../store/schema.ts";
import { withoutLines } from "../reporter.ts";
import { fileChunks } from "../tree/files.ts";
import { MemberPolicy } from "../tree/safe_extract.ts";
import { Sha256Worker } from "../tree/sha256_worker.ts";
import { walkTree } from "../tree/walk.ts";
import {
  type Carries,
  PathSummarizer,
  type PathSummary,
  summarizeEntries,
} from "./path_summary.ts";
import { summarizeSquashfs } from "./squashfs_summary.ts";

export type SideKind = "image" | "bundle" | "snapshot";

/** What an argument names. */
export type SideSource =
  | { kind: "image"; argument: string; image: string }
  | { kind: "bundle"; argument: string; hostPath: string }
  | { kind: "snapshot"; argument: string; image: string; selector: string };

/** A packed root image or the unpacked root tree: paths inside it, and what its format records. */
export interface RootArea {
  /** The member's name (rootimg.cpio.gz, rootimg.sfs...); "rootimg" for the tree. */
  name: string;
  paths: Map<string, PathSummary>;
  carries: Carries;
}

/** Everything diff compares of one side. */
export interface SideSummary {
  argument: string;
  kind: SideKind;
  /** The osimage's attributes as lsdef names them (osimage and linuximage rows), set ones only. */
  attributes: Record<string, string>;
  /**
   * The image directory's other files as a bundle names them (kernel, initrd-stateless.gz,
   * compute.pkglist, litefile.csv, extra/...), compared by content and mode.
   */
  files: Map<string, PathSummary>;
  /** Packed root images, compared by what they hold. */
  packed: RootArea[];
  /** The unpacked root tree: the image's rootimg/, a snapshot's rootimgtree.gz. */
  tree?: RootArea;
}

const MANIFEST = "manifest.xml";
const SUMS = "SHA256SUMS";
const ROOT_TREE_MEMBER = "rootimgtree.gz";
/** A manifest or SHA256SUMS larger than this is not one xCAT or osimg wrote. */
const MAX_SMALL_MEMBER = 16 * 1024 * 1024;
/**
 * A bundle's top-level members are root-owned and carry no xattrs by construction, so an
 * image's files are compared with them by content and mode only.
 */
export const TOP_LEVEL_CARRIES: Carries = { owner: false, xattrs: false, hardlinks: true };
const TREE_CARRIES: Carries = { owner: true, xattrs: true, hardlinks: true };

/**
 * What `argument` names, in this order: an existing file (a bundle); a path with a "/" that does
 * not exist (an error); a defined osimage of that exact name; `<image>@<id or digest>` (a
 * snapshot); else an osimage name (which fails as lsdef does when it is not defined).
 */
export async function resolveSide(ctx: Context, argument: string): Promise<SideSource> {
  if (argument === "") throw new InvalidInputError("diff: an empty argument names nothing");
  const hostPath = posix.resolve(ctx.cwd, argument);
  const info = await Deno.stat(hostPath).catch(() => undefined);
  if (info?.isFile) return { kind: "bundle", argument, hostPath };
  if (info?.isDirectory) {
    throw new InvalidInputError(
      `Cannot diff '${argument}': it is a directory; give a bundle file, an osimage or <osimage>@<snapshot id>`,
    );
  }
  if (argument.includes("/")) {
    throw new NotFoundError(`Cannot diff '${argument}': there is no such bundle file`);
  }
  const snapshot = /^(.+)@([^@]+)$/.exec(argument);
  if (snapshot) {
    const store = await ctx.store();
    const defined = await store.read(async (reader) =>
      (await reader.rows("osimage", { imagename: argument })).length > 0
    );
    if (!defined) {
      return { kind: "snapshot", argument, image: snapshot[1]!, selector: snapshot[2]! };
    }
  }
  return { kind: "image", argument, image: argument };
}

/** The osimage attributes of two rows, as lsdef lists them (empty values left out). */
export function attributesOf(
  osimage: Readonly<Record<string, string>>,
  linuximage: Readonly<Record<string, string>>,
): Record<string, string> {
  const rows: Record<string, Readonly<Record<string, string>>> = { osimage, linuximage };
  const attributes: Record<string, string> = {};
  for (const attribute of findObjectType("osimage")!.attributes) {
    const value = rows[attribute.table]?.[attribute.column];
    if (value !== undefined && value !== "") attributes[attribute.name] = value;
  }
  return attributes;
}

/** Reads one side whole (streaming, nothing extracted) into its summary. */
export async function summarizeSide(ctx: Context, source: SideSource): Promise<SideSummary> {
  switch (source.kind) {
    case "image":
      return await summarizeImage(ctx, source);
    case "bundle":
      return await summarizeBundle(ctx, source.argument, source.hostPath, "bundle");
    case "snapshot": {
      const record = await findSnapshot(ctx, source.image, source.selector);
      const path = blobPath(await snapshotStore(ctx), record.digest);
      return await summarizeBundle(ctx, source.argument, path, "snapshot", {
        digest: record.digest,
        what: `Snapshot ${record.id} of '${record.image}'`,
      });
    }
  }
}

/**
 * Routes the members of one image directory (a bundle's, or the files an image's export would
 * carry) to their summaries: packed roots and the root tree are read inside, other files hashed.
 */
class MemberRouter {
  readonly files: PathSummarizer;
  readonly packed: RootArea[] = [];
  tree?: RootArea;
  /** Each file member's SHA-256 as stored (for SHA256SUMS). */
  readonly digests = new Map<string, string>();
  readonly #ctx: Context;
  readonly #hasher: Sha256Worker;
  readonly #label: string;
  readonly #verify: boolean;
  #temporary?: string;

  /** `verify`: record every member's digest (a bundle's, for SHA256SUMS). */
  constructor(ctx: Context, hasher: Sha256Worker, label: string, verify: boolean) {
    this.#ctx = ctx;
    this.#hasher = hasher;
    this.#label = label;
    this.#verify = verify;
    this.files = new PathSummarizer({ hasher });
  }

  /**
   * One member, its path relative to the image directory. `hostPath` is where an image's file
   * lies (a squashfs image is read there); a bundle's is copied to a temporary file first, since
   * unsquashfs must seek.
   */
  async add(entry: Entry, hostPath?: string): Promise<void> {
    const name = entry.path;
    const format = name.includes("/") ? undefined : memberFormat(name);
    if (entry.kind === "hardlink") {
      const target = this.digests.get(entry.target);
      if (target !== undefined) this.digests.set(name, target);
      await this.files.add(entry);
      return;
    }
    if (entry.kind !== "file" || (format?.kind !== "packed" && format?.kind !== "squashfs")) {
      await this.files.add(entry);
      // A file's digest is its content's: the one SHA256SUMS lists.
      if (entry.kind === "file") this.digests.set(name, this.files.paths.get(name)!.sha256!);
      return;
    }
    let outer: Promise<string> | undefined;
    // An image's own packed root needs no digest of its own bytes; a bundle's is checked.
    const content = this.#verify
      ? this.#tee(entry, (digest) => outer = digest)
      : entry.content.open();
    // A failure of the stream the member comes from (a bundle cut short) is the bundle's, not
    // this member's: it is passed on as it is.
    const outerFailures = new WeakSet<object>();
    const chunks = (async function* () {
      try {
        yield* content;
      } catch (error) {
        if (error instanceof Object) outerFailures.add(error);
        throw error;
      }
    })();
    try {
      if (format.kind === "squashfs") {
        const path = hostPath ?? await this.#copy(chunks);
        const paths = await summarizeSquashfs(
          this.#ctx.runner,
          path,
          `${name} of ${this.#label}`,
          this.#hasher,
        );
        if (hostPath === undefined) await Deno.remove(path);
        this.packed.push({ name, paths, carries: { owner: true, xattrs: false, hardlinks: true } });
      } else {
        const archive = decompress(this.#ctx.runner, chunks);
        const entries = format.archive === "cpio" ? readCpio(archive) : readTar(archive);
        if (name === ROOT_TREE_MEMBER) {
          // The tree is archived as `rootimg`, `rootimg/...` (imgexport's packRootTree).
          const map = (path: string) =>
            path === "rootimg" ? "." : path.startsWith("rootimg/") ? path.slice(8) : undefined;
          const paths = await summarizeEntries(entries, { hasher: this.#hasher, map });
          this.tree = { name: "rootimg", paths, carries: { ...TREE_CARRIES, xattrs: false } };
        } else {
          const paths = await summarizeEntries(entries, { hasher: this.#hasher });
          const carries = { owner: true, xattrs: format.archive === "tar", hardlinks: true };
          this.packed.push({ name, paths, carries });
        }
      }
    } catch (error) {
      if (!(error instanceof IntegrityError) || outerFailures.has(error)) throw error;
      if (error.message.startsWith("Cannot diff")) throw error;
      throw new IntegrityError(`Cannot diff ${this.#label}: ${name}: ${error.message}`, {
        cause: error,
      });
    }
    if (outer) this.digests.set(name, await outer);
  }

  /** The member's bytes, hashed as they pass (the digest SHA256SUMS lists). */
  #tee(
    entry: Extract<Entry, { kind: "file" }>,
    done: (digest: Promise<string>) => void,
  ): AsyncIterable<Uint8Array> {
    const hasher = this.#hasher;
    return (async function* () {
      const stream = hasher.stream();
      for await (const chunk of entry.content.open()) {
        stream.update(chunk);
        await hasher.ready();
        yield chunk;
      }
      const digest = stream.digest();
      // Observed at once: when the reader inside fails after the last chunk, the digest is never
      // awaited, and closing the Worker must not make it an unhandled rejection.
      digest.catch(() => {});
      done(digest);
    })();
  }

  async #copy(chunks: AsyncIterable<Uint8Array>): Promise<string> {
    this.#temporary ??= await Deno.makeTempDir({ prefix: "osimg-diff-" });
    const path = `${this.#temporary}/${crypto.randomUUID()}.sfs`;
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    try {
      for await (const chunk of chunks) {
        let offset = 0;
        while (offset < chunk.byteLength) offset += await file.write(chunk.subarray(offset));
      }
    } finally {
      file.close();
    }
    return path;
  }

  async close(): Promise<void> {
    if (this.#temporary) await Deno.remove(this.#temporary, { recursive: true }).catch(() => {});
  }
}

/** An osimage: its definition and the files its snapshot would keep, read where they lie. */
async function summarizeImage(
  ctx: Context,
  source: Extract<SideSource, { kind: "image" }>,
): Promise<SideSummary> {
  // The export's plan names exactly what a snapshot of the image keeps, so an unchanged image
  // and its latest snapshot compare equal. Its lines ("Packing root image...") are not diff's.
  const plan = await planExport({ ...ctx, reporter: withoutLines(ctx.reporter) }, {
    image: source.image,
    forSnapshot: true,
  });
  const hasher = new Sha256Worker();
  const router = new MemberRouter(ctx, hasher, `the osimage '${source.image}'`, false);
  try {
    const strip = (path: string) => path.slice(plan.directory.length + 1);
    for (const member of plan.members) {
      const entry = member.entry;
      const renamed: Entry = entry.kind === "hardlink"
        ? { ...entry, path: strip(entry.path), target: strip(entry.target) }
        : { ...entry, path: strip(entry.path) };
      await router.add(
        renamed,
        member.source?.kind === "disk" ? member.source.hostPath : undefined,
      );
    }
    const tree = plan.rootTree === undefined ? undefined : {
      name: "rootimg",
      paths: await summarizeEntries(walkTree(plan.rootTree), { hasher }),
      carries: TREE_CARRIES,
    };
    return {
      argument: source.argument,
      kind: "image",
      attributes: attributesOf(plan.manifest.osimage, plan.manifest.linuximage),
      files: router.files.paths,
      packed: router.packed,
      tree,
    };
  } finally {
    hasher.close();
    await router.close();
  }
}

/**
 * A bundle file (or a snapshot's stored bundle): one pass over it, every member checked against
 * SHA256SUMS as it is read, packed roots read inside without being written anywhere.
 */
async function summarizeBundle(
  ctx: Context,
  argument: string,
  hostPath: string,
  kind: "bundle" | "snapshot",
  blob?: { digest: string; what: string },
): Promise<SideSummary> {
  const label = kind === "bundle" ? `bundle "${argument}"` : `snapshot '${argument}'`;
  const prefix = `Cannot diff ${label}`;
  const whole = blob ? createHash("sha256") : undefined;
  const chunks = (async function* () {
    try {
      for await (const chunk of fileChunks(hostPath)) {
        whole?.update(chunk);
        yield chunk;
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound && blob) {
        throw new NotFoundError(`${blob.what} is missing from the store (${hostPath}).`);
      }
      throw error;
    }
  })();
  const hasher = new Sha256Worker();
  const router = new MemberRouter(ctx, hasher, label, true);
  const policy = new MemberPolicy("bundle", prefix);
  let directory: string | undefined;
  let manifestText: string | undefined;
  let sums: Map<string, string> | undefined;
  const kinds = new Map<string, Entry["kind"]>();
  let summary: SideSummary;
  try {
    for await (const raw of readTar(decompress(ctx.runner, chunks))) {
      const entry = policy.check(raw);
      if (!entry) continue;
      const [dir, ...rest] = entry.path.split("/");
      directory ??= dir;
      if (dir !== directory) {
        throw new InvalidInputError(
          `${prefix}: it holds more than one image ("${directory}", "${dir}"); diff compares one`,
        );
      }
      if (rest.length === 0) continue;
      const name = rest.join("/");
      kinds.set(name, entry.kind);
      if (entry.kind === "file" && (name === MANIFEST || name === SUMS)) {
        if (entry.content.size > MAX_SMALL_MEMBER) {
          throw new IntegrityError(
            `${prefix}: member "${entry.path}" is larger than ${MAX_SMALL_MEMBER} bytes`,
          );
        }
        const parts: Uint8Array[] = [];
        for await (const chunk of entry.content.open()) parts.push(chunk.slice());
        const bytes = concatBytes(parts);
        router.digests.set(name, createHash("sha256").update(bytes).digest("hex"));
        const text = new TextDecoder().decode(bytes);
        if (name === MANIFEST) manifestText = text;
        else sums = new Map(parseSha256Sums(text).map((line) => [line.path, line.digest]));
        continue;
      }
      const inside: Entry = entry.kind === "hardlink"
        ? { ...entry, path: name, target: entry.target.slice(dir!.length + 1) }
        : { ...entry, path: name };
      await router.add(inside);
    }
    if (directory === undefined) {
      throw new IntegrityError(`${prefix}: the bundle holds no image directory`);
    }
    if (manifestText === undefined) {
      throw new IntegrityError(`${prefix}: the image directory "${directory}" has no ${MANIFEST}`);
    }
    checkSums(ctx, prefix, argument, router.digests, kinds, sums);
    const manifest = parseManifest(manifestText, MANIFEST_COLUMNS);
    summary = {
      argument,
      kind,
      attributes: attributesOf(manifest.osimage, manifest.linuximage),
      files: router.files.paths,
      packed: router.packed,
      tree: router.tree,
    };
  } catch (error) {
    // The archive layers' own verdicts (corrupt compression, truncated tar) get the action.
    if (error instanceof IntegrityError && !error.message.startsWith(prefix)) {
      throw new IntegrityError(`${prefix}: the archive is cut short or corrupt: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    hasher.close();
    await router.close();
  }
  if (blob && whole) {
    const digest = whole.digest("hex");
    if (digest !== blob.digest) {
      throw new IntegrityError(
        `${blob.what} is damaged: ${hostPath} has SHA-256 ${digest}, not ${blob.digest}.`,
      );
    }
  }
  return summary;
}

/** Every member against SHA256SUMS; a bundle without one is read with a warning. */
function checkSums(
  ctx: Context,
  prefix: string,
  argument: string,
  digests: ReadonlyMap<string, string>,
  kinds: ReadonlyMap<string, Entry["kind"]>,
  sums: ReadonlyMap<string, string> | undefined,
): void {
  if (!sums) {
    ctx.reporter.warn(
      `The bundle "${argument}" has no ${SUMS}: its contents cannot be verified (a bundle made by xCAT).`,
    );
    return;
  }
  for (const [name, digest] of digests) {
    if (name === SUMS) continue;
    const listed = sums.get(name);
    if (listed === undefined) {
      throw new IntegrityError(`${prefix}: member "${name}" is not listed in ${SUMS}`);
    }
    if (listed !== digest) {
      throw new IntegrityError(
        `${prefix}: member "${name}" does not match ${SUMS} (its SHA-256 is ${digest}, ${SUMS} lists ${listed})`,
      );
    }
  }
  for (const name of sums.keys()) {
    if (!digests.has(name) && kinds.get(name) !== "symlink") {
      throw new IntegrityError(
        `${prefix}: member "${name}" is listed in ${SUMS} but missing from the bundle`,
      );
    }
  }
}
