// mkdef: create object definitions from attr=val pairs or stanzas.

import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { defineObjects } from "../core/definitions/definitions.ts";
import { UsageError } from "../core/errors.ts";
import { changesFromArguments, reportDefineResult } from "./define_shared.ts";

export const mkdef: Command = {
  name: "mkdef",
  usage: `Usage: mkdef - Create xCAT data object definitions.
  mkdef [-h | --help ] [-t object-types]
  mkdef [-V | --verbose] [-t object-types] [-o object-names] [-z|--stanza]
      [-f | --force] [noderange] [attr=val [attr=val...]]

    -t   the object type (node, group, osimage, network, site, osdistro, osdistroupdate,
         kit, kitrepo, kitcomponent); default node
    -o   the objects: a noderange for nodes, comma-separated names for other types
    -z   read stanzas from standard input (the 'lsdef -z' format)
    -f   replace an existing definition instead of leaving it unchanged
    -V   verbose
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("mkdef", args, {
      t: { type: "string" },
      o: { type: "string" },
      z: { type: "boolean" },
      stanza: { type: "boolean" },
      f: { type: "boolean" },
      force: { type: "boolean" },
      V: { type: "boolean" },
      verbose: { type: "boolean" },
      p: { type: "boolean" },
      m: { type: "boolean" },
    });
    if (booleanFlag(flags, "p") || booleanFlag(flags, "m")) {
      throw new UsageError("The '-p' and '-m' options are not valid for the mkdef command.");
    }
    const changes = await changesFromArguments(ctx, "mkdef", {
      type: stringFlag(flags, "t"),
      objectNames: stringFlag(flags, "o"),
      stanza: booleanFlag(flags, "z") || booleanFlag(flags, "stanza"),
      positionals,
    });
    const result = await defineObjects(await ctx.store(), changes, {
      verb: "mkdef",
      force: booleanFlag(flags, "f") || booleanFlag(flags, "force"),
      reporter: ctx.reporter,
    });
    reportDefineResult(ctx, result, {
      verbose: booleanFlag(flags, "V") || booleanFlag(flags, "verbose"),
    });
  },
};
