// chdef: change object definitions (set, -p append, -m remove, -n rename).

import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { defineObjects, renameObject } from "../core/definitions/definitions.ts";
import { UsageError } from "../core/errors.ts";
import { changesFromArguments, reportDefineResult } from "./define_shared.ts";

export const chdef: Command = {
  name: "chdef",
  usage: `Usage: chdef - Change xCAT data object definitions.
  chdef [-h | --help ] [-t object-types]
  chdef [-t object-types] [-o object-names] [-n new-name] [node]
  chdef [-V | --verbose] [-t object-types] [-o object-names] [-z|--stanza]
      [-m|--minus] [-p|--plus] [noderange] [attr=val [attr=val...]]

    -t   the object type (default node)
    -o   the objects: a noderange for nodes, comma-separated names for other types
    -n   rename the object
    -p   append the values to comma-separated lists (no duplicates)
    -m   remove the values from comma-separated lists
    -z   read stanzas from standard input
    -V   verbose
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("chdef", args, {
      t: { type: "string" },
      o: { type: "string" },
      n: { type: "string" },
      z: { type: "boolean" },
      stanza: { type: "boolean" },
      p: { type: "boolean" },
      plus: { type: "boolean" },
      m: { type: "boolean" },
      minus: { type: "boolean" },
      V: { type: "boolean" },
      verbose: { type: "boolean" },
    });
    const plus = booleanFlag(flags, "p") || booleanFlag(flags, "plus");
    const minus = booleanFlag(flags, "m") || booleanFlag(flags, "minus");
    const stanza = booleanFlag(flags, "z") || booleanFlag(flags, "stanza");
    if (plus && minus) throw new UsageError("Cannot combine '-p' and '-m'.");
    const newName = stringFlag(flags, "n");
    const type = stringFlag(flags, "t") ?? "node";
    if (newName !== undefined) {
      if (plus || minus || stanza) {
        throw new UsageError("The '-n' option cannot be used with '-p', '-m' or '-z'.");
      }
      const names = [...(stringFlag(flags, "o") ?? "").split(",").filter(Boolean), ...positionals];
      if (names.length !== 1) {
        throw new UsageError("The '-n' option renames exactly one object.");
      }
      await renameObject(await ctx.store(), type, names[0]!, newName);
      ctx.io.out("1 object definitions have been created or modified.\n");
      return;
    }
    const changes = await changesFromArguments(ctx, "chdef", {
      type: stringFlag(flags, "t"),
      objectNames: stringFlag(flags, "o"),
      stanza,
      positionals,
    });
    const result = await defineObjects(await ctx.store(), changes, {
      verb: "chdef",
      plus,
      minus,
      reporter: ctx.reporter,
    });
    reportDefineResult(ctx, result, {
      verbose: booleanFlag(flags, "V") || booleanFlag(flags, "verbose"),
    });
  },
};
