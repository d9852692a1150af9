// imgimport: parse the flags, import one bundle (core/bundle/bundle_import.ts does the work) and print a dry run.

import { booleanFlag, type Command, parseFlags, stringFlag, stringsFlag } from "../core/command.ts";
import { importBundle, type ImportResult } from "../core/bundle/bundle_import.ts";
import type { Context } from "../core/context.ts";
import { UsageError } from "../core/errors.ts";
import { lockImage } from "../core/image/image_lock.ts";
import { findTable } from "../core/store/schema.ts";

export const imgimport: Command = {
  name: "imgimport",
  usage: `Usage:
  imgimport [-h|--help]
  imgimport <bundle_file_name> [-p|--postscripts <noderange>] [-f|--profile <new_profile>]
            [-n|--nozip] [-v] [--dry-run] [--allow-path <dir>]... [--allow-expansion]
            [--pubkey <key>]...

    -f, --profile      Import under a new profile: new root image directory, stock files
                       re-homed under <installdir>/custom, image named
                       <osvers>-<osarch>-<provmethod>-<new_profile>.
    -p, --postscripts  Set the bundle's postscripts lists on these nodes (a noderange).
    -n, --nozip        Accepted for xCAT's scripts; the compression (gzip, xz, zstd, bzip2 or
                       none) is always detected from the bundle's first bytes.
    -v                 Verbose.
    --dry-run          Print the files and rows the import would write; change nothing.
    --allow-path DIR   Also allow manifest paths under DIR (besides the install directory,
                       the tftp directory and /opt/xcat/share/xcat). Repeatable.
    --allow-expansion  Import a bundle that unpacks to more than 200 times its compressed
                       size (refused by default, as a decompression bomb: real bundles, whose
                       root image is already compressed, stay near 1:1).
    --pubkey KEY       Require <bundle_file_name>.minisig, a valid minisign signature by this
                       key (a .pub file, or the base64 key as 'minisign -P' takes it).
                       Repeatable: any one of the keys. Checked before anything else.

  When site.osimgtrustedkeys is set (comma-separated public keys: base64 keys, or absolute
  paths of .pub files), every import must be signed by one of them; --pubkey can only name
  keys from that list. An unsigned bundle, one signed by another key, a changed or truncated
  bundle, a signature of another file and a forged trusted comment are each refused with their
  own message, and nothing is changed.

  The bundle is verified against its SHA256SUMS while it is read (a bundle made by xCAT has
  none and imports with a warning), staged under <installdir>/.osimg-staging, and committed
  all-or-nothing: files renamed into place (existing ones kept as .ORIG) and the definition
  replaced in one transaction. Each file named for its format (rootimg.cpio.gz, rootimg.sfs,
  initrd-*.gz...) must hold that format. Staging stops, changing nothing, before the install
  directory's file system has less than max(1 GiB, 5%) free (OSIMG_SPACE_RESERVE=<bytes> in the
  environment sets another reserve; 0 turns it off).
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("imgimport", args, {
      profile: { type: "string", short: "f" },
      postscripts: { type: "string", short: "p" },
      verbose: { type: "boolean", short: "v" },
      nozip: { type: "boolean", short: "n" },
      "dry-run": { type: "boolean" },
      "allow-path": { type: "string", multiple: true },
      "allow-expansion": { type: "boolean" },
      pubkey: { type: "string", multiple: true },
    }, { minPositionals: 1, maxPositionals: 1 });
    const result = await importBundle(ctx, positionals[0]!, {
      profile: stringFlag(flags, "profile"),
      postscripts: stringFlag(flags, "postscripts"),
      verbose: booleanFlag(flags, "verbose"),
      dryRun: booleanFlag(flags, "dry-run"),
      allowPaths: stringsFlag(flags, "allow-path"),
      maxExpansion: booleanFlag(flags, "allow-expansion") ? Infinity : undefined,
      spaceReserve: spaceReserve(ctx.env),
      lockImage: (name) => lockImage(ctx, name, "imgimport"),
      pubkeys: stringsFlag(flags, "pubkey"),
    });
    if (result.wouldWrite) printDryRun(ctx, result.images, result.wouldWrite);
  },
};

/** `--dry-run`: every file the import would place and every row it would replace. */
function printDryRun(
  ctx: Context,
  images: readonly string[],
  wouldWrite: NonNullable<ImportResult["wouldWrite"]>,
): void {
  ctx.io.out("Dry run: nothing is changed. The import would write:\n");
  for (const move of wouldWrite.moves) {
    const how = move.existed ? (move.keepOrig ? " (old one kept as .ORIG)" : " (replacing)") : "";
    ctx.io.out(`  file ${move.shown}${how}\n`);
  }
  for (const change of wouldWrite.rows) {
    const where = Object.entries(change.where).map(([column, value]) => `${column}=${value}`)
      .join(",");
    ctx.io.out(`  ${change.table} ${where}: replaced by\n`);
    for (const row of change.after) {
      const columns = findTable(change.table)!.columns.filter((column) => row[column]);
      ctx.io.out(`    ${columns.map((column) => `${column}=${row[column]}`).join(" ")}\n`);
    }
  }
  for (const name of images) ctx.io.out(`Would import the image ${name}.\n`);
}

/** OSIMG_SPACE_RESERVE: bytes to keep free while staging, or unset for the default. */
function spaceReserve(env: Readonly<Record<string, string>>): number | undefined {
  const value = env.OSIMG_SPACE_RESERVE;
  if (value === undefined || value === "") return undefined;
  if (!/^[0-9]{1,18}$/.test(value)) {
    throw new UsageError(
      `imgimport: OSIMG_SPACE_RESERVE must be a whole number of bytes, not '${value}'.`,
    );
  }
  return Number(value);
}
