// tabdump: print a table in xCAT's CSV dialect, or list the tables.

import { booleanFlag, type Command, parseFlags, stringFlag, stringsFlag } from "../core/command.ts";
import { OsimgError } from "../core/errors.ts";
import { dumpTable, parseRowFilter, requireTable, tableNames } from "../core/store/tables.ts";
import { serializeTableDump } from "../formats/xcat/tabdump_csv.ts";
import { resolve } from "node:path";

export const tabdump: Command = {
  name: "tabdump",
  usage: `Usage:
  tabdump [-d] [table]
  tabdump      [table]
  tabdump [-f filename] [table]
  tabdump [-w attr==val] [-w attr=~val] ...] [table]
  tabdump [--json] [table]
  tabdump [-?|-h|--help]

    -d       Show descriptions of the tables, instead of the contents of the tables.
    -f       Write the table to the file instead of standard output.
    -w       Select rows: attr==val, attr!=val, attr=~regex, attr!~regex.
    --json   Print the rows as a JSON array of objects.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("tabdump", args, {
      d: { type: "boolean" },
      f: { type: "string" },
      w: { type: "string", multiple: true },
      json: { type: "boolean" },
    }, { maxPositionals: 1 });
    const [name] = positionals;
    const json = booleanFlag(flags, "json");
    if (!name) {
      const names = tableNames();
      if (booleanFlag(flags, "d")) {
        const lines = names.map((table) => `${table}: ${requireTable(table).description}`);
        ctx.io.out(json ? JSON.stringify(lines) + "\n" : lines.join("\n") + "\n");
      } else {
        ctx.io.out(json ? JSON.stringify(names) + "\n" : names.join("\n") + "\n");
      }
      return;
    }
    if (booleanFlag(flags, "d")) {
      requireTable(name).columns.forEach((column) => ctx.io.out(`${column}:\n`));
      return;
    }
    const filters = stringsFlag(flags, "w").map(parseRowFilter);
    const { spec, rows } = await dumpTable(await ctx.store(), name, filters);
    // JSON rows are the CSV's rows in the CSV's order, each with its non-empty columns in the
    // table's column order (a row as the store returns it may list them in another order).
    const text = json
      ? JSON.stringify(
        rows.map((row) =>
          Object.fromEntries(
            spec.columns.filter((column) => row[column]).map((column) => [column, row[column]]),
          )
        ),
        null,
        2,
      ) + "\n"
      : serializeTableDump(spec.columns, rows);
    const file = stringFlag(flags, "f");
    if (file) {
      try {
        await Deno.writeTextFile(resolve(ctx.cwd, file), text);
      } catch (error) {
        throw new OsimgError(`Cannot write '${file}': ${(error as Error).message}`, {
          cause: error,
        });
      }
    } else ctx.io.out(text);
  },
};
