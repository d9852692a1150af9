// Whole-table operations: tabdump's listing and filters, tabrestore's replace or append.

import type { Store } from "./store.ts";
import { TABLES, type TableSpec } from "./schema.ts";
import { requireTable } from "./row_rules.ts";

export { requireTable };
import { InvalidInputError } from "../errors.ts";
import { rowNameProblem } from "../definitions/object_names.ts";
import type { Row, StoreWriter } from "./store.ts";
import type { TableDump } from "../../formats/xcat/tabdump_csv.ts";
import { NODE_KEYED_TABLES } from "../nodes/node_universe.ts";
import { showValue, storedValueProblem } from "./stored_value.ts";

/** Table names, sorted, as `tabdump` with no argument prints them. */
export function tableNames(): string[] {
  return TABLES.map((spec) => spec.name).sort();
}

/** A `-w` filter: `col==value`, `col!=value`, `col=~regex`, `col!~regex`. */
export interface RowFilter {
  column: string;
  operator: "==" | "!=" | "=~" | "!~";
  value: string;
}

/** Parses a tabdump/lsdef `-w` expression. */
export function parseRowFilter(expression: string): RowFilter {
  const match = /^([^=!~<>]+)(==|!=|=~|!~)(.*)$/.exec(expression);
  if (!match) {
    throw new InvalidInputError(
      `The -w expression '${expression}' is not valid. Use attr==val, attr!=val, attr=~val or attr!~val.`,
    );
  }
  const filter = {
    column: match[1]!.trim(),
    operator: match[2] as RowFilter["operator"],
    value: match[3]!,
  };
  if (filter.operator === "=~" || filter.operator === "!~") {
    try {
      new RegExp(filter.value);
    } catch {
      throw new InvalidInputError(`The regular expression '${filter.value}' is not valid.`);
    }
  }
  return filter;
}

/** Whether `value` (empty when absent) satisfies `filter`. */
export function matchesFilter(filter: RowFilter, value: string | undefined): boolean {
  const actual = value ?? "";
  switch (filter.operator) {
    case "==":
      return actual === filter.value;
    case "!=":
      return actual !== filter.value;
    case "=~":
      return new RegExp(filter.value).test(actual);
    case "!~":
      return !new RegExp(filter.value).test(actual);
  }
}

/** All rows of a table, disabled ones included (as tabdump shows them), filtered. */
export async function dumpTable(
  store: Store,
  name: string,
  filters: readonly RowFilter[] = [],
): Promise<{ spec: TableSpec; rows: Row[] }> {
  const spec = requireTable(name);
  for (const filter of filters) {
    if (!spec.columns.includes(filter.column)) {
      throw new InvalidInputError(`The table '${name}' has no column '${filter.column}'.`);
    }
  }
  const rows = await store.read((reader) => reader.rows(name, {}, { includeDisabled: true }));
  return {
    spec,
    rows: rows.filter((row) =>
      filters.every((filter) => matchesFilter(filter, row[filter.column]))
    ),
  };
}

/**
 * Replaces a table's contents with `dump` (or appends with `append`), in one transaction.
 * Unknown columns, rows without their key, and duplicate keys are refused before any change.
 */
export async function restoreTable(
  store: Store,
  name: string,
  dump: TableDump,
  append = false,
): Promise<number> {
  const spec = checkTableDump(name, dump);
  return await store.write((writer) => writeTableDump(writer, spec, dump, append));
}

/**
 * Checks that `dump` can be restored into the table `name` (its columns, keys, names and values)
 * and returns the table; throws the first problem, naming the row.
 */
export function checkTableDump(name: string, dump: TableDump): TableSpec {
  const spec = requireTable(name);
  for (const column of dump.columns) {
    if (!spec.columns.includes(column)) {
      throw new InvalidInputError(`The table '${name}' has no column '${column}'.`);
    }
  }
  const seen = new Set<string>();
  dump.rows.forEach((row, index) => {
    for (const key of spec.keys) {
      if (!row[key]) {
        throw new InvalidInputError(
          `Row ${index + 1} of the '${name}' data has no value for the key column '${key}'.`,
        );
      }
    }
    // Names restored here become paths later (rmimage, packimage): the same rules as mkdef.
    const bad = rowNameProblem(name, row);
    if (bad !== undefined) {
      throw new InvalidInputError(
        `Row ${index + 1} of the '${name}' data has an invalid ${bad.column}: ${bad.problem}`,
      );
    }
    const identity = JSON.stringify(spec.keys.map((key) => row[key]));
    if (seen.has(identity)) {
      throw new InvalidInputError(
        `Row ${index + 1} of the '${name}' data repeats the key ${
          spec.keys.map((key) => `${key}=${row[key]}`).join(",")
        }.`,
      );
    }
    seen.add(identity);
    for (const [column, value] of Object.entries(row)) {
      // Node-keyed rows (group rows included) are read through xCAT's regex evaluation.
      const problem = storedValueProblem(value, {
        regex: !spec.keys.includes(column) && NODE_KEYED_TABLES.includes(name),
        lineBreaks: true,
      });
      if (problem) {
        throw new InvalidInputError(
          `Row ${index + 1} of the '${name}' data (${
            spec.keys.map((key) => `${key}=${showValue(row[key]!)}`).join(",")
          }): the value '${showValue(value)}' of '${column}' is refused: ${problem}.`,
        );
      }
    }
  });
  return spec;
}

/** Writes a checked dump into its table inside the caller's transaction; returns the row count. */
export async function writeTableDump(
  writer: StoreWriter,
  spec: TableSpec,
  dump: TableDump,
  append = false,
): Promise<number> {
  const name = spec.name;
  if (!append) await writer.delete(name, {});
  // Issued without waiting for each: a server store pipelines them on its one transaction's
  // connection, in this order (a round trip per row made restoredb of 50,000 rows take seconds).
  const pending: Promise<unknown>[] = [];
  for (const row of dump.rows) {
    if (append) {
      // tabrestore -a adds rows; a row with an existing key replaces it whole.
      pending.push(
        writer.delete(name, Object.fromEntries(spec.keys.map((key) => [key, row[key]!]))),
      );
    }
    pending.push(writer.upsert(name, row));
  }
  await Promise.all(pending);
  return dump.rows.length;
}
