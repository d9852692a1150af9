// snapshot: keep a restorable bundle of an osimage in the snapshot store, or list the snapshots.

import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { listSnapshots, type SnapshotRecord, takeSnapshot } from "../core/image/snapshot.ts";
import { UsageError } from "../core/errors.ts";
import { lockImage } from "../core/image/image_lock.ts";
import { openSigningKey } from "../core/sign/sign_files.ts";

export const snapshot: Command = {
  name: "snapshot",
  usage: `Usage:
  snapshot [-h|--help]
  snapshot <image> [--note text] [--sign <secret key file>]
  snapshot --list [image] [--json]

    <image>      Store the image's definition and files (including its unpacked root tree)
                 as a reproducible bundle under <installdir>/osimg/snapshots. An image that has
                 not changed since its latest snapshot is not stored again.
    --note text  A note kept with the snapshot.
    --sign key   Also sign the snapshot's bundle (minisign's format, hashed as it is written):
                 <installdir>/osimg/snapshots/blobs/<digest>.tgz.minisig.
    --list       Show the snapshots of one image, or of all: id, time, size, note, digest.
    --json       With --list: print a JSON array.

  Restore one with 'rollback <image> [id]'.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("snapshot", args, {
      note: { type: "string" },
      sign: { type: "string" },
      list: { type: "boolean" },
      json: { type: "boolean" },
    }, { maxPositionals: 1 });
    const [image] = positionals;
    if (booleanFlag(flags, "list")) {
      const records = await listSnapshots(ctx, image);
      ctx.io.out(
        booleanFlag(flags, "json")
          ? JSON.stringify(records, null, 2) + "\n"
          : formatSnapshotList(records),
      );
      return;
    }
    if (!image) {
      throw new UsageError("snapshot: missing image name. Run 'snapshot --help' for usage.");
    }
    if (booleanFlag(flags, "json")) {
      throw new UsageError("snapshot: --json goes with --list. Run 'snapshot --help' for usage.");
    }
    // The key is opened (its password checked) before the image is locked or anything written.
    const keyPath = stringFlag(flags, "sign");
    const signingKey = keyPath === undefined ? undefined : await openSigningKey(ctx, keyPath);
    await using _lock = await lockImage(ctx, image, "snapshot");
    const { record, created, signaturePath } = await takeSnapshot(ctx, image, {
      note: stringFlag(flags, "note"),
      signingKey,
    });
    ctx.io.out(
      created
        ? `Snapshot ${record.id} of ${image} taken (${record.size} bytes, sha256 ${record.digest}).\n`
        : `The image ${image} is unchanged since snapshot ${record.id}; nothing new was stored.\n`,
    );
    if (signaturePath) ctx.io.out(`Signed: ${signaturePath}\n`);
  },
};

/** The --list table: one line per snapshot, columns aligned. */
export function formatSnapshotList(records: readonly SnapshotRecord[]): string {
  if (records.length === 0) return "No snapshots.\n";
  const rows = [
    ["IMAGE", "ID", "TIME", "SIZE", "DIGEST", "NOTE"],
    ...records.map((record) => [
      record.image,
      record.id,
      record.time,
      String(record.size),
      record.digest.slice(0, 12),
      record.note,
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row.map((cell, column) => column === row.length - 1 ? cell : cell.padEnd(widths[column]!))
      .join("  ").trimEnd()
  ).join("\n") + "\n";
}
