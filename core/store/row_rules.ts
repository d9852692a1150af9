// What every store backend checks of a row before it writes it, and how it reads one back: one set of rules, whatever the database.

import { findTable, isDisabled, type TableSpec } from "./schema.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { ReadOptions, Row } from "./store.ts";

/** The table named `name` or xCAT's error for an unknown one. */
export function requireTable(name: string): TableSpec {
  const spec = findTable(name);
  if (!spec) throw new NotFoundError(`No such table: ${name}`);
  return spec;
}

/** Refuses a row (or a where clause) naming a column the table does not have. */
export function checkColumns(spec: TableSpec, row: Row): void {
  for (const column of Object.keys(row)) {
    if (!spec.columns.includes(column)) {
      throw new InvalidInputError(`Table '${spec.name}' has no column '${column}'.`);
    }
  }
}

/**
 * The columns of `row` to write, of those the database has (`present`: a newer osimg's columns
 * are dropped by an older schema only when the migration has not run), after refusing a row
 * without its keys or with a NUL byte: neither SQLite's text binding (it ends the string there)
 * nor PostgreSQL's text can keep one, so it is refused rather than stored cut short.
 */
export function columnsToWrite(spec: TableSpec, row: Row, present: ReadonlySet<string>): string[] {
  checkColumns(spec, row);
  for (const key of spec.keys) {
    if (!row[key]) {
      throw new InvalidInputError(`A row of table '${spec.name}' needs a value for '${key}'.`);
    }
  }
  const columns = Object.keys(row).filter((column) => present.has(column));
  for (const column of columns) {
    if (row[column]!.includes("\0")) {
      throw new InvalidInputError(
        `Cannot store a NUL byte in '${spec.name}.${column}' (${
          spec.keys.map((key) => `${key}=${row[key]!.replaceAll("\0", "\\0")}`).join(",")
        }).`,
      );
    }
  }
  return columns;
}

/**
 * A database record as a Row: the table's columns that hold a non-empty string (NULL and ""
 * both mean unset); undefined for a disabled row unless the reader asked for those too.
 */
export function rowOfRecord(
  spec: TableSpec,
  record: Record<string, unknown>,
  options: ReadOptions,
): Row | undefined {
  const row: Row = {};
  for (const column of spec.columns) {
    const value = record[column];
    if (typeof value === "string" && value !== "") row[column] = value;
  }
  return !options.includeDisabled && isDisabled(row) ? undefined : row;
}
