import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { InvalidInputError } from "../../core/errors.ts";
import { parseCfgloc } from "./cfgloc.ts";

Deno.test("cfgloc: xCAT's Pg line gives the driver, dbname, host, user and password", () => {
  assertEquals(parseCfgloc("Pg:dbname=xcatdb;host=10.0.0.1|xcatadm|cluster\n"), {
    driver: "Pg",
    attributes: { dbname: "xcatdb", host: "10.0.0.1" },
    user: "xcatadm",
    password: "cluster",
  });
});

Deno.test("cfgloc: port, DBD::Pg's database= alias, a password holding '|' and trailing blanks", () => {
  assertEquals(parseCfgloc("\n  Pg:database=xcat;host=/var/run/postgresql;port=5433|adm|p|w \n"), {
    driver: "Pg",
    attributes: { database: "xcat", dbname: "xcat", host: "/var/run/postgresql", port: "5433" },
    user: "adm",
    password: "p|w ",
  });
});

Deno.test("cfgloc: mysql and a bare DSN (DB2) parse; the caller decides what it supports", () => {
  assertEquals(parseCfgloc("mysql:dbname=xcatdb;host=mn|xcatadmin|xcat201").driver, "mysql");
  assertEquals(parseCfgloc("DB2:xcatdb|xcatdb|secret").attributes, { dbname: "xcatdb" });
});

Deno.test("cfgloc: a line without a driver is refused without repeating the line (it holds a password)", () => {
  for (const text of ["", "dbname=x|u|hunter2", ":dbname=x|u|hunter2", "P g:x|u|hunter2"]) {
    throws(() => parseCfgloc(text, "/etc/xcat/cfgloc"), (error: unknown) => {
      ok(error instanceof InvalidInputError);
      assertEquals(
        error.message,
        "/etc/xcat/cfgloc does not name a database driver: expected " +
          "'<driver>:dbname=<name>;host=<host>|<user>|<password>'.",
      );
      return true;
    });
  }
});
