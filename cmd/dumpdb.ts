// dumpdb: write every table as <table>.csv into a directory (xCAT's dumpxCATdb).

import { resolve } from "node:path";
import { type Command, parseFlags, stringFlag } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import { dumpDatabase, skippedTables } from "../core/store/database_dump.ts";

export const dumpdb: Command = {
  name: "dumpdb",
  usage: `Usage:
  dumpdb [-p | --path] <directory>
  dumpdb [-h | --help]

    Writes one tabdump CSV file per table, <table>.csv, into the directory (created if missing);
    restoredb reads them back, into this database or another (SQLite or PostgreSQL).
    Tables named in site.skiptables or XCAT_SKIPTABLES are left out.
    -p, --path  the directory (xCAT's dumpxCATdb -p)
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("dumpdb", args, {
      p: { type: "string" },
      path: { type: "string" },
    }, { maxPositionals: 1 });
    const dir = stringFlag(flags, "p") ?? stringFlag(flags, "path") ?? positionals[0];
    if (dir === undefined || (positionals.length > 0 && positionals[0] !== dir)) {
      throw new UsageError("dumpdb: give one directory. Run 'dumpdb --help' for usage.");
    }
    const store = await ctx.store();
    await dumpDatabase(store, resolve(ctx.cwd, dir), await skippedTables(store, ctx.env));
  },
};
