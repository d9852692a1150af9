// nodels: list nodes of a noderange, optionally with table.column values, as xCAT prints them.

import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { formatNodeListing, formatNodeListingJson, listNodes } from "../core/nodes/node_listing.ts";

export const nodels: Command = {
  name: "nodels",
  usage: `Usage:
  nodels [noderange] [-b|--blame] [-H|--with-fieldname] [table.attribute | shortname] [-S][...]
  nodels [noderange] [-H|--with-fieldname] [table]
  nodels [-?|-h|--help]

    -b, --blame            for inherited values, name the groups they came from
    -H, --with-fieldname   print 'node: table.column: value' even for one attribute
    -S                     include hidden nodes (nodelist.hidden=1)
    --json                 print a JSON array instead of text

  Attributes: table.column, or the short names groups, tags (nodelist.groups) and mgt
  (nodehm.mgt); a table name shows all of its columns. 'table.column==value', '!=value',
  '=~regex' and '!~regex' select nodes instead of showing the column.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("nodels", args, {
      b: { type: "boolean" },
      blame: { type: "boolean" },
      H: { type: "boolean" },
      "with-fieldname": { type: "boolean" },
      S: { type: "boolean" },
      json: { type: "boolean" },
    });
    const [range, ...terms] = positionals;
    const result = await listNodes(ctx, {
      range,
      terms,
      withFieldNames: booleanFlag(flags, "H") || booleanFlag(flags, "with-fieldname"),
      includeHidden: booleanFlag(flags, "S"),
      blame: booleanFlag(flags, "b") || booleanFlag(flags, "blame"),
    });
    ctx.io.out(
      booleanFlag(flags, "json") ? formatNodeListingJson(result) : formatNodeListing(result),
    );
  },
};
