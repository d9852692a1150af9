import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { defineObjects, listObjects } from "./definitions.ts";
import { InvalidInputError } from "../errors.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";
import type { Store } from "../store/store.ts";

/** A fresh store in a temporary directory, and the warnings told to a recording reporter. */
async function fixture(): Promise<
  { store: Store; warnings: string[]; reporter: { warn(text: string): void } } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "osimg-definitions-" });
  const store = openSqliteStore(`${dir}/osimg.sqlite`);
  const warnings: string[] = [];
  return {
    store,
    warnings,
    reporter: { warn: (text) => void warnings.push(text) },
    async [Symbol.asyncDispose]() {
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function nodeRows(store: Store) {
  return await store.read((reader) => reader.rows("nodelist"));
}

Deno.test("defineObjects tells its warnings to the reporter once the objects are written", async () => {
  await using t = await fixture();
  await defineObjects(t.store, [{ type: "node", name: "cn01", attributes: { groups: "all" } }], {
    verb: "mkdef",
    reporter: t.reporter,
  });
  const result = await defineObjects(t.store, [
    { type: "node", name: "CN02", attributes: { groups: "all" } },
    { type: "node", name: "cn01", attributes: { groups: "compute" } },
  ], { verb: "mkdef", reporter: t.reporter });
  assertEquals(result, { written: ["CN02"], created: ["CN02"], hadErrors: true });
  assertEquals(t.warnings, [
    "The object name 'CN02' contains capital letters which may not be resolved correctly by the dns server.",
    "A definition for 'cn01' already exists. No changes will be made.  Run again with '-f' option to force replace.",
  ]);
});

Deno.test("a refused defineObjects tells the reporter nothing and writes nothing", async () => {
  await using t = await fixture();
  await defineObjects(t.store, [{ type: "node", name: "cn01", attributes: { groups: "all" } }], {
    verb: "mkdef",
    reporter: t.reporter,
  });
  const before = await nodeRows(t.store);
  await rejects(
    defineObjects(t.store, [
      { type: "node", name: "CN02", attributes: { groups: "all" } },
      { type: "node", name: "cn03", attributes: { nosuchattribute: "x" } },
    ], { verb: "mkdef", reporter: t.reporter }),
    (error: Error) =>
      error instanceof InvalidInputError &&
      error.message ===
        "'nosuchattribute' is not a valid attribute name for an object type of 'node'.",
  );
  assertEquals(t.warnings, []);
  assertEquals(await nodeRows(t.store), before);
});

Deno.test("listObjects warns the reporter of a stored regex value it cannot evaluate", async () => {
  await using t = await fixture();
  await t.store.write(async (writer) => {
    await writer.upsert("nodelist", { node: "cn01", groups: "compute" });
    // Written past chdef's check, as an older osimg or another tool could have stored it.
    await writer.upsert("nodetype", { node: "compute", os: "|(|x|" });
  });
  const [node] = await listObjects(t.store, { type: "node", reporter: t.reporter });
  assertEquals(node?.attributes.os, "|(|x|");
  assertEquals(t.warnings, [
    "The value '|(|x|' of 'os' cannot be evaluated (the regular expression '(' is not valid); " +
    "it is shown as stored for node 'cn01'. Correct it with chdef.",
  ]);
});
