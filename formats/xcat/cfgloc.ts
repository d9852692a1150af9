// xCAT's /etc/xcat/cfgloc: where a hierarchical site's shared database is (`Pg:dbname=...;host=...|user|password`).

import { InvalidInputError } from "../../core/errors.ts";

/** One cfgloc: the Perl DBI driver, its DSN attributes, and the login. */
export interface Cfgloc {
  /** DBI's driver name as written: `Pg`, `mysql`, `DB2`, `SQLite`. */
  driver: string;
  /** The DSN's `name=value` attributes (`dbname`, `host`, `port`), names lower-cased. */
  attributes: Record<string, string>;
  user: string;
  password: string;
}

/**
 * Reads a cfgloc file's text. Its first line is `<driver>:<attr>=<value>;...|<user>|<password>`
 * (xCAT's db2sqlsetup/pgsqlsetup/mysqlsetup write it). The password may itself hold `|`: the
 * third field runs to the end of the line. Messages never repeat the line (it holds a password).
 *
 * @example
 * ```ts
 * parseCfgloc("Pg:dbname=xcatdb;host=10.0.0.1|xcatadm|cluster\n");
 * // { driver: "Pg", attributes: { dbname: "xcatdb", host: "10.0.0.1" }, user: "xcatadm", password: "cluster" }
 * ```
 */
export function parseCfgloc(text: string, file = "cfgloc"): Cfgloc {
  // Leading blanks go; trailing ones stay, as the end of the password (xCAT only chomps).
  const line = (text.split(/\r?\n/).find((candidate) => candidate.trim() !== "") ?? "")
    .trimStart();
  const shape = `expected '<driver>:dbname=<name>;host=<host>|<user>|<password>'`;
  const driverEnd = line.indexOf(":");
  if (driverEnd <= 0 || !/^[A-Za-z][A-Za-z0-9_]*$/.test(line.slice(0, driverEnd))) {
    throw new InvalidInputError(`${file} does not name a database driver: ${shape}.`);
  }
  const driver = line.slice(0, driverEnd);
  const [dsn = "", user = "", ...rest] = line.slice(driverEnd + 1).split("|");
  const attributes: Record<string, string> = {};
  for (const part of dsn.split(";")) {
    if (part.trim() === "") continue;
    const equals = part.indexOf("=");
    if (equals <= 0) {
      // DBI's DSN may be a bare database name (`DB2:xcatdb`, `SQLite:/etc/xcat`).
      attributes.dbname ??= part.trim();
      continue;
    }
    attributes[part.slice(0, equals).trim().toLowerCase()] = part.slice(equals + 1).trim();
  }
  // DBD::Pg takes database= and db= for dbname.
  const dbname = attributes.dbname ?? attributes.database ?? attributes.db;
  if (dbname !== undefined) attributes.dbname = dbname;
  return { driver, attributes, user: user.trim(), password: rest.join("|") };
}
