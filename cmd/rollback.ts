// rollback: restore an osimage from a snapshot, snapshotting its current state first.

import { booleanFlag, type Command, parseFlags, stringsFlag } from "../core/command.ts";
import { lockImage } from "../core/image/image_lock.ts";
import { rollbackImage } from "../core/image/snapshot.ts";

export const rollback: Command = {
  name: "rollback",
  usage: `Usage:
  rollback [-h|--help]
  rollback <image> [snapshot] [--force] [--pubkey <key>]...

    <image>     The osimage to restore.
    snapshot    A snapshot id or a digest prefix (see 'snapshot --list <image>'); default:
                the latest snapshot.
    --force     Roll back even when the current state cannot be snapshotted first (for
                example because some of its files are missing).
    --pubkey KEY    Require the snapshot's signature (snapshot --sign) by this key (a .pub file
                    or the base64 key, as minisign -P); checked before anything changes.
                    Repeat for several keys; on a node with site.osimgtrustedkeys, the key must
                    be one of those.

  The current state is snapshotted first, so 'rollback <image> <that id>' undoes the rollback.
  The restore is all or nothing: definition rows and files change together.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("rollback", args, {
      force: { type: "boolean" },
      pubkey: { type: "string", multiple: true },
    }, { minPositionals: 1, maxPositionals: 2 });
    const [image, selector] = positionals;
    await using _lock = await lockImage(ctx, image!, "rollback");
    const { restored, saved, signature } = await rollbackImage(ctx, image!, selector, {
      force: booleanFlag(flags, "force"),
      pubkeys: stringsFlag(flags, "pubkey"),
    });
    if (signature) {
      ctx.io.out(
        `Signature verified: key ${signature.keyId}, trusted comment "${signature.trustedComment}"\n`,
      );
    }
    if (saved?.id === restored.id) {
      ctx.io.out(`The image ${image} was unchanged since snapshot ${saved.id}.\n`);
    } else if (saved) {
      ctx.io.out(
        `The state before the rollback is snapshot ${saved.id} ('rollback ${image} ${saved.id}' undoes it).\n`,
      );
    }
    ctx.io.out(`Rolled back ${image} to snapshot ${restored.id} (${restored.time}).\n`);
  },
};
