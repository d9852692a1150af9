// liteimg: prepare a statelite image from the litefile table (and pack it when rootfstype=ramdisk).

import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import { lockImage } from "../core/image/image_lock.ts";
import { liteImage } from "../core/pack/liteimg.ts";
import { sourceDateEpoch } from "./source_date_epoch.ts";

export const liteimg: Command = {
  name: "liteimg",
  usage: `Usage:
    liteimg [-h| --help]
    liteimg [-v| --verbose] <imagename>

    Applies the litefile entries for the image (links into /.statelite/tmpfs for link
    entries, originals kept in /.default), records them in .statelite/litefile.save, and
    when osimage.rootfstype=ramdisk packs <rootimgdir>/rootimg-statelite.gz.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("liteimg", args, {
      verbose: { type: "boolean", short: "v" },
    }, { maxPositionals: 1 });
    const [name] = positionals;
    if (!name) throw new UsageError("An image name is required, use 'liteimg <osimage name>'.");
    const epoch = sourceDateEpoch(ctx.env);
    await using _lock = await lockImage(ctx, name, "liteimg");
    const result = await liteImage(ctx, name, {
      verbose: booleanFlag(flags, "verbose"),
      ...(epoch === undefined ? {} : { sourceDateEpoch: epoch }),
    });
    if (result.archive) ctx.io.out(`Packed ${result.archive}\n`);
  },
};
