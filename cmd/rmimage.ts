// rmimage: remove an image's files, and with --xcatdef its definition.

import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { lockImage } from "../core/image/image_lock.ts";
import { removeImage } from "../core/image/rmimage.ts";

export const rmimage: Command = {
  name: "rmimage",
  usage: `Usage:
  rmimage [-h | --help]
  rmimage [-V | --verbose] imagename [--xcatdef]

    --xcatdef   also remove the osimage definition
    -V          list each path removed
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("rmimage", args, {
      xcatdef: { type: "boolean" },
      V: { type: "boolean" },
      verbose: { type: "boolean" },
    }, { minPositionals: 1, maxPositionals: 1 });
    const name = positionals[0]!;
    await using _lock = await lockImage(ctx, name, "rmimage");
    const result = await removeImage(ctx, name, {
      removeDefinition: booleanFlag(flags, "xcatdef"),
    });
    if (booleanFlag(flags, "V") || booleanFlag(flags, "verbose")) {
      for (const path of result.removed) ctx.io.out(`Removed ${path}\n`);
    }
    ctx.io.out(`Image files have been removed successfully from this management node.\n`);
    if (result.definitionRemoved) {
      ctx.io.out(`The osimage definition of ${name} has been removed.\n`);
    }
  },
};
