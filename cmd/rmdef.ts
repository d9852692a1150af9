// rmdef: remove object definitions.

import { noderangeEnvironment } from "../core/nodes/noderange_environment.ts";
import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { removeObjects } from "../core/definitions/definitions.ts";
import { OsimgError, UsageError } from "../core/errors.ts";

export const rmdef: Command = {
  name: "rmdef",
  usage: `Usage: rmdef - Remove xCAT data object definitions.
  rmdef [-h | --help ] [-t object-types]
  rmdef [-V | --verbose] [-a | --all] [-t object-types] [-o object-names]
      [-f | --force] [noderange]

    -t   the object type (default node)
    -o   the objects: a noderange for nodes, comma-separated names for other types
    -a   remove every object of the type (requires -f)
    -f   force
    -V   verbose
`,
  async run(ctx, args) {
    const invalid = ["d", "i", "l", "m", "p", "w", "x", "z", "s"];
    const { flags, positionals } = parseFlags("rmdef", args, {
      t: { type: "string" },
      o: { type: "string" },
      a: { type: "boolean" },
      all: { type: "boolean" },
      f: { type: "boolean" },
      force: { type: "boolean" },
      V: { type: "boolean" },
      verbose: { type: "boolean" },
      ...Object.fromEntries(invalid.map((flag) => [flag, { type: "boolean" as const }])),
    }, { maxPositionals: 1 });
    if (invalid.some((flag) => booleanFlag(flags, flag))) {
      throw new UsageError("Invalid flag specified, see rmdef manpage for details.");
    }
    const all = booleanFlag(flags, "a") || booleanFlag(flags, "all");
    const force = booleanFlag(flags, "f") || booleanFlag(flags, "force");
    if (all && !force) {
      throw new UsageError("You must use the '-f' option when using the '-a' option.");
    }
    const type = stringFlag(flags, "t") ?? "node";
    // For nodes xCAT takes -o as a noderange too, in place of a positional one.
    const nodeRange = type === "node" ? stringFlag(flags, "o") ?? positionals[0] : undefined;
    const objectNames = type === "node"
      ? []
      : (stringFlag(flags, "o") ?? "").split(",").filter(Boolean);
    const [range] = positionals;
    if (!all && objectNames.length === 0 && range === undefined && nodeRange === undefined) {
      throw new UsageError("rmdef: no object name given. Run 'rmdef --help' for usage.");
    }
    const removed = await removeObjects(await ctx.store(), type, {
      all,
      names: [...objectNames, ...(type !== "node" && range ? range.split(",") : [])],
      noderange: nodeRange,
      noderangeEnvironment: noderangeEnvironment(ctx),
    });
    if (removed.length === 0) {
      throw new OsimgError("No objects have been removed from the xCAT database.");
    }
    if (booleanFlag(flags, "V") || booleanFlag(flags, "verbose")) {
      ctx.io.out(`The following objects were removed:\n${removed.join(",")}\n`);
    }
    ctx.io.out(`${removed.length} object definitions have been removed.\n`);
  },
};
