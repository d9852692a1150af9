import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { testRoot } from "../core/testing.ts";

Deno.test("tabdump lists the tables, sorted", async () => {
  await using t = await testRoot();
  const { stdout } = await t.ok(["tabdump"]);
  const names = stdout.trim().split("\n");
  assertEquals(names, [...names].sort());
  assertEquals(names.includes("osimage") && names.includes("linuximage"), true);
});

Deno.test("tabdump of an empty table prints the header only", async () => {
  await using t = await testRoot();
  const { stdout } = await t.ok(["tabdump", "postscripts"]);
  assertEquals(stdout, "#node,postscripts,postbootscripts,comments,disable\n");
});

Deno.test("tabdump of an unknown table fails with xCAT's message", async () => {
  await using t = await testRoot();
  const output = await t.run(["tabdump", "nosuch"]);
  assertEquals(output.status, 1);
  assertEquals(output.stderr, "Error: No such table: nosuch\n");
});
