// imgimport: an image bundle staged, verified and committed all-or-nothing (the manifest rules are in bundle_import_rules.ts, the planning in bundle_import_plan.ts).

import { resolve } from "node:path";
import { posix } from "node:path";
import { scanBundle } from "./bundle_reader.ts";
import { fileChunks } from "../tree/files.ts";
import { type ImportPlan, type ImportPlanning, planImage } from "./bundle_import_plan.ts";
import {
  type CommitHook,
  commitStaged,
  createStaging,
  recoverStaging,
  type RecoveryReport,
  STAGING_DIR_NAME,
} from "../tree/commit_journal.ts";
import { type Context, hostPathOf } from "../context.ts";
import { NotFoundError, OsimgError, UsageError } from "../errors.ts";
import { LOCK_DIR_NAME, removeStaleLocks } from "../image/image_lock.ts";
import { readInstallDir, readTftpDir } from "../image/osimage.ts";
import { checkPathComponent } from "../definitions/object_names.ts";
import { SpaceReserve } from "./staging_limits.ts";
import type { Store } from "../store/store.ts";
import {
  acceptedKeys,
  checkSignature,
  trustedKeysSetting,
  type VerifiedSignature,
} from "../sign/signature_check.ts";

/** Options of {@linkcode importBundle} (the imgimport flags). */
export interface ImportOptions {
  /** `-f`: import under this profile (new rootimgdir, stock files re-homed, image renamed). */
  profile?: string;
  /** `-p`: the nodes (comma-separated names) that get the bundle's postscripts lists. */
  postscripts?: string;
  verbose?: boolean;
  /** Print what would be written, change nothing. */
  dryRun?: boolean;
  /** Management-node directories manifest paths may also name (besides installdir, tftpdir, share). */
  allowPaths?: readonly string[];
  /** Test seam: called at the commit's named points. */
  hook?: CommitHook;
  /**
   * Largest ratio of unpacked to compressed bytes (default DEFAULT_MAX_EXPANSION); Infinity
   * (`--allow-expansion`) allows any.
   */
  maxExpansion?: number;
  /**
   * Bytes to keep free on the install directory's file system while staging (default
   * max(1 GiB, 5%); `OSIMG_SPACE_RESERVE`).
   */
  spaceReserve?: number;
  /**
   * Takes the lock of an image the bundle imports to, once its name is known and before the
   * image's current files and rows are looked at; held until the import ends (not on a dry run).
   */
  lockImage?: (name: string) => Promise<AsyncDisposable>;
  /**
   * `--pubkey`: the bundle must carry a valid `<bundle>.minisig` by one of these keys (`.pub`
   * files or base64 keys); checked before anything else. site.osimgtrustedkeys requires it too.
   */
  pubkeys?: readonly string[];
  /**
   * Rollback restores this node's own snapshot store, checked against its content digest; the
   * signature rule is for bundles that come from elsewhere.
   */
  fromSnapshotStore?: boolean;
}

/** What an import did. */
export interface ImportResult {
  /** The imported image names, in bundle order. */
  images: string[];
  /** The bundle's signature, when one was required and verified. */
  signature?: VerifiedSignature;
  /** On a dry run, what the import would have written (cmd/imgimport.ts prints it). */
  wouldWrite?: Pick<ImportPlan, "moves" | "rows">;
}

/** Turns a raw system error (ENOSPC, EACCES) into one line naming the action. */
function importError(prefix: string, error: unknown): unknown {
  if (error instanceof OsimgError) return error;
  const code = (error as { code?: string }).code;
  const message = (error as Error)?.message ?? String(error);
  if (code === "ENOSPC" || /No space left on device/.test(message)) {
    return new OsimgError(
      `${prefix}: no space left on the device holding the install directory; nothing was changed`,
      { cause: error },
    );
  }
  return new OsimgError(`${prefix}: ${message}`, { cause: error });
}

/**
 * Finishes or undoes what interrupted imports left behind (journals under
 * `<installdir>/.osimg-staging`). Every verb that changes images calls this first.
 */
export async function recoverInterruptedImports(ctx: Context): Promise<RecoveryReport> {
  const store = await ctx.store();
  const installDir = await store.read(readInstallDir);
  await removeStaleLocks(hostPathOf(ctx, `${installDir}/${LOCK_DIR_NAME}`));
  return await recoverStaging(
    store,
    ctx.root,
    hostPathOf(ctx, `${installDir}/${STAGING_DIR_NAME}`),
  );
}

/**
 * Imports a bundle: recovers earlier interrupted imports, stages the bundle on the install
 * directory's file system while verifying it in one pass, plans every file and row (nothing
 * changed yet), then commits through the journal. Any failure before the commit removes the
 * staging area and leaves files and rows exactly as they were. What xCAT prints and the
 * warnings go to `ctx.reporter`; planning's warnings only once planning has succeeded.
 *
 * @example
 * ```ts
 * const { images } = await importBundle(ctx, "rhels8-netboot.tgz", { profile: "compute2" });
 * ```
 */
export async function importBundle(
  ctx: Context,
  bundlePath: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const prefix = `Cannot import bundle "${bundlePath}"`;
  // -f's profile becomes a directory (<installdir>/netboot/<osvers>/<osarch>/<profile>) and
  // part of the image name; checked before anything, the recovery of earlier imports included.
  if (options.profile !== undefined) checkPathComponent("profile", options.profile);
  const bundle = resolve(ctx.cwd, bundlePath);
  for (const dir of options.allowPaths ?? []) {
    if (!posix.isAbsolute(dir)) {
      throw new UsageError(`imgimport: --allow-path '${dir}' must be an absolute directory.`);
    }
  }
  if (!(await Deno.stat(bundle).catch(() => undefined))?.isFile) {
    throw new NotFoundError(`Cannot find ${bundle}`);
  }
  const store: Store = await ctx.store();
  // The signature before anything else, the recovery of earlier imports included: a bundle
  // refused here changes nothing on the node.
  let signature: VerifiedSignature | undefined;
  if (!options.fromSnapshotStore) {
    const accepted = await acceptedKeys(
      ctx,
      options.pubkeys ?? [],
      await trustedKeysSetting(store),
    );
    if (accepted) {
      signature = await checkSignature(bundle, bundlePath, accepted, prefix);
      ctx.reporter.line(
        `Signature verified: key ${signature.keyId}, trusted comment "${signature.trustedComment}"`,
      );
    }
  }
  // A dry run changes nothing, not even what an interrupted run left (the next real run will).
  if (!options.dryRun) {
    const report = await recoverInterruptedImports(ctx);
    for (const id of report.rolledForward) {
      ctx.reporter.info(`Finished an interrupted import (${id}) left by an earlier run.`);
    }
    for (const id of report.rolledBack) {
      ctx.reporter.info(`Undid an interrupted import (${id}) left by an earlier run.`);
    }
  }
  const [installDir, tftpDir] = await store.read(async (reader) => [
    await readInstallDir(reader),
    await readTftpDir(reader),
  ]);
  const stagingRoot = hostPathOf(ctx, `${installDir}/${STAGING_DIR_NAME}`);
  const plan: ImportPlan = { moves: [], rows: [], images: [], messages: [] };
  const space = new SpaceReserve(stagingRoot, installDir, prefix, options.spaceReserve);
  let staging;
  const locks = new Map<string, AsyncDisposable>();
  try {
    // Before anything is written: a file system already inside its reserve is left alone.
    space.check(0);
    staging = await createStaging(stagingRoot);
  } catch (error) {
    throw importError(prefix, error);
  }
  try {
    ctx.reporter.line("Unbundling image...");
    if (options.verbose) ctx.reporter.line(`Bundle file is located at ${bundle}`);
    const size = (await Deno.stat(bundle)).size;
    const progress = ctx.progress(`Unbundling ${bundlePath}`, size);
    await Deno.mkdir(`${staging.dir}/tree`);
    const scan = await scanBundle(fileChunks(bundle), {
      prefix,
      name: bundlePath,
      destination: `${staging.dir}/tree`,
      onBytes: (bytes) => progress.advance(bytes),
      maxExpansion: options.maxExpansion,
      expansionHint: "import it with --allow-expansion",
      space,
      runner: ctx.runner,
    });
    progress.done();
    for (const warning of scan.warnings) ctx.reporter.warn(warning);
    await store.read(async (reader) => {
      // Planning's warnings are shown once every image is planned: a bundle refused on a later
      // image shows its error alone.
      const warnings: string[] = [];
      const planning: ImportPlanning = {
        ctx,
        reader,
        prefix,
        stagingDir: staging!.dir,
        installDir,
        tftpDir,
        options,
        reporter: { warn: (text) => void warnings.push(text) },
        plan,
        claimed: new Map(),
        claimedAncestors: new Set(),
        realPaths: new Map(),
        space,
        counter: { value: 0 },
        locks,
      };
      for (const image of scan.images) await planImage(planning, image);
      for (const warning of warnings) ctx.reporter.warn(warning);
    });
    if (options.dryRun) {
      return {
        images: plan.images,
        signature,
        wouldWrite: { moves: plan.moves, rows: plan.rows },
      };
    }
    await commitStaged(store, staging, { moves: plan.moves, rows: plan.rows }, {
      root: ctx.root,
      hook: options.hook,
    });
    for (const line of plan.messages) ctx.reporter.line(line);
    for (const name of plan.images) ctx.reporter.line(`Successfully imported the image ${name}.`);
    return { images: plan.images, signature };
  } catch (error) {
    throw importError(prefix, error);
  } finally {
    // Locks first: their directory sits beside the staging area, whose removal then also
    // removes the parents it created when they are empty again.
    for (const lock of locks.values()) await lock[Symbol.asyncDispose]();
    await staging.remove().catch(() => {});
  }
}
