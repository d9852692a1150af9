// Opening the table store: --db, OSIMG_DB or xCAT's cfgloc chooses a SQLite file or a PostgreSQL server.

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidInputError, OsimgError, UsageError } from "../errors.ts";
import { hostPath } from "../paths.ts";
import { parseCfgloc } from "../../formats/xcat/cfgloc.ts";
import { openSqliteStore, type SqliteStoreOptions } from "./sqlite_store.ts";
import { openPostgresStore } from "./postgres_store.ts";
import { connectionUrl, postgresConnection } from "./postgres_connection.ts";
import type { Store } from "./store.ts";

/**
 * Where the tables are: a SQLite file, or a PostgreSQL server (its URL may hold a password:
 * show {@linkcode describeStoreLocation} instead).
 */
export type StoreLocation =
  | { kind: "sqlite"; path: string }
  | { kind: "postgresql"; url: string };

/** xCAT's pointer to a shared database, as a management-node path. */
export const CFGLOC = "/etc/xcat/cfgloc";

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
 * Where the store is for one invocation: `--db` (or OSIMG_DB) when given; otherwise xCAT's
 * `<root>/etc/xcat/cfgloc` when it names a PostgreSQL database (a site's service and management
 * nodes share it); otherwise the SQLite file `<root><defaultPath>`.
 *
 * @example
 * ```ts
 * resolveStoreLocation({ root: "/", cwd: "/", defaultPath: "/etc/xcat/osimg.sqlite" });
 * ```
 */
export function resolveStoreLocation(
  options: { db?: string; root: string; cwd: string; defaultPath: string },
): StoreLocation {
  if (options.db) return parseStoreLocation(options.db, options.cwd);
  const cfgloc = hostPath(options.root, CFGLOC);
  if (existsSync(cfgloc)) {
    const location = cfglocLocation(readCfgloc(cfgloc), cfgloc);
    if (location) return location;
  }
  return { kind: "sqlite", path: hostPath(options.root, options.defaultPath) };
}

function readCfgloc(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new OsimgError(`Cannot read '${file}': ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The store a cfgloc's text names: a PostgreSQL URL for `Pg:`, undefined for xCAT's own SQLite
 * (osimg keeps its SQLite file), an error for the engines osimg does not speak.
 *
 * @example
 * ```ts
 * cfglocLocation("Pg:dbname=xcatdb;host=mn|xcatadm|pw", "/etc/xcat/cfgloc");
 * // { kind: "postgresql", url: "postgresql://xcatadm:pw@mn/xcatdb" }
 * ```
 */
export function cfglocLocation(text: string, file: string): StoreLocation | undefined {
  const cfgloc = parseCfgloc(text, file);
  const driver = cfgloc.driver.toLowerCase();
  if (driver === "sqlite") return undefined;
  if (driver !== "pg") {
    throw new InvalidInputError(
      `${file} names a ${cfgloc.driver} database; osimg shares only a PostgreSQL database ` +
        "(Pg:dbname=...;host=...|user|password). Give --db to use another store.",
    );
  }
  const { dbname, host, port } = cfgloc.attributes;
  if (!dbname) throw new InvalidInputError(`${file} names no database (dbname=...).`);
  const user = cfgloc.user ? encodeURIComponent(cfgloc.user) : "";
  const password = cfgloc.password ? `:${encodeURIComponent(cfgloc.password)}` : "";
  const login = user || password ? `${user}${password}@` : "";
  // A host that is a directory is the server's Unix socket (libpq's rule, as in DBD::Pg).
  const socket = host?.startsWith("/");
  const authority = !host || socket
    ? ""
    : host.includes(":")
    ? `[${host}]`
    : encodeURIComponent(host);
  const query = [
    ...(socket ? [`host=${encodeURIComponent(host!)}`] : []),
    ...(port && socket ? [`port=${encodeURIComponent(port)}`] : []),
  ];
  const portPart = port && !socket ? `:${port}` : "";
  return {
    kind: "postgresql",
    url: `postgresql://${login}${authority}${portPart}/${encodeURIComponent(dbname)}${
      query.length ? `?${query.join("&")}` : ""
    }`,
  };
}

/**
 * The location for messages and `Context.dbPath`: a SQLite file's path, or a PostgreSQL URL
 * with its defaults filled in and without its password.
 */
export function describeStoreLocation(
  location: StoreLocation,
  env: Readonly<Record<string, string>> = Deno.env.toObject(),
): string {
  return location.kind === "sqlite"
    ? location.path
    : connectionUrl(postgresConnection(location.url, env));
}

/** Options of {@linkcode openStore}. */
export interface OpenStoreOptions extends SqliteStoreOptions {
  /** Where a relative --db path is taken from (default: this process's). */
  cwd?: string;
  /** The PG* variables completing a PostgreSQL URL (default: this process's environment). */
  env?: Readonly<Record<string, string>>;
}

/**
 * Opens (and migrates) the store at `location`, a {@linkcode StoreLocation} or the text
 * {@linkcode parseStoreLocation} reads. A PostgreSQL store connects on first use.
 *
 * @example
 * ```ts
 * const store = openStore("sqlite:///tmp/r/etc/xcat/osimg.sqlite");
 * ```
 */
export function openStore(location: string | StoreLocation, options: OpenStoreOptions = {}): Store {
  const parsed = typeof location === "string"
    ? parseStoreLocation(location, options.cwd ?? Deno.cwd())
    : location;
  switch (parsed.kind) {
    case "sqlite":
      return openSqliteStore(parsed.path, options);
    case "postgresql":
      return openPostgresStore(
        postgresConnection(parsed.url, options.env ?? Deno.env.toObject()),
        options,
      );
  }
}
