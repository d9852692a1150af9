// verify: a bundle's structure, manifests and every checksum in one streaming pass, every problem reported, nothing written.

import { existsSync } from "node:fs";
import { posix, resolve } from "node:path";
import { parseManifest } from "../../formats/xcat/manifest_xml.ts";
import { fileRefs, manifestProblems, XCAT_SHARE_DIR } from "./bundle_import_rules.ts";
import { scanBundle } from "./bundle_reader.ts";
import { fileChunks } from "../tree/files.ts";
import type { Context } from "../context.ts";
import { readInstallDir, readTftpDir } from "../image/osimage.ts";
import { isWithin } from "../paths.ts";
import { MANIFEST_COLUMNS, SITE_DEFAULTS } from "../store/schema.ts";
import {
  acceptedKeys,
  checkSignature,
  trustedKeysIfAny,
  type VerifiedSignature,
} from "../sign/signature_check.ts";

/** One image directory as verify saw it. */
export interface VerifiedImage {
  dir: string;
  /** The image name from the manifest, when it could be read. */
  imagename?: string;
  provmethod?: string;
  /** "nested" (xCAT 2.8+ and osimg) or "flat" (xCAT <= 2.7). */
  manifestFormat?: "nested" | "flat";
  files: number;
  /** True when the directory has a SHA256SUMS and every file matched it. */
  checksummed: boolean;
}

/** The machine-readable result of `osimg verify --json`. */
export interface VerifyReport {
  bundle: string;
  ok: boolean;
  images: VerifiedImage[];
  warnings: string[];
  problems: string[];
  entries: number;
  bytes: number;
  /** The signature, when --pubkey or site.osimgtrustedkeys asked for one (it verified). */
  signature?: VerifiedSignature;
}

/**
 * Reads the bundle once and reports everything wrong with it: hostile members, checksum
 * mismatches, missing and unlisted members, truncation, members that are not what their name
 * says, expansion past the limit (a decompression bomb), manifests that do not parse or lack
 * what xCAT's imgimport requires, and manifest references to files the bundle does not hold.
 *
 * @example
 * ```ts
 * const report = await verifyBundle(ctx, "img.tgz");
 * if (!report.ok) console.log(report.problems.join("\n"));
 * ```
 */
export async function verifyBundle(
  ctx: Context,
  bundlePath: string,
  options: { maxExpansion?: number; pubkeys?: readonly string[] } = {},
): Promise<VerifyReport> {
  // The signature first, alone: a bundle whose signature fails is not read any further.
  const accepted = await acceptedKeys(ctx, options.pubkeys ?? [], await trustedKeysIfAny(ctx));
  const signature = accepted &&
    await checkSignature(
      resolve(ctx.cwd, bundlePath),
      bundlePath,
      accepted,
      `Bundle "${bundlePath}" failed verification`,
    );
  const scan = await scanBundle(fileChunks(resolve(ctx.cwd, bundlePath)), {
    prefix: `Bundle "${bundlePath}"`,
    name: bundlePath,
    collect: true,
    // A bomb is reported and reading stops, as imgimport would stop.
    maxExpansion: options.maxExpansion,
    expansionHint: "verify it with --allow-expansion",
    runner: ctx.runner,
  });
  const problems = [...scan.problems];
  const warnings = [...scan.warnings];
  // Where imgimport would allow files by default: this root's site values when it has a
  // database (verify never creates one), xCAT's defaults otherwise.
  let roots = [SITE_DEFAULTS.installdir!, SITE_DEFAULTS.tftpdir!, XCAT_SHARE_DIR];
  // A SQLite file is a path; a PostgreSQL database (a URL) exists on its server.
  if (!ctx.dbPath.startsWith("/") || existsSync(ctx.dbPath)) {
    const store = await ctx.store();
    roots = await store.read(async (reader) => [
      await readInstallDir(reader),
      await readTftpDir(reader),
      XCAT_SHARE_DIR,
    ]);
  }
  const images: VerifiedImage[] = [];
  for (const image of scan.images) {
    const verified: VerifiedImage = {
      dir: image.dir,
      files: image.files.size,
      checksummed: image.sums !== undefined,
    };
    images.push(verified);
    if (image.manifestText === undefined) continue;
    try {
      const manifest = parseManifest(image.manifestText, MANIFEST_COLUMNS);
      verified.imagename = manifest.osimage.imagename;
      verified.provmethod = manifest.osimage.provmethod;
      verified.manifestFormat = manifest.format;
      for (const problem of manifestProblems(manifest)) {
        problems.push(`${image.dir}/manifest.xml: ${problem}`);
      }
      for (const ref of fileRefs(manifest)) {
        if (!posix.isAbsolute(ref.original)) {
          problems.push(
            `${image.dir}/manifest.xml: the path "${ref.original}" (${ref.field}) is not absolute`,
          );
        } else if (!roots.some((root) => isWithin(root, posix.normalize(ref.original)))) {
          warnings.push(
            `${image.dir}/manifest.xml: "${ref.original}" (${ref.field}) is outside ${
              roots.join(", ")
            }; importing it needs --allow-path`,
          );
        }
        const base = posix.basename(ref.original);
        if (!base || !image.files.has(base)) {
          problems.push(
            `${image.dir}/manifest.xml: "${ref.original}" (${ref.field}) is not in the bundle as "${image.dir}/${base}"`,
          );
        }
      }
      for (const extra of manifest.extra) {
        if (!roots.some((root) => isWithin(root, posix.normalize(extra.dest)))) {
          warnings.push(
            `${image.dir}/manifest.xml: the extra destination "${extra.dest}" is outside ${
              roots.join(", ")
            }; importing it needs --allow-path`,
          );
        }
        const asDir = posix.normalize(`extra/${extra.src.replace(/^\/+/, "")}`);
        if (
          image.members.get(asDir) !== "dir" &&
          !image.files.has(`extra/${posix.basename(extra.src)}`)
        ) {
          problems.push(`${image.dir}/manifest.xml: the extra "${extra.src}" is not in the bundle`);
        }
      }
    } catch (error) {
      problems.push(`${image.dir}/manifest.xml: ${(error as Error).message}`);
    }
  }
  for (const image of images) {
    if (image.checksummed && problems.some((problem) => problem.includes(`"${image.dir}/`))) {
      image.checksummed = false;
    }
  }
  return {
    bundle: bundlePath,
    ok: problems.length === 0,
    images,
    warnings,
    problems,
    entries: scan.entries,
    bytes: scan.bytes,
    ...(signature ? { signature } : {}),
  };
}
