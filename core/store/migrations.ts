// The schema migrations as data: portable steps each store (SQLite, PostgreSQL) applies in its own dialect.

import { TABLES } from "./schema.ts";
import { OsimgError } from "../errors.ts";

/**
 * One portable schema change. Every column is text (xCAT's tables are); key columns are NOT NULL
 * and form the primary key.
 */
export type SchemaStep =
  | {
    kind: "create-table";
    table: string;
    /** In the order the table gets them (xCAT's order). */
    columns: readonly string[];
    keys: readonly string[];
  }
  | { kind: "add-column"; table: string; column: string };

/** For a backend's exhaustive switch over SchemaStep: a kind it does not know is a bug. */
export function unhandledStep(step: never): never {
  throw new Error(`unhandled schema step ${JSON.stringify(step)}`);
}

/** A schema migration; `version` is what the database records after it ran. */
export interface Migration {
  version: number;
  description: string;
  steps: readonly SchemaStep[];
}

/**
 * Columns xCAT added after osimg's first schema; version 1 leaves them out and a later
 * migration adds them, so an old database is brought forward in order.
 */
const LATER_COLUMNS: readonly { version: number; table: string; column: string }[] = [
  // xCAT PR #7588 (July 2026) added osimage.nfsrootopts after the 2.18 releases.
  { version: 2, table: "osimage", column: "nfsrootopts" },
];

/** The ordered migrations; a store runs each once, in the transaction that records its version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "xCAT's tables as of xCAT 2.18",
    steps: TABLES.map((spec) => {
      const later = new Set(
        LATER_COLUMNS.filter((entry) => entry.table === spec.name).map((entry) => entry.column),
      );
      return {
        kind: "create-table",
        table: spec.name,
        columns: spec.columns.filter((column) => !later.has(column)),
        keys: spec.keys,
      };
    }),
  },
  {
    version: 2,
    description: "osimage.nfsrootopts (xCAT PR #7588)",
    steps: LATER_COLUMNS.filter((entry) => entry.version === 2).map((entry) => ({
      kind: "add-column",
      table: entry.table,
      column: entry.column,
    })),
  },
];

/** The version a fully migrated database has. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The refusal of a database a newer osimg migrated: the same words from every store. */
export function newerSchemaError(version: number): OsimgError {
  return new OsimgError(
    `The database is at schema version ${version}, newer than this osimg understands ` +
      `(${SCHEMA_VERSION}). Use a newer osimg.`,
  );
}
