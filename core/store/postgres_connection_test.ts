import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { connectionUrl, describeConnection, postgresConnection } from "./postgres_connection.ts";

const NO_ENV = { USER: "root" };

Deno.test("a postgresql URL gives host, port, database, user, password and sslmode", () => {
  const cases: [string, Record<string, unknown>][] = [
    [
      "postgresql://xcatadm:pw@mn.cluster:5433/xcatdb?sslmode=require",
      {
        host: "mn.cluster",
        port: 5433,
        database: "xcatdb",
        user: "xcatadm",
        password: "pw",
        sslmode: "require",
      },
    ],
    [
      "postgres://xcatadm@mn/xcatdb",
      { host: "mn", port: 5432, database: "xcatdb", user: "xcatadm", sslmode: "prefer" },
    ],
    [
      "postgresql://u%40x:p%3Aw%2F@[fd00::1]:6000/db%20name",
      {
        host: "fd00::1",
        port: 6000,
        database: "db name",
        user: "u@x",
        password: "p:w/",
        sslmode: "prefer",
      },
    ],
    // libpq: a %-encoded path as the host, or ?host=/path, is a Unix socket directory.
    [
      "postgresql://%2Frun%2Fpg/xcatdb",
      { host: "/run/pg", port: 5432, database: "xcatdb", user: "root", sslmode: "prefer" },
    ],
    [
      "postgresql:///xcatdb?host=/tmp/s&port=7000&user=adm&password=x&sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=3",
      {
        host: "/tmp/s",
        port: 7000,
        database: "xcatdb",
        user: "adm",
        password: "x",
        sslmode: "verify-full",
        sslrootcert: "/ca.pem",
        connectTimeoutSeconds: 3,
      },
    ],
    // Nothing given: libpq's defaults (Debian's socket directory, the login name as user and database).
    [
      "postgresql://",
      {
        host: "/var/run/postgresql",
        port: 5432,
        database: "root",
        user: "root",
        sslmode: "prefer",
      },
    ],
  ];
  for (const [url, expected] of cases) {
    assertEquals(postgresConnection(url, NO_ENV), { connectTimeoutSeconds: 10, ...expected }, url);
  }
});

Deno.test("what the URL leaves out comes from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE", () => {
  const env = {
    PGHOST: "db.site",
    PGPORT: "6432",
    PGUSER: "xcatadm",
    PGPASSWORD: "envpw",
    PGDATABASE: "xcatdb",
    PGSSLMODE: "verify-ca",
    PGSSLROOTCERT: "/etc/ca.pem",
    PGCONNECT_TIMEOUT: "1",
  };
  assertEquals(postgresConnection("postgresql://", env), {
    host: "db.site",
    port: 6432,
    database: "xcatdb",
    user: "xcatadm",
    password: "envpw",
    sslmode: "verify-ca",
    sslrootcert: "/etc/ca.pem",
    // libpq takes a timeout below 2 s as 2 s.
    connectTimeoutSeconds: 2,
  });
  // The URL wins over the environment.
  assertEquals(
    postgresConnection("postgresql://other:pw@h:1/d?sslmode=disable", env),
    {
      host: "h",
      port: 1,
      database: "d",
      user: "other",
      password: "pw",
      sslmode: "disable",
      sslrootcert: "/etc/ca.pem",
      connectTimeoutSeconds: 2,
    },
  );
});

Deno.test("a PostgreSQL URL osimg cannot use is a usage error that does not repeat it", () => {
  const refused: [string, string][] = [
    [
      "postgresql://u:hunter2@h:99999/d",
      "The PostgreSQL port '99999' is not a port number (1-65535).",
    ],
    [
      "postgresql://u:hunter2@h/d?sslmode=always",
      "The sslmode 'always' is not one of disable, allow, prefer, require, verify-ca, verify-full.",
    ],
    [
      "postgresql://u:hunter2@h/d?options=-c%20x",
      "The database URL has the parameter 'options', which osimg does not know: it takes host, port, dbname, user, password, sslmode, sslrootcert, connect_timeout.",
    ],
    [
      "postgresql://u:hunter2@h1,h2/d",
      "The database URL's host part is not one host[:port] (osimg connects to one server).",
    ],
    ["postgresql://u:hunter2%zz@h/d", "The database URL has a malformed %-escape in its password."],
    [
      "postgresql://u:hunter2@h/d?connect_timeout=soon",
      "The connect_timeout 'soon' is not a number of seconds.",
    ],
  ];
  for (const [url, message] of refused) {
    throws(() => postgresConnection(url, NO_ENV), (error: unknown) => {
      ok(error instanceof UsageError);
      assertEquals(error.message, message);
      ok(!error.message.includes("hunter2"));
      return true;
    }, url);
  }
});

Deno.test("a connection is described and shown as a URL without its password", () => {
  const tcp = postgresConnection("postgresql://adm:hunter2@mn:5433/xcatdb", NO_ENV);
  assertEquals(describeConnection(tcp), "database 'xcatdb' on mn:5433");
  assertEquals(connectionUrl(tcp), "postgresql://adm@mn:5433/xcatdb");
  const socket = postgresConnection("postgresql://adm:hunter2@%2Frun%2Fpg/xcatdb", NO_ENV);
  assertEquals(
    describeConnection(socket),
    "database 'xcatdb' on the Unix socket /run/pg/.s.PGSQL.5432",
  );
  assertEquals(connectionUrl(socket), "postgresql://adm@/xcatdb?host=%2Frun%2Fpg&port=5432");
  const v6 = postgresConnection("postgresql://adm@[fd00::1]/x", NO_ENV);
  assertEquals(describeConnection(v6), "database 'x' on [fd00::1]:5432");
  // The shown URL opens the same database.
  for (const connection of [tcp, socket, v6]) {
    const { password: _, ...rest } = connection;
    assertEquals(postgresConnection(connectionUrl(connection), NO_ENV), rest);
  }
});
