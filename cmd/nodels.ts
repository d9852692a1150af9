// nodels: list nodes of a noderange, optionally with table.column values, as xCAT prints them.

import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { loadNodeUniverse } from "../core/node_universe.ts";
import { expandNoderange } from "../core/noderange.ts";
import { noderangeEnvironment } from "../core/noderange_environment.ts";
import { formatNodeListing, listNodeValues, parseNodelsQuery } from "../core/node_listing.ts";
import { findAttribute, findObjectType } from "../core/object_types.ts";

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
    const query = parseNodelsQuery(terms, {
      withFieldNames: booleanFlag(flags, "H") || booleanFlag(flags, "with-fieldname"),
    });
    const nodeType = findObjectType("node");
    const store = await ctx.store();
    const universe = await store.read(async (reader) => {
      // Read only the tables asked for, unless the range may select on any attribute: a
      // `table.column==value` atom, a ^file that may hold one, or a dynamic group's wherevals.
      const dynamic = (await reader.rows("nodegroup")).some((row) => row.grouptype === "dynamic");
      const anyTable = dynamic || (range !== undefined && /[=~^]/.test(range));
      return await loadNodeUniverse(reader, anyTable ? undefined : query.tables, {
        resolveAttribute: (name) => nodeType && findAttribute(nodeType, name),
      });
    });
    let nodes = range === undefined
      ? [...universe.nodes].sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
      : expandNoderange(range, universe, { ...noderangeEnvironment(ctx), verify: true });
    if (!booleanFlag(flags, "S")) {
      // Hidden nodes (FSPs/BPAs in xCAT) are left out unless -S asks for them.
      nodes = nodes.filter((node) => universe.inheritedValue("nodelist", "hidden", node) !== "1");
    }
    const listings = listNodeValues(universe, nodes, query, {
      blame: booleanFlag(flags, "b") || booleanFlag(flags, "blame"),
    });
    if (booleanFlag(flags, "json")) {
      const json = terms.length === 0 ? listings.map((listing) => listing.node) : listings;
      ctx.io.out(JSON.stringify(json, null, 2) + "\n");
      return;
    }
    ctx.io.out(formatNodeListing(listings, query.terse));
  },
};
