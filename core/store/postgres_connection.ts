// Where a PostgreSQL store is: a libpq-style URL completed from PG* variables, as the settings the driver takes.

import { userInfo } from "node:os";
import { UsageError } from "../errors.ts";

/** libpq's sslmode values. */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

const SSL_MODES: readonly SslMode[] = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
];

/** Every setting of one PostgreSQL connection, defaults applied. */
export interface PostgresConnection {
  /** A host name or address, or (starting with "/") the directory of the server's Unix socket. */
  host: string;
  port: number;
  database: string;
  user: string;
  /** Absent: log in without one (trust, peer). Never printed. */
  password?: string;
  sslmode: SslMode;
  /** The CA certificate file for verify-ca/verify-full ("system": the system's CAs). */
  sslrootcert?: string;
  connectTimeoutSeconds: number;
}

/** libpq's compiled-in socket directory on Debian, where its postgresql package listens. */
export const DEFAULT_SOCKET_DIR = "/var/run/postgresql";

/** The URL query parameters osimg understands (libpq's names); others are refused. */
const PARAMETERS = [
  "host",
  "port",
  "dbname",
  "user",
  "password",
  "sslmode",
  "sslrootcert",
  "connect_timeout",
] as const;
type Parameter = typeof PARAMETERS[number];

/** PG* environment variables libpq reads for each parameter. */
const ENVIRONMENT: Record<Parameter, string> = {
  host: "PGHOST",
  port: "PGPORT",
  dbname: "PGDATABASE",
  user: "PGUSER",
  password: "PGPASSWORD",
  sslmode: "PGSSLMODE",
  sslrootcert: "PGSSLROOTCERT",
  connect_timeout: "PGCONNECT_TIMEOUT",
};

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError(`The database URL has a malformed %-escape in its ${what}.`);
  }
}

/**
 * Reads `postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]` (or
 * `postgres://`), libpq's URI form: a host that is a %-encoded path, or `?host=/path`, is a Unix
 * socket directory. What the URL leaves out comes from PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE, PGSSLMODE, PGSSLROOTCERT and PGCONNECT_TIMEOUT in `env`, then libpq's defaults
 * (the Debian socket directory, port 5432, the login name, a database named like the user,
 * sslmode prefer). Messages never repeat the URL: it may hold a password.
 *
 * @example
 * ```ts
 * postgresConnection("postgresql://xcatadm@mn:5432/xcatdb", {});
 * // { host: "mn", port: 5432, database: "xcatdb", user: "xcatadm", sslmode: "prefer", ... }
 * ```
 */
export function postgresConnection(
  url: string,
  env: Readonly<Record<string, string>>,
): PostgresConnection {
  const match = /^(postgres(?:ql)?):\/\/(?:([^@/?#]*)@)?([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i
    .exec(url);
  if (!match) {
    throw new UsageError(
      "The database URL is not of the form postgresql://[user[:password]@][host][:port][/dbname]" +
        "[?param=value&...].",
    );
  }
  const given: Partial<Record<Parameter, string>> = {};
  const [, , userinfo, hostport = "", path, query] = match;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(":");
    const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), "user name");
    if (user !== "") given.user = user;
    if (colon >= 0) given.password = decode(userinfo.slice(colon + 1), "password");
  }
  if (hostport !== "") {
    const hostMatch = /^(\[[^\]]*\]|[^:]*)(?::([^:]*))?$/.exec(hostport);
    if (!hostMatch || hostport.includes(",")) {
      throw new UsageError(
        "The database URL's host part is not one host[:port] (osimg connects to one server).",
      );
    }
    const host = decode(hostMatch[1]!.replace(/^\[(.*)\]$/, "$1"), "host");
    if (host !== "") given.host = host;
    if (hostMatch[2] !== undefined && hostMatch[2] !== "") given.port = hostMatch[2];
  }
  if (path !== undefined && path !== "") given.dbname = decode(path, "database name");
  for (const pair of (query ?? "").split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    const name = decode(equals < 0 ? pair : pair.slice(0, equals), "parameters");
    const value = decode(equals < 0 ? "" : pair.slice(equals + 1), `parameter '${name}'`);
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      throw new UsageError(
        `The database URL has the parameter '${name}', which osimg does not know: it takes ` +
          `${PARAMETERS.join(", ")}.`,
      );
    }
    given[name as Parameter] = value;
  }
  const setting = (name: Parameter): string | undefined => {
    const value = given[name] ?? env[ENVIRONMENT[name]];
    return value === "" ? undefined : value;
  };
  const host = setting("host") ?? DEFAULT_SOCKET_DIR;
  const portText = setting("port") ?? "5432";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new UsageError(`The PostgreSQL port '${portText}' is not a port number (1-65535).`);
  }
  const user = setting("user") ?? loginName(env);
  const sslmode = setting("sslmode") ?? "prefer";
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) {
    throw new UsageError(`The sslmode '${sslmode}' is not one of ${SSL_MODES.join(", ")}.`);
  }
  const timeoutText = setting("connect_timeout") ?? "10";
  if (!/^\d+$/.test(timeoutText)) {
    throw new UsageError(`The connect_timeout '${timeoutText}' is not a number of seconds.`);
  }
  const connection: PostgresConnection = {
    host,
    port,
    database: setting("dbname") ?? user,
    user,
    sslmode: sslmode as SslMode,
    // libpq: 0 is "wait forever"; a positive value below 2 is taken as 2.
    connectTimeoutSeconds: Number(timeoutText) === 0 ? 0 : Math.max(2, Number(timeoutText)),
  };
  const password = given.password ?? env.PGPASSWORD;
  if (password !== undefined) connection.password = password;
  const sslrootcert = setting("sslrootcert");
  if (sslrootcert !== undefined) connection.sslrootcert = sslrootcert;
  return connection;
}

function loginName(env: Readonly<Record<string, string>>): string {
  if (env.USER) return env.USER;
  if (env.LOGNAME) return env.LOGNAME;
  try {
    return userInfo().username;
  } catch {
    return "postgres";
  }
}

/** Whether the connection goes through a Unix socket (libpq: a host that is a path). */
export function isSocket(connection: PostgresConnection): boolean {
  return connection.host.startsWith("/");
}

/**
 * The server and database, for messages: `database 'xcatdb' on mn:5432`. Never the password.
 *
 * @example
 * ```ts
 * describeConnection({ host: "/run/pg", port: 5432, database: "x", ... }); // "database 'x' on the Unix socket /run/pg/.s.PGSQL.5432"
 * ```
 */
export function describeConnection(connection: PostgresConnection): string {
  const where = isSocket(connection)
    ? `the Unix socket ${connection.host}/.s.PGSQL.${connection.port}`
    : `${
      connection.host.includes(":") ? `[${connection.host}]` : connection.host
    }:${connection.port}`;
  return `database '${connection.database}' on ${where}`;
}

/**
 * The connection as a URL without its password: what `Context.dbPath` shows for a PostgreSQL
 * store.
 */
export function connectionUrl(connection: PostgresConnection): string {
  const user = encodeURIComponent(connection.user);
  const database = encodeURIComponent(connection.database);
  if (isSocket(connection)) {
    return `postgresql://${user}@/${database}?host=${
      encodeURIComponent(connection.host)
    }&port=${connection.port}`;
  }
  const host = connection.host.includes(":") ? `[${connection.host}]` : connection.host;
  return `postgresql://${user}@${host}:${connection.port}/${database}`;
}
