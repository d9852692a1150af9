// The PostgreSQL implementation of the table store: the migrations of migrations.ts on a shared server, writers serialized by a transaction-scoped advisory lock.

import postgres from "postgres";
import { readFileSync } from "node:fs";
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
import { describeConnection, isSocket, type PostgresConnection } from "./postgres_connection.ts";

/**
 * The column that keeps rows in insertion order (SQLite's rowid): xCAT's columns come first, in
 * xCAT's order, and osimg never shows this one. An update keeps it; a delete and insert renews it.
 */
export const ORDER_COLUMN = "osimg_seq";

/** The table recording the schema version (SQLite keeps it in PRAGMA user_version). */
export const VERSION_TABLE = "osimg_schema";

/**
 * The advisory lock every osimg write transaction takes first: writers across every management
 * and service node are serialized, as SQLite's BEGIN IMMEDIATE serializes them on one machine.
 * A lock rather than SERIALIZABLE-and-retry: a write's work may do more than SQL (write files,
 * print), and re-running it on a serialization failure would repeat that. The lock is released
 * when the transaction ends, also when its connection dies (a killed process).
 */
const WRITE_LOCK = 0x6f73696d67; // "osimg"
/** Taken while migrating, so two first openers do not both create the tables. */
const MIGRATION_LOCK = WRITE_LOCK + 1;

type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A portable schema step in PostgreSQL's dialect (IF NOT EXISTS: xCAT may have made the table). */
export function postgresStatements(step: SchemaStep): string[] {
  switch (step.kind) {
    case "create-table": {
      const defs = step.columns.map((column) =>
        `${quoteIdent(column)} TEXT${step.keys.includes(column) ? " NOT NULL" : ""}`
      );
      defs.push(`PRIMARY KEY (${step.keys.map(quoteIdent).join(", ")})`);
      return [
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(step.table)} (${defs.join(", ")})`,
        // A table xCAT created has no order column: number its rows as they lie.
        `ALTER TABLE ${quoteIdent(step.table)} ADD COLUMN IF NOT EXISTS ${ORDER_COLUMN} BIGSERIAL`,
      ];
    }
    case "add-column":
      return [
        `ALTER TABLE ${quoteIdent(step.table)} ADD COLUMN IF NOT EXISTS ${
          quoteIdent(step.column)
        } TEXT`,
      ];
    default:
      return unhandledStep(step);
  }
}

function whereClause(spec: TableSpec, where: Row, first = 1): { sql: string; values: string[] } {
  checkColumns(spec, where);
  const entries = Object.entries(where);
  if (entries.length === 0) return { sql: "", values: [] };
  const values: string[] = [];
  const terms = entries.map(([column, value]) => {
    if (value === "") return `COALESCE(${quoteIdent(column)}, '') = ''`;
    values.push(value);
    return `${quoteIdent(column)} = $${first + values.length - 1}`;
  });
  return { sql: ` WHERE ${terms.join(" AND ")}`, values };
}

/** Options for opening a PostgreSQL store. */
export interface PostgresStoreOptions {
  /** Stop migrating at this version (tests of migrations). */
  migrateTo?: number;
}

/** The driver's TLS setting for libpq's sslmode (a Unix socket never uses TLS). */
function tlsOption(connection: PostgresConnection): postgres.Options<never>["ssl"] {
  if (isSocket(connection)) return false;
  switch (connection.sslmode) {
    case "disable":
      return false;
    case "allow":
    case "prefer":
      // Encrypt when the server offers it, without checking its certificate (libpq's default).
      return "prefer";
    case "require":
      return "require";
    case "verify-ca":
    case "verify-full": {
      const options: Record<string, unknown> = { rejectUnauthorized: true };
      if (connection.sslrootcert !== undefined && connection.sslrootcert !== "system") {
        try {
          options.ca = readFileSync(connection.sslrootcert, "utf8");
        } catch (error) {
          throw new OsimgError(
            `Cannot read the sslrootcert '${connection.sslrootcert}': ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
      // verify-ca checks the chain only; verify-full also the host name (Node's default).
      if (connection.sslmode === "verify-ca") options.checkServerIdentity = () => undefined;
      return options as postgres.Options<never>["ssl"];
    }
  }
}

/** Network-level failure codes: Node's, and the driver's own. */
const CONNECTION_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOENT: "no server socket there",
  ECONNRESET: "the server closed the connection",
  EHOSTUNREACH: "the host is unreachable",
  ENETUNREACH: "the network is unreachable",
  ETIMEDOUT: "the connection timed out",
  ENOTFOUND: "the host name is unknown",
  EAI_AGAIN: "the host name could not be resolved",
  EACCES: "permission denied",
  CONNECT_TIMEOUT: "no answer within the connect timeout",
  CONNECTION_CLOSED: "the server closed the connection",
  CONNECTION_DESTROYED: "the connection was closed",
  CONNECTION_ENDED: "the connection was closed",
};

/** PostgreSQL's error classes for a refused login. */
const LOGIN_CODES = new Set(["28000", "28P01"]);

/**
 * A driver error as one clear osimg error naming the server and database (never the password);
 * other errors as they are.
 */
function translate(error: unknown, connection: PostgresConnection): unknown {
  if (error instanceof OsimgError || !(error instanceof Error)) return error;
  const where = describeConnection(connection);
  const scrub = (text: string) =>
    connection.password ? text.replaceAll(connection.password, "***") : text;
  const code = (error as { code?: unknown }).code;
  if (error instanceof postgres.PostgresError) {
    if (LOGIN_CODES.has(error.code)) {
      return new OsimgError(
        `PostgreSQL refused the login of user '${connection.user}' to the ${where}: ${
          scrub(error.message)
        }.`,
        { cause: error },
      );
    }
    if (error.code === "3D000") {
      return new OsimgError(
        `There is no PostgreSQL ${where} (create it: createdb -O ${connection.user} ${connection.database}).`,
        { cause: error },
      );
    }
    if (error.code.startsWith("08") || error.code.startsWith("53") || error.code === "57P03") {
      return new OsimgError(
        `Cannot use the PostgreSQL ${where}: ${scrub(error.message)}.`,
        { cause: error },
      );
    }
    return new OsimgError(`PostgreSQL (${where}): ${scrub(error.message)}`, { cause: error });
  }
  // Node's socket errors say which call failed; a file error from a write's work (ENOENT of
  // open, say) is not a connection failure.
  const syscall = (error as { syscall?: unknown }).syscall;
  const network = syscall === undefined
    ? typeof code === "string" && code.startsWith("CONNECT")
    : syscall === "connect" || syscall === "getaddrinfo" || syscall === "read";
  if (network && typeof code === "string" && CONNECTION_CODES[code] !== undefined) {
    return new OsimgError(`Cannot connect to the PostgreSQL ${where}: ${CONNECTION_CODES[code]}.`, {
      cause: error,
    });
  }
  if (typeof code === "string" && /CERT|TLS|SSL|SIGNATURE/.test(code)) {
    return new OsimgError(
      `Cannot connect to the PostgreSQL ${where} over TLS (sslmode ${connection.sslmode}): ${
        scrub(error.message)
      }.`,
      { cause: error },
    );
  }
  return error;
}

/** Starts an operation now; its throw (a refused row) becomes a rejection. */
function started<T>(start: () => PromiseLike<T>): Promise<T> {
  try {
    return Promise.resolve(start());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** One checked row for an upsert. */
interface PreparedUpsert {
  spec: TableSpec;
  /** The columns it sets, in the caller's order (those the table has). */
  columns: string[];
  /** Its key values, to keep a batch from naming one row twice. */
  identity: string;
  values: (string | null)[];
}

/** Upserts of one table and column set, gathered into one statement. */
interface Batch {
  first: PreparedUpsert;
  shape: string;
  rows: PreparedUpsert[];
  keys: Set<string>;
}

/** Bind parameters per batched statement (PostgreSQL takes at most 65,535). */
const BATCH_PARAMETERS = 30_000;

/**
 * The queries of one write transaction. Upserts are written behind: consecutive ones of one table
 * and column set are gathered into one multi-row INSERT ... ON CONFLICT, sent without waiting
 * (mkdef of 10,000 objects is a few statements, not 10,000 round trips). A read or delete, whose
 * answer the caller needs, first sends what is gathered, and the server runs everything in
 * order, so it sees every earlier change; it reports an earlier upsert's failure instead of its
 * own answer. Before the commit every upsert must have succeeded (`drain`): a failed one fails the
 * write, which rolls back.
 */
class Pipeline {
  readonly #tx: Tx;
  /** Settles when every statement sent so far has answered (a chain: O(1) per statement). */
  #settled: Promise<unknown> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  /**
   * The upserts gathered per table. Tables do not depend on each other (no foreign keys or
   * triggers), so only the order within a table matters: mkdef's osimage and linuximage rows,
   * interleaved, still make one statement each.
   */
  #batches = new Map<string, Batch>();

  constructor(tx: Tx) {
    this.#tx = tx;
  }

  upsert(row: PreparedUpsert): void {
    const shape = row.columns.join("\0");
    let batch = this.#batches.get(row.spec.name);
    if (
      batch && (batch.shape !== shape || batch.keys.has(row.identity) ||
        (batch.rows.length + 1) * Math.max(1, row.columns.length) > BATCH_PARAMETERS)
    ) {
      // A row a batch already names must follow it: ON CONFLICT cannot touch a row twice.
      this.#flush(batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { first: row, shape, rows: [], keys: new Set() };
      this.#batches.set(row.spec.name, batch);
    }
    batch.rows.push(row);
    batch.keys.add(row.identity);
  }

  #flushAll(): void {
    for (const batch of [...this.#batches.values()]) this.#flush(batch);
  }

  /** Sends a table's gathered upserts as one statement, not waiting for its answer. */
  #flush(batch: Batch): void {
    this.#batches.delete(batch.first.spec.name);
    const { spec, columns } = batch.first;
    const sets = columns.filter((column) => !spec.keys.includes(column));
    const conflict = sets.length === 0
      ? "DO NOTHING"
      : `DO UPDATE SET ${
        sets.map((column) => `${quoteIdent(column)} = EXCLUDED.${quoteIdent(column)}`).join(", ")
      }`;
    let parameter = 0;
    const tuples = batch.rows.map(() => `(${columns.map(() => `$${++parameter}`).join(", ")})`);
    // VALUES order is insertion order: the order column numbers the rows as listed.
    const sent = this.#tx.unsafe(
      `INSERT INTO ${quoteIdent(spec.name)} (${columns.map(quoteIdent).join(", ")}) VALUES ${
        tuples.join(", ")
      } ON CONFLICT (${spec.keys.map(quoteIdent).join(", ")}) ${conflict}`,
      batch.rows.flatMap((row) => row.values),
      // A one-row statement recurs (prepare it once); a batch's text depends on its size.
      { prepare: batch.rows.length === 1 },
    ).then(() => {}, (error) => {
      this.#failure ??= { error };
    });
    this.#settled = Promise.all([this.#settled, sent]);
  }

  /** Sends a query and gives its answer, once every earlier statement has answered. */
  ask = async <T>(start: () => PromiseLike<T>): Promise<T> => {
    // Sent before the first await, after what is gathered: the server keeps the caller's order.
    this.#flushAll();
    const sent = started(start);
    const [outcome] = await Promise.allSettled([sent, this.#settled]);
    this.#check();
    if (outcome!.status === "rejected") throw outcome!.reason;
    return outcome!.value as T;
  };

  async drain(): Promise<void> {
    this.#flushAll();
    await this.#settled;
    this.#check();
  }

  #check(): void {
    if (this.#failure) throw this.#failure.error;
  }
}

/**
 * Opens the PostgreSQL store at `connection`. Nothing is sent until first use: then the store
 * connects, refuses a database newer than this osimg, and migrates it forward in one transaction.
 *
 * @example
 * ```ts
 * const store = openPostgresStore(postgresConnection("postgresql://xcatadm@mn/xcatdb", {}));
 * await store.write((w) => w.upsert("site", { key: "domain", value: "cluster.com" }));
 * await store.close();
 * ```
 */
export function openPostgresStore(
  connection: PostgresConnection,
  options: PostgresStoreOptions = {},
): Store {
  const socket = isSocket(connection);
  const sql = postgres({
    host: connection.host,
    port: connection.port,
    ...(socket ? { path: `${connection.host}/.s.PGSQL.${connection.port}` } : {}),
    database: connection.database,
    user: connection.user,
    password: connection.password ?? "",
    ssl: tlsOption(connection),
    connect_timeout: connection.connectTimeoutSeconds === 0
      ? 24 * 3600
      : connection.connectTimeoutSeconds,
    // One command at a time uses one connection; a read beside a write may take a second.
    max: 4,
    // Every column is text: the driver need not ask the server for its types.
    fetch_types: false,
    // CREATE TABLE IF NOT EXISTS notices would otherwise be printed on stdout.
    onnotice: () => {},
    connection: { application_name: "osimg" },
  });
  return new PostgresStore(sql, connection, options.migrateTo ?? SCHEMA_VERSION);
}

async function versionOf(sql: Sql | Tx): Promise<number> {
  const [exists] = await sql.unsafe(`SELECT to_regclass('${VERSION_TABLE}') IS NOT NULL AS t`);
  if (!exists?.t) return 0;
  const [row] = await sql.unsafe(`SELECT version FROM ${VERSION_TABLE}`);
  return row ? Number(row.version) : 0;
}

/**
 * The columns of every table in the current schema (pg_catalog: information_schema.columns
 * takes tens of milliseconds, paid by every command).
 */
async function columnsOf(sql: Sql): Promise<Map<string, Set<string>>> {
  const rows = await sql.unsafe(
    "SELECT c.relname AS t, a.attname AS c FROM pg_catalog.pg_attribute a " +
      "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid " +
      "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') " +
      "AND a.attnum > 0 AND NOT a.attisdropped",
  );
  const columns = new Map<string, Set<string>>();
  for (const { t, c } of rows) {
    let set = columns.get(t);
    if (!set) columns.set(t, set = new Set());
    set.add(c);
  }
  return columns;
}

class PostgresStore implements Store {
  readonly #sql: Sql;
  readonly #connection: PostgresConnection;
  readonly #target: number;
  #ready?: Promise<void>;
  /** The write transaction in progress: reads during it see its changes, as SQLite's do. */
  #tx?: Tx;
  #pipeline?: Pipeline;
  #inWrite = false;
  /** Columns each table really has (a database migrated only part way may lack some). */
  #columns = new Map<string, Set<string>>();

  constructor(sql: Sql, connection: PostgresConnection, target: number) {
    this.#sql = sql;
    this.#connection = connection;
    this.#target = target;
  }

  #ensureReady(): Promise<void> {
    this.#ready ??= this.#migrate().catch((error) => {
      throw translate(error, this.#connection);
    });
    return this.#ready;
  }

  async #migrate(): Promise<void> {
    this.#columns = await columnsOf(this.#sql);
    const current = this.#columns.has(VERSION_TABLE)
      ? Number((await this.#sql.unsafe(`SELECT version FROM ${VERSION_TABLE}`))[0]?.version ?? 0)
      : 0;
    if (current > SCHEMA_VERSION) throw newerSchemaError(current);
    if (current < this.#target) {
      await this.#sql.begin(async (tx) => {
        await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
        await tx.unsafe(
          `CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (version INTEGER NOT NULL)`,
        );
        // Re-read under the lock: another process may have migrated meanwhile.
        const locked = await versionOf(tx);
        if (locked > SCHEMA_VERSION) throw newerSchemaError(locked);
        const statements = MIGRATIONS
          .filter((migration) => migration.version > locked && migration.version <= this.#target)
          .flatMap((migration) => migration.steps.flatMap(postgresStatements));
        // One round trip: a parameterless multi-statement query runs them in order.
        if (statements.length > 0) await tx.unsafe(statements.join(";\n"));
        if (locked < this.#target) {
          await tx.unsafe(`DELETE FROM ${VERSION_TABLE}`);
          await tx.unsafe(`INSERT INTO ${VERSION_TABLE} (version) VALUES ($1)`, [this.#target]);
        }
      });
      this.#columns = await columnsOf(this.#sql);
    }
  }

  // The three statements below send their query before they return (validation first, in the
  // caller's turn): a write's queries then reach the server in the order they were made, which
  // the write-behind of upsert relies on. Their `then` is the driver's, which sends the query.

  #rowsQuery(db: Sql | Tx, table: string, where: Row = {}, options: ReadOptions = {}) {
    const spec = requireTable(table);
    const { sql, values } = whereClause(spec, where);
    return db.unsafe(
      `SELECT * FROM ${quoteIdent(table)}${sql} ORDER BY ${ORDER_COLUMN}`,
      values,
      { prepare: true },
    ).then((raw) => {
      const rows: Row[] = [];
      for (const record of raw) {
        const row = rowOfRecord(spec, record, options);
        if (row) rows.push(row);
      }
      return rows;
    });
  }

  /** A row checked for `table` (a throw names what is wrong), ready for a batch. */
  #prepareUpsert(table: string, row: Row): PreparedUpsert {
    const spec = requireTable(table);
    const columns = columnsToWrite(spec, row, this.#columns.get(table) ?? new Set());
    return {
      spec,
      columns,
      identity: JSON.stringify(spec.keys.map((key) => row[key])),
      values: columns.map((column) => row[column] === "" ? null : row[column]!),
    };
  }

  #deleteQuery(tx: Tx, table: string, where: Row): PromiseLike<number> {
    const spec = requireTable(table);
    const { sql, values } = whereClause(spec, where);
    return tx.unsafe(`DELETE FROM ${quoteIdent(table)}${sql}`, values, { prepare: true })
      .then((result) => result.count);
  }

  #reader(run: <T>(start: () => PromiseLike<T>) => Promise<T>, db: Sql | Tx): StoreReader {
    return {
      rows: (table, where, options) => run(() => this.#rowsQuery(db, table, where, options)),
    };
  }

  async read<T>(work: (reader: StoreReader) => Promise<T>): Promise<T> {
    await this.#ensureReady();
    // Inside a write, reads see its changes (as SQLite's do), after its earlier writes.
    if (this.#tx) return await work(this.#reader(this.#pipeline!.ask, this.#tx));
    try {
      // One snapshot for the whole read: its queries agree with each other.
      return await this.#sql.begin(
        "isolation level repeatable read read only",
        (tx) => work(this.#reader(started, tx)),
      ) as T;
    } catch (error) {
      throw translate(error, this.#connection);
    }
  }

  async write<T>(work: (writer: StoreWriter) => Promise<T>): Promise<T> {
    if (this.#inWrite) throw new Error("nested Store.write transactions are not supported");
    this.#inWrite = true;
    try {
      await this.#ensureReady();
      return await this.#sql.begin(async (tx) => {
        await tx.unsafe(`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`);
        const pipeline = new Pipeline(tx);
        this.#tx = tx;
        this.#pipeline = pipeline;
        try {
          const result = await work({
            ...this.#reader(pipeline.ask, tx),
            upsert: (table, row) => {
              try {
                pipeline.upsert(this.#prepareUpsert(table, row));
                return Promise.resolve();
              } catch (error) {
                return Promise.reject(error);
              }
            },
            delete: (table, where) => pipeline.ask(() => this.#deleteQuery(tx, table, where)),
          });
          // Every upsert has landed before the driver commits (or one's failure rolls back).
          await pipeline.drain();
          return result;
        } finally {
          this.#tx = undefined;
          this.#pipeline = undefined;
        }
      }) as T;
    } catch (error) {
      throw translate(error, this.#connection);
    } finally {
      this.#inWrite = false;
    }
  }

  async schemaVersion(): Promise<number> {
    await this.#ensureReady();
    try {
      return await versionOf(this.#sql);
    } catch (error) {
      throw translate(error, this.#connection);
    }
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}
