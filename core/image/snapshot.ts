// Image snapshots: reproducible bundles in a content-addressed store under the install dir, listed per image, restored by rollback.

import { collectBytes } from "../../formats/bytes.ts";
import { createHash } from "node:crypto";
import { basename } from "node:path";
import type { Context } from "../context.ts";
import { hostPathOf, installDir } from "../context.ts";
import {
  ConflictError,
  IntegrityError,
  InvalidInputError,
  NotFoundError,
  OsimgError,
} from "../errors.ts";
import { exportImage } from "../bundle/bundle_export.ts";
import { exists, fileChunks, makeDirectories, removeEmptyDirectories } from "../tree/files.ts";
import { checkObjectName, checkSnapshotSelector, shownValue } from "../definitions/object_names.ts";
import { importBundle } from "../bundle/bundle_import.ts";
import { fileRefs } from "../bundle/bundle_import_rules.ts";
import { decompress } from "../compress/compress.ts";
import type { ProcessRunner } from "../process.ts";
import { readTar } from "../../formats/archive/tar.ts";
import { type ParsedManifest, parseManifest } from "../../formats/xcat/manifest_xml.ts";
import { withoutLines } from "../reporter.ts";
import { MANIFEST_COLUMNS } from "../store/schema.ts";
import { signaturePathOf } from "../sign/file_signature.ts";
import type { SigningKey } from "../sign/minisign_keys.ts";
import {
  acceptedKeys,
  checkSignature,
  trustedKeysSetting,
  type VerifiedSignature,
} from "../sign/signature_check.ts";

/** One snapshot as the index lists it. */
export interface SnapshotRecord {
  /** Per-image sequence number, as text ("1", "2", …). */
  id: string;
  image: string;
  /** When it was taken (ISO 8601, UTC). */
  time: string;
  /** Bundle size in bytes. */
  size: number;
  note: string;
  /** SHA-256 of the bundle: its name in the blob store. */
  digest: string;
}

/** The per-image index file. */
interface SnapshotIndex {
  version: 1;
  image: string;
  snapshots: SnapshotRecord[];
}

/** What `takeSnapshot` did. */
export interface SnapshotResult {
  record: SnapshotRecord;
  /** False when the image was unchanged since its latest snapshot (nothing new stored). */
  created: boolean;
  /** Host path of the blob's signature, when the snapshot was signed. */
  signaturePath?: string;
}

/** The management-node directory of the snapshot store. */
export const SNAPSHOT_DIR = "osimg/snapshots";

/** Host paths of the snapshot store. */
export interface SnapshotStore {
  dir: string;
  blobs: string;
  indexes: string;
  temp: string;
}

/** The store's host paths under the context's install dir. */
export async function snapshotStore(ctx: Context): Promise<SnapshotStore> {
  const dir = hostPathOf(ctx, `${await installDir(await ctx.store())}/${SNAPSHOT_DIR}`);
  return { dir, blobs: `${dir}/blobs`, indexes: `${dir}/index`, temp: `${dir}/tmp` };
}

/** Host path of the bundle of `record`. */
export function blobPath(store: SnapshotStore, digest: string): string {
  return `${store.blobs}/${digest}.tgz`;
}

function indexPath(store: SnapshotStore, image: string): string {
  // Image names may hold anything a table value can; the file name must not.
  return `${store.indexes}/${encodeURIComponent(image)}.json`;
}

async function readIndex(store: SnapshotStore, image: string): Promise<SnapshotIndex> {
  let text: string;
  try {
    text = await Deno.readTextFile(indexPath(store, image));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { version: 1, image, snapshots: [] };
    throw error;
  }
  let index: SnapshotIndex;
  try {
    index = JSON.parse(text);
  } catch (error) {
    throw new IntegrityError(
      `Cannot read the snapshot index ${indexPath(store, image)}: it is not valid JSON`,
      { cause: error },
    );
  }
  if (index.version !== 1 || !Array.isArray(index.snapshots)) {
    throw new IntegrityError(
      `Cannot read the snapshot index ${indexPath(store, image)}: unknown version ${index.version}`,
    );
  }
  // The digest names the blob file (blobs/<digest>.tgz): an edited index must not make it a
  // path ('../../x') that rollback reads or a later cleanup removes.
  for (const record of index.snapshots) {
    const id = String(record?.id);
    const digest = String(record?.digest);
    if (!/^[1-9][0-9]*$/.test(id) || !/^[0-9a-f]{64}$/.test(digest)) {
      throw new IntegrityError(
        `Cannot read the snapshot index ${indexPath(store, image)}: the record with id '${
          shownValue(id)
        }' and digest '${
          shownValue(digest)
        }' is damaged (an id is a number, a digest 64 hex digits)`,
      );
    }
  }
  return index;
}

/** How long a snapshot waits for another one recording into the same index. */
const LOCK_WAIT_MS = 30_000;

/**
 * Runs `work` holding the image's index lock (a directory: mkdir is atomic), so two snapshots
 * of one image never lose each other's record. Held only for the read-modify-write of the
 * index, never during the export.
 */
async function withIndexLock<T>(
  store: SnapshotStore,
  image: string,
  work: () => Promise<T>,
): Promise<T> {
  await Deno.mkdir(store.indexes, { recursive: true });
  const lock = `${indexPath(store, image)}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (true) {
    try {
      await Deno.mkdir(lock);
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      if (Date.now() > deadline) {
        throw new ConflictError(
          `Cannot record the snapshot of '${image}': ${lock} is held by another osimg. ` +
            "Try again; if no osimg is running, remove that directory.",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await work();
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
}

/** Replaces the index atomically (write a temporary, fsync, rename). */
async function writeIndex(store: SnapshotStore, index: SnapshotIndex): Promise<void> {
  await Deno.mkdir(store.indexes, { recursive: true });
  const target = indexPath(store, index.image);
  const temporary = `${target}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o644 });
  try {
    await file.write(new TextEncoder().encode(JSON.stringify(index, null, 2) + "\n"));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(temporary, target);
}

/**
 * Snapshots `image`: exports it with its unpacked root tree and every column into the store
 * (the blob named by its SHA-256, stored once), and records it in the image's index. Times are
 * not clamped to a clock: the export's epoch is derived from the image's own files, so an
 * unchanged image gives the same bytes and the same digest; then nothing new is recorded.
 */
export async function takeSnapshot(
  ctx: Context,
  image: string,
  options: { note?: string; signingKey?: SigningKey } = {},
): Promise<SnapshotResult> {
  checkObjectName("osimage", image);
  const store = await snapshotStore(ctx);
  // A snapshot that fails (no such image, files missing) leaves no empty store behind.
  const blobsMade = await makeDirectories(store.blobs);
  const created = [...await makeDirectories(store.temp), ...blobsMade]; // deepest first
  const temporary = `${store.temp}/${crypto.randomUUID()}.tgz`;
  let done = false;
  try {
    // imgexport's lines ("Exporting ... to <temporary file>") are not the snapshot's result.
    const exported = await exportImage({ ...ctx, reporter: withoutLines(ctx.reporter) }, {
      image,
      destination: temporary,
      forSnapshot: true,
      // Signed while written, naming the file the blob becomes (<digest>.tgz).
      signingKey: options.signingKey,
      signedName: (sha256) => basename(blobPath(store, sha256)),
    });
    const digest = exported.sha256!;
    const blob = blobPath(store, digest);
    // Same digest, same bytes: an existing blob is the one we would write.
    if (await exists(blob)) await Deno.remove(temporary);
    else await Deno.rename(temporary, blob);
    // Beside the blob; Ed25519 is deterministic, so re-signing a stored blob with the same key
    // gives the same file, and another key's signature is replaced by the one asked for now.
    const signaturePath = exported.signaturePath && signaturePathOf(blob);
    if (signaturePath) await Deno.rename(exported.signaturePath!, signaturePath);
    const result = await withIndexLock(store, image, async () => {
      const index = await readIndex(store, image);
      const latest = index.snapshots[index.snapshots.length - 1];
      if (latest?.digest === digest) return { record: latest, created: false };
      const nextId = index.snapshots.reduce((max, record) => Math.max(max, Number(record.id)), 0) +
        1;
      const record: SnapshotRecord = {
        id: String(nextId),
        image,
        time: ctx.now().toISOString().replace(/\.\d{3}Z$/, "Z"),
        size: exported.bytes,
        note: options.note ?? "",
        digest,
      };
      index.snapshots.push(record);
      await writeIndex(store, index);
      return { record, created: true };
    });
    done = true;
    return signaturePath ? { ...result, signaturePath } : result;
  } finally {
    await Deno.remove(temporary).catch(() => {});
    await Deno.remove(signaturePathOf(temporary)).catch(() => {});
    if (!done) await removeEmptyDirectories(created);
  }
}

/** Every snapshot of `image` (or of every image), oldest first within an image. */
export async function listSnapshots(ctx: Context, image?: string): Promise<SnapshotRecord[]> {
  if (image !== undefined) checkObjectName("osimage", image);
  const store = await snapshotStore(ctx);
  if (image !== undefined) return (await readIndex(store, image)).snapshots;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(store.indexes)) {
      if (entry.isFile && entry.name.endsWith(".json")) {
        names.push(decodeURIComponent(entry.name.slice(0, -".json".length)));
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  names.sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  const records: SnapshotRecord[] = [];
  for (const name of names) records.push(...(await readIndex(store, name)).snapshots);
  return records;
}

/**
 * The snapshot of `image` named by `selector` (its id, or a digest prefix of at least 7
 * characters), or the latest one.
 */
export async function findSnapshot(
  ctx: Context,
  image: string,
  selector?: string,
): Promise<SnapshotRecord> {
  checkObjectName("osimage", image);
  if (selector !== undefined) checkSnapshotSelector(selector);
  const snapshots = await listSnapshots(ctx, image);
  if (snapshots.length === 0) throw new NotFoundError(`The image '${image}' has no snapshots.`);
  if (selector === undefined) return snapshots[snapshots.length - 1]!;
  const byId = snapshots.find((record) => record.id === selector);
  if (byId) return byId;
  if (/^[0-9a-f]{7,64}$/.test(selector)) {
    const matches = snapshots.filter((record) => record.digest.startsWith(selector));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new InvalidInputError(
        `The digest prefix '${selector}' matches several snapshots of '${image}'; give more digits or the id.`,
      );
    }
  }
  throw new NotFoundError(
    `The image '${image}' has no snapshot '${selector}' (see 'osimg snapshot --list ${image}').`,
  );
}

/** Checks that the stored bundle of `record` is intact (its SHA-256 is its name). */
export async function verifyBlob(ctx: Context, record: SnapshotRecord): Promise<string> {
  const path = blobPath(await snapshotStore(ctx), record.digest);
  const hash = createHash("sha256");
  try {
    for await (const chunk of fileChunks(path)) hash.update(chunk);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `Snapshot ${record.id} of '${record.image}' is missing from the store (${path}).`,
      );
    }
    throw new OsimgError(`Cannot read snapshot ${record.id} of '${record.image}': ${error}`, {
      cause: error,
    });
  }
  const digest = hash.digest("hex");
  if (digest !== record.digest) {
    throw new IntegrityError(
      `Snapshot ${record.id} of '${record.image}' is damaged: ${path} has SHA-256 ${digest}, not ${record.digest}.`,
    );
  }
  return path;
}

/** What `rollbackImage` did. */
export interface RollbackResult {
  restored: SnapshotRecord;
  /** The snapshot of the state before the rollback (undefined when the image did not exist or --force skipped it). */
  saved?: SnapshotRecord;
  /** The snapshot's signature, when --pubkey asked for one (it verified). */
  signature?: VerifiedSignature;
}

/**
 * Restores `image` from one of its snapshots (the latest by default). The current state is
 * snapshotted first, so the rollback can itself be rolled back; when that is impossible (files
 * missing) the rollback stops unless `force` is set. The stored bundle is checked against its
 * digest, then imported through imgimport's staged, journaled commit: the definition rows are
 * replaced, the files and the unpacked root tree put back, all or nothing. The `.ORIG` copies
 * an import keeps of replaced files are removed afterwards — the saved snapshot holds them.
 */
export async function rollbackImage(
  ctx: Context,
  image: string,
  selector?: string,
  options: {
    force?: boolean;
    /** Require the snapshot's `.minisig` by one of these keys, checked before anything else. */
    pubkeys?: readonly string[];
  } = {},
): Promise<RollbackResult> {
  const restored = await findSnapshot(ctx, image, selector);
  let signature: VerifiedSignature | undefined;
  if (options.pubkeys?.length) {
    // Within site.osimgtrustedkeys when the node has it, as imgimport's --pubkey is.
    const accepted = await acceptedKeys(
      ctx,
      options.pubkeys,
      await trustedKeysSetting(await ctx.store()),
    );
    signature = await checkSignature(
      blobPath(await snapshotStore(ctx), restored.digest),
      `${restored.digest}.tgz`,
      accepted!,
      `Cannot roll back '${image}' to snapshot ${restored.id}`,
    );
  }
  const blob = await verifyBlob(ctx, restored);
  const store = await ctx.store();
  const defined = await store.read(async (reader) =>
    (await reader.rows("osimage", { imagename: image })).length > 0
  );
  let saved: SnapshotRecord | undefined;
  if (defined) {
    try {
      saved = (await takeSnapshot(ctx, image, { note: `before rollback to ${restored.id}` }))
        .record;
    } catch (error) {
      if (!options.force) {
        throw new ConflictError(
          `Cannot roll back '${image}': its current state cannot be snapshotted first (${
            (error as Error).message
          }). Use --force to roll back without saving it.`,
          { cause: error },
        );
      }
    }
  }
  const manifest = await bundleManifest(ctx.runner, blob);
  // What the import leaves beside the restored files that was not there before: the .ORIG
  // copies xCAT's rule keeps, and the litefile.csv it places (the rows are what matters).
  const leftovers = fileRefs(manifest).flatMap((ref) => [
    hostPathOf(ctx, `${ref.target}.ORIG`),
    ...(ref.field === "litefile" ? [hostPathOf(ctx, ref.target)] : []),
  ]);
  const existed = new Set<string>();
  for (const path of leftovers) if (await exists(path)) existed.add(path);
  // imgimport's own lines (restored paths, ".ORIG" moves undone below) would mislead here; its
  // warnings and recovery messages still concern the user.
  await importBundle({ ...ctx, reporter: withoutLines(ctx.reporter) }, blob, {
    fromSnapshotStore: true,
  });
  for (const path of leftovers) {
    if (!existed.has(path)) await Deno.remove(path, { recursive: true }).catch(() => {});
  }
  return { restored, saved, signature };
}

/** The manifest of a bundle: its first member, read without going further. */
async function bundleManifest(runner: ProcessRunner, path: string): Promise<ParsedManifest> {
  for await (const entry of readTar(decompress(runner, fileChunks(path)))) {
    if (entry.kind === "file" && entry.path.endsWith("/manifest.xml")) {
      const bytes = await collectBytes(entry.content.open());
      return parseManifest(new TextDecoder().decode(bytes), MANIFEST_COLUMNS);
    }
    break;
  }
  throw new IntegrityError(`The snapshot bundle ${path} does not start with its manifest.xml.`);
}
