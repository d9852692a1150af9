// The SQLite implementation of the table store (node:sqlite, WAL, the migrations of migrations.ts).

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { TableSpec } from "./schema.ts";
import { checkColumns, columnsToWrite, requireTable, rowOfRecord } from "./row_rules.ts";
import {
  MIGRATIONS,
  newerSchemaError,
  SCHEMA_VERSION,
  type SchemaStep,
  unhandledStep,
} from "./migrations.ts";
import { OsimgError } from "../errors.ts";
import type { ReadOptions, Row, Store, StoreReader, StoreWriter } from "./store.ts";

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A portable schema step in SQLite's dialect. */
export function sqliteStatement(step: SchemaStep): string {
  switch (step.kind) {
    case "create-table": {
      const defs = step.columns.map((column) =>
        `${quoteIdent(column)} TEXT${step.keys.includes(column) ? " NOT NULL" : ""}`
      );
      defs.push(`PRIMARY KEY (${step.keys.map(quoteIdent).join(", ")})`);
      return `CREATE TABLE IF NOT EXISTS ${quoteIdent(step.table)} (${defs.join(", ")})`;
    }
    case "add-column":
      return `ALTER TABLE ${quoteIdent(step.table)} ADD COLUMN ${quoteIdent(step.column)} TEXT`;
    default:
      return unhandledStep(step);
  }
}

function whereClause(spec: TableSpec, where: Row): { sql: string; values: SQLInputValue[] } {
  checkColumns(spec, where);
  const entries = Object.entries(where);
  if (entries.length === 0) return { sql: "", values: [] };
  return {
    sql: " WHERE " +
      entries.map(([column, value]) =>
        value === "" ? `COALESCE(${quoteIdent(column)}, '') = ''` : `${quoteIdent(column)} = ?`
      ).join(" AND "),
    values: entries.filter(([, value]) => value !== "").map(([, value]) => value),
  };
}

/** Options for opening a SQLite store. */
export interface SqliteStoreOptions {
  /** Milliseconds to wait for another process's write lock (default 15000). */
  busyTimeoutMs?: number;
  /** Stop migrating at this version (tests of migrations). */
  migrateTo?: number;
}

/**
 * Opens (creating when absent) the SQLite database at `path` and migrates it forward.
 *
 * @example
 * ```ts
 * const store = openSqliteStore("/tmp/r/etc/xcat/osimg.sqlite");
 * await store.write((w) => w.upsert("site", { key: "domain", value: "cluster.com" }));
 * ```
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 15000 });
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=NORMAL");
  } catch (error) {
    throw new OsimgError(`Cannot open the database '${path}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  migrate(db, options.migrateTo ?? SCHEMA_VERSION);
  return new SqliteStore(db);
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}

function migrate(db: DatabaseSync, target: number): void {
  if (userVersion(db) >= target) {
    if (userVersion(db) > SCHEMA_VERSION) throw newerSchemaError(userVersion(db));
    return;
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    // Re-read under the write lock: another process may have migrated meanwhile.
    const current = userVersion(db);
    for (const migration of MIGRATIONS) {
      if (migration.version <= current || migration.version > target) continue;
      for (const step of migration.steps) db.exec(sqliteStatement(step));
      db.exec(`PRAGMA user_version = ${migration.version}`);
    }
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * `run()`'s result as a promise, its throw as a rejection: node:sqlite is synchronous, and a
 * Store method that throws instead of rejecting escapes a caller's `.catch`.
 */
function settle<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error);
  }
}

class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #columnsCache = new Map<string, Set<string>>();
  #inWrite = false;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Columns the SQL table really has (a database mid-migration may lack some). */
  #sqlColumns(table: string): Set<string> {
    let columns = this.#columnsCache.get(table);
    if (!columns) {
      const info = this.#db.prepare(`PRAGMA table_info(${quoteIdent(table)})`).all() as {
        name: string;
      }[];
      columns = new Set(info.map((column) => column.name));
      this.#columnsCache.set(table, columns);
    }
    return columns;
  }

  #rows(table: string, where: Row = {}, options: ReadOptions = {}): Row[] {
    const spec = requireTable(table);
    const { sql, values } = whereClause(spec, where);
    const raw = this.#prepare(`SELECT * FROM ${quoteIdent(table)}${sql} ORDER BY rowid`).all(
      ...values,
    ) as Record<string, unknown>[];
    const rows: Row[] = [];
    for (const record of raw) {
      const row = rowOfRecord(spec, record, options);
      if (row) rows.push(row);
    }
    return rows;
  }

  #upsert(table: string, row: Row): void {
    const spec = requireTable(table);
    const columns = columnsToWrite(spec, row, this.#sqlColumns(table));
    const keyWhere = spec.keys.map((key) => `${quoteIdent(key)} = ?`).join(" AND ");
    const keyValues = spec.keys.map((key) => row[key]!);
    const exists = this.#prepare(`SELECT 1 FROM ${quoteIdent(table)} WHERE ${keyWhere}`).get(
      ...keyValues,
    );
    const value = (column: string): SQLInputValue => row[column] === "" ? null : row[column]!;
    if (exists) {
      const sets = columns.filter((column) => !spec.keys.includes(column));
      if (sets.length === 0) return;
      this.#prepare(
        `UPDATE ${quoteIdent(table)} SET ${
          sets.map((column) => `${quoteIdent(column)} = ?`).join(", ")
        } WHERE ${keyWhere}`,
      ).run(...sets.map(value), ...keyValues);
    } else {
      this.#prepare(
        `INSERT INTO ${quoteIdent(table)} (${columns.map(quoteIdent).join(", ")}) VALUES (${
          columns.map(() => "?").join(", ")
        })`,
      ).run(...columns.map(value));
    }
  }

  #delete(table: string, where: Row): number {
    const spec = requireTable(table);
    const { sql, values } = whereClause(spec, where);
    const result = this.#prepare(`DELETE FROM ${quoteIdent(table)}${sql}`).run(...values);
    return Number(result.changes);
  }

  read<T>(work: (reader: StoreReader) => Promise<T>): Promise<T> {
    const reader: StoreReader = {
      rows: (table, where, options) => settle(() => this.#rows(table, where, options)),
    };
    return settle(() => work(reader));
  }

  async write<T>(work: (writer: StoreWriter) => Promise<T>): Promise<T> {
    if (this.#inWrite) throw new Error("nested Store.write transactions are not supported");
    this.#inWrite = true;
    // IMMEDIATE takes the write lock up front: a deferred BEGIN that reads then writes fails
    // with SQLITE_BUSY_SNAPSHOT under contention instead of waiting (deps.md §1).
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const writer: StoreWriter = {
        rows: (table, where, options) => settle(() => this.#rows(table, where, options)),
        upsert: (table, row) => settle(() => this.#upsert(table, row)),
        delete: (table, where) => settle(() => this.#delete(table, where)),
      };
      const result = await work(writer);
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    } finally {
      this.#inWrite = false;
    }
  }

  schemaVersion(): Promise<number> {
    return Promise.resolve(userVersion(this.#db));
  }

  close(): Promise<void> {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }
}
