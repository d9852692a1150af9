// restoredb: replace the tables from a dumpdb directory's <table>.csv files, in one transaction (xCAT's restorexCATdb).

import { resolve } from "node:path";
import { type Command, parseFlags, stringFlag } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import {
  environmentSkips,
  readDatabaseDump,
  restoreDatabase,
  skippedTables,
} from "../core/store/database_dump.ts";

export const restoredb: Command = {
  name: "restoredb",
  usage: `Usage:
  restoredb [-p | --path] <directory>
  restoredb [-h | --help]

    Replaces each table that has a <table>.csv in the directory (as dumpdb writes them) with
    the file's rows. All files are checked first and restored in one transaction: one bad file
    changes nothing. Tables without a file, or named in site.skiptables or XCAT_SKIPTABLES,
    are left as they are.
    -p, --path  the directory (xCAT's restorexCATdb -p)
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("restoredb", args, {
      p: { type: "string" },
      path: { type: "string" },
    }, { maxPositionals: 1 });
    const dir = stringFlag(flags, "p") ?? stringFlag(flags, "path") ?? positionals[0];
    if (dir === undefined || (positionals.length > 0 && positionals[0] !== dir)) {
      throw new UsageError("restoredb: give one directory. Run 'restoredb --help' for usage.");
    }
    // Every file is read and checked before the database is opened.
    const dump = await readDatabaseDump(resolve(ctx.cwd, dir), environmentSkips(ctx.env));
    const store = await ctx.store();
    await restoreDatabase(store, dump, await skippedTables(store, ctx.env));
    const { ignored } = dump;
    if (ignored.length > 0) {
      ctx.reporter.warn(
        `osimg keeps none of these tables, so their files were not restored: ${
          ignored.join(", ")
        }.`,
      );
    }
    ctx.reporter.line("Restore of Database Complete.");
  },
};
