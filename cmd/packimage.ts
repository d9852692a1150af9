// packimage: pack a netboot image's root tree into rootimg.cpio.gz (or tar, squashfs, xz, zstd).

import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import { lockImage } from "../core/image/image_lock.ts";
import {
  findNetbootImage,
  packImage,
  requirePackCompression,
  requirePackMethod,
} from "../core/pack/pack.ts";
import { sourceDateEpoch } from "./source_date_epoch.ts";

export const packimage: Command = {
  name: "packimage",
  usage: `Usage:
    packimage [-h| --help]
    packimage [-m| --method cpio|tar|squashfs] [-c| --compress gzip|pigz|xz|zstd|none]
              [--nosyncfiles] [-v| --verbose] <imagename>
    packimage -o <osver> -p <profile> -a <arch>     (obsolete: names a netboot image)

    -m, --method     archive format: cpio (default; newc), tar (keeps xattrs), squashfs
    -c, --compress   gzip (default; parallel, like pigz), pigz (same), xz, zstd, none
    --nosyncfiles    do not copy the osimage's synclist files into the image first
    -v, --verbose    print what was synced, packed and removed

    Writes <rootimgdir>/rootimg.<method>.<gz|xz|zst> (rootimg.sfs for squashfs) under a
    temporary name and renames it into place, then removes every other rootimg.* variant.
    SOURCE_DATE_EPOCH, when set, clamps the archived mtimes.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("packimage", args, {
      method: { type: "string", short: "m" },
      compress: { type: "string", short: "c" },
      nosyncfiles: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      osver: { type: "string", short: "o" },
      profile: { type: "string", short: "p" },
      arch: { type: "string", short: "a" },
    }, { maxPositionals: 1 });
    const method = requirePackMethod(stringFlag(flags, "method") ?? "cpio");
    const compression = requirePackCompression(stringFlag(flags, "compress") ?? "gzip");
    let [name] = positionals;
    const osver = stringFlag(flags, "osver");
    const profile = stringFlag(flags, "profile");
    const arch = stringFlag(flags, "arch");
    if (osver !== undefined || profile !== undefined || arch !== undefined) {
      // xCAT refuses this form; osimg still resolves it, after saying it is obsolete.
      ctx.reporter.info(
        "-o, -p and -a options are obsoleted, please use 'packimage <osimage name>' instead.",
      );
      if (name !== undefined) {
        throw new UsageError("packimage: give either <imagename> or -o/-p/-a, not both.");
      }
      if (!osver || !profile || !arch) {
        throw new UsageError("packimage: -o, -p and -a must be given together.");
      }
      name = await findNetbootImage(ctx, osver, profile, arch);
    }
    if (!name) {
      throw new UsageError("An image name is required, use 'packimage <osimage name>'.");
    }
    const epoch = sourceDateEpoch(ctx.env);
    await using _lock = await lockImage(ctx, name, "packimage");
    await packImage(ctx, name, {
      method,
      compression,
      syncFiles: !booleanFlag(flags, "nosyncfiles"),
      verbose: booleanFlag(flags, "verbose"),
      ...(epoch === undefined ? {} : { sourceDateEpoch: epoch }),
    });
  },
};
