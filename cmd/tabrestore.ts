// tabrestore: replace (or with -a add to) a table's rows from a tabdump CSV file.

import { basename, resolve } from "node:path";
import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { InvalidInputError, NotFoundError } from "../core/errors.ts";
import { requireTable, restoreTable } from "../core/store/tables.ts";
import { CsvSyntaxError, parseTableDump } from "../formats/xcat/tabdump_csv.ts";

export const tabrestore: Command = {
  name: "tabrestore",
  usage: `Usage:
  tabrestore [-a] <tablename>.csv
  tabrestore [-?|-h|--help]

    The table is named by the file name without '.csv'; '-' reads standard input with -t.
    -a       add the rows to the table instead of replacing its contents
    -t name  the table name (needed when the file name does not say it)
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("tabrestore", args, {
      a: { type: "boolean" },
      t: { type: "string" },
    }, { minPositionals: 1, maxPositionals: 1 });
    const file = positionals[0]!;
    const table = (flags.t as string | undefined) ?? basename(file).replace(/\..*$/, "");
    requireTable(table);
    let text: string;
    if (file === "-") text = await ctx.io.readStdin();
    else {
      try {
        text = await Deno.readTextFile(resolve(ctx.cwd, file));
      } catch (error) {
        throw new NotFoundError(`Cannot read '${file}': ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    let dump;
    try {
      dump = parseTableDump(text);
    } catch (error) {
      if (error instanceof CsvSyntaxError) {
        throw new InvalidInputError(`Cannot restore '${file}': ${error.message}`, { cause: error });
      }
      throw error;
    }
    await restoreTable(await ctx.store(), table, dump, booleanFlag(flags, "a"));
  },
};
