// dumpdb/restoredb: a whole database as one tabdump CSV per table, xCAT's dumpxCATdb/restorexCATdb.

import { join } from "node:path";
import { InvalidInputError, NotFoundError, OsimgError } from "../errors.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";
import {
  CsvSyntaxError,
  parseTableDump,
  serializeTableDump,
  type TableDump,
} from "../../formats/xcat/tabdump_csv.ts";
import { findTable, TABLES, type TableSpec } from "./schema.ts";
import { checkTableDump, writeTableDump } from "./tables.ts";
import type { Store } from "./store.ts";

/**
 * The tables a dump or restore leaves out: site.skiptables and the XCAT_SKIPTABLES variable
 * (comma-separated names, as xCAT reads them).
 */
export async function skippedTables(
  store: Store,
  env: Readonly<Record<string, string>>,
): Promise<Set<string>> {
  const [row] = await store.read((reader) => reader.rows("site", { key: "skiptables" }));
  return new Set([...commaList(row?.value ?? ""), ...environmentSkips(env)]);
}

/** The tables XCAT_SKIPTABLES names (known before the database is opened). */
export function environmentSkips(env: Readonly<Record<string, string>>): Set<string> {
  return new Set(commaList(env.XCAT_SKIPTABLES ?? ""));
}

/**
 * Writes `<dir>/<table>.csv` for every table osimg keeps (but `skip`), disabled rows included,
 * all read in one transaction so the files agree with each other. The directory is created when
 * missing (mode 0700) and the files are 0600: the passwd table holds passwords.
 * Returns the tables written, sorted.
 */
export async function dumpDatabase(
  store: Store,
  dir: string,
  skip: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const specs = TABLES.filter((spec) => !skip.has(spec.name))
    .sort((a, b) => a.name < b.name ? -1 : 1);
  const dumps = await store.read(async (reader) => {
    const texts: [TableSpec, string][] = [];
    for (const spec of specs) {
      const rows = await reader.rows(spec.name, {}, { includeDisabled: true });
      texts.push([spec, serializeTableDump(spec.columns, rows)]);
    }
    return texts;
  });
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    for (const [spec, text] of dumps) {
      await Deno.writeTextFile(join(dir, `${spec.name}.csv`), text, { mode: 0o600 });
    }
  } catch (error) {
    throw new OsimgError(`Cannot write the dump into '${dir}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  return dumps.map(([spec]) => spec.name);
}

/** A dump directory read and checked: what restoredb writes. */
export interface DatabaseDump {
  /** The tables with a file, checked, sorted by name. */
  tables: { spec: TableSpec; dump: TableDump }[];
  /** `.csv` files of tables osimg does not keep (a full xCAT dump has many), sorted. */
  ignored: string[];
}

/**
 * Reads and checks every `<table>.csv` of `dir` (but `skip`) before anything is written: a
 * malformed file or a row tabrestore would refuse is an error naming the file. Nothing here
 * opens the database, so bad input leaves even a missing database missing.
 */
export async function readDatabaseDump(
  dir: string,
  skip: ReadonlySet<string> = new Set(),
): Promise<DatabaseDump> {
  let names: string[];
  try {
    names = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".csv")) names.push(entry.name);
    }
  } catch (error) {
    throw new NotFoundError(`Cannot read the directory '${dir}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  names.sort();
  const ignored: string[] = [];
  const tables: DatabaseDump["tables"] = [];
  for (const name of names) {
    const table = name.slice(0, -".csv".length);
    if (!findTable(table)) {
      ignored.push(name);
      continue;
    }
    if (skip.has(table)) continue;
    const file = join(dir, name);
    let dump: TableDump;
    try {
      dump = parseTableDump(await Deno.readTextFile(file));
    } catch (error) {
      if (error instanceof CsvSyntaxError) {
        throw new InvalidInputError(`Cannot restore '${file}': ${error.message}`, {
          cause: error,
        });
      }
      throw new OsimgError(`Cannot read '${file}': ${(error as Error).message}`, { cause: error });
    }
    try {
      tables.push({ spec: checkTableDump(table, dump), dump });
    } catch (error) {
      if (error instanceof OsimgError) {
        throw new InvalidInputError(`Cannot restore '${file}': ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }
  if (tables.length === 0) {
    throw new NotFoundError(
      `There is no table to restore in '${dir}': dumpdb writes one <table>.csv per table ` +
        `(${TABLES.map((spec) => spec.name).sort().slice(0, 3).join(", ")}, ...).`,
    );
  }
  return { tables, ignored };
}

/**
 * Replaces every table of `dump` (but `skip`) with its rows, all in one transaction; tables
 * without a file are left as they are (restorexCATdb restores the files it finds). Returns the
 * tables replaced.
 */
export async function restoreDatabase(
  store: Store,
  dump: DatabaseDump,
  skip: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const tables = dump.tables.filter(({ spec }) => !skip.has(spec.name));
  await store.write(async (writer) => {
    for (const { spec, dump } of tables) await writeTableDump(writer, spec, dump);
  });
  return tables.map(({ spec }) => spec.name);
}
