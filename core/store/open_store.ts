// Opening the table store from --db: a file path or URL chooses the store implementation.

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.ts";
import { openSqliteStore, type SqliteStoreOptions } from "./sqlite_store.ts";
import type { Store } from "./store.ts";

/** Where the tables are: a SQLite file, or a PostgreSQL server (a later issue). */
export type StoreLocation =
  | { kind: "sqlite"; path: string }
  | { kind: "postgresql"; url: string };

/**
 * Reads `--db`'s value: a file path (relative to `cwd`), `sqlite:///absolute/path`,
 * `sqlite:relative/path`, `file:///absolute/path`, or `postgresql://...` / `postgres://...`.
 *
 * @example
 * ```ts
 * parseStoreLocation("sqlite:///etc/xcat/osimg.sqlite", "/"); // { kind: "sqlite", path: "/etc/xcat/osimg.sqlite" }
 * ```
 */
export function parseStoreLocation(location: string, cwd: string): StoreLocation {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(location)?.[1]?.toLowerCase();
  if (scheme === "postgresql" || scheme === "postgres") {
    return { kind: "postgresql", url: location };
  }
  if (scheme === "sqlite") {
    const rest = location.slice("sqlite:".length);
    if (rest.startsWith("//") && !rest.startsWith("///")) {
      throw new UsageError(
        `The database URL '${location}' names a host; a SQLite database is a local file: ` +
          "write sqlite:///absolute/path.",
      );
    }
    const path = decodeUrlPath(location, rest.startsWith("///") ? rest.slice(2) : rest);
    return { kind: "sqlite", path: resolve(cwd, path) };
  }
  if (scheme === "file") {
    try {
      return { kind: "sqlite", path: fileURLToPath(location) };
    } catch (error) {
      throw new UsageError(
        `The database URL '${location}' is not a local file URL: ${(error as Error).message}`,
      );
    }
  }
  if (scheme !== undefined && location.startsWith(`${scheme}://`)) {
    throw new UsageError(
      `Unknown database URL scheme '${scheme}:' in --db: give a file path, sqlite:///path or ` +
        "postgresql://...",
    );
  }
  // Anything else is a file name, colons included.
  return { kind: "sqlite", path: resolve(cwd, location) };
}

function decodeUrlPath(location: string, path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new UsageError(`The database URL '${location}' has a malformed %-escape.`);
  }
}

/**
 * Opens (and migrates) the store at `location`, a {@linkcode StoreLocation} or the text
 * {@linkcode parseStoreLocation} reads. PostgreSQL is refused for now, without echoing the URL
 * (it may hold a password).
 *
 * @example
 * ```ts
 * const store = openStore("sqlite:///tmp/r/etc/xcat/osimg.sqlite");
 * ```
 */
export function openStore(
  location: string | StoreLocation,
  options: SqliteStoreOptions & { cwd?: string } = {},
): Store {
  const parsed = typeof location === "string"
    ? parseStoreLocation(location, options.cwd ?? Deno.cwd())
    : location;
  switch (parsed.kind) {
    case "sqlite":
      return openSqliteStore(parsed.path, options);
    case "postgresql":
      throw new UsageError(
        "The PostgreSQL store (--db postgresql://...) is not supported yet: osimg keeps its " +
          "tables in SQLite for now; give --db a file path or sqlite:///path.",
      );
  }
}
