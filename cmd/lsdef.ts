// lsdef: display object definitions in xCAT's long, name-list, -c, stanza or JSON form.

import { commaList } from "../formats/xcat/comma_list.ts";
import { booleanFlag, type Command, parseFlags, stringFlag, stringsFlag } from "../core/command.ts";
import { listDefinitions } from "../core/definitions/definition_listing.ts";
import { formatLsdefListing } from "../formats/xcat/lsdef_text.ts";

export const lsdef: Command = {
  name: "lsdef",
  usage: `Usage: lsdef - List xCAT data object definitions.
  lsdef [-h | --help ] [-t object-types]
  lsdef [-V | --verbose] [-t object-types] [-o object-names]
      [ -l | --long] [-s | --short] [-a | --all] [-S]
      [-i attr-list] [-w attr==val [-w attr=~val] ...] [-c | --compress]
      [-z | --stanza] [--json] [noderange]

    -t   comma-separated object types (default node)
    -o   the objects: a noderange for nodes, comma-separated names for other types
    -l   long listing of every object
    -s   names only
    -a   every object of every type
    -S   include hidden nodes
    -i   only these attributes (printed even when empty)
    -c   with -i: one 'name: attr=value' line each
    -w   select objects: attr==val, attr!=val, attr=~regex, attr!~regex
    -z   stanza format (input for 'mkdef -z')
    --json  JSON array of {name, type, attributes}
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("lsdef", args, {
      t: { type: "string" },
      o: { type: "string" },
      l: { type: "boolean" },
      long: { type: "boolean" },
      s: { type: "boolean" },
      short: { type: "boolean" },
      a: { type: "boolean" },
      all: { type: "boolean" },
      S: { type: "boolean" },
      i: { type: "string" },
      c: { type: "boolean" },
      compress: { type: "boolean" },
      w: { type: "string", multiple: true },
      z: { type: "boolean" },
      stanza: { type: "boolean" },
      json: { type: "boolean" },
      V: { type: "boolean" },
      verbose: { type: "boolean" },
    }, { maxPositionals: 1 });
    const listing = await listDefinitions(ctx, {
      all: booleanFlag(flags, "a") || booleanFlag(flags, "all"),
      types: commaList(stringFlag(flags, "t") ?? "node"),
      objects: stringFlag(flags, "o"),
      range: positionals[0],
      only: stringFlag(flags, "i") === undefined ? undefined : commaList(stringFlag(flags, "i")),
      filters: stringsFlag(flags, "w"),
      includeHidden: booleanFlag(flags, "S"),
      long: booleanFlag(flags, "l") || booleanFlag(flags, "long"),
      short: booleanFlag(flags, "s") || booleanFlag(flags, "short"),
      compressed: booleanFlag(flags, "c") || booleanFlag(flags, "compress"),
      stanza: booleanFlag(flags, "z") || booleanFlag(flags, "stanza"),
      json: booleanFlag(flags, "json"),
    });
    ctx.io.out(formatLsdefListing(listing));
  },
};
