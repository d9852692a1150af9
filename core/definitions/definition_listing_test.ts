import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { type DefinitionQuery, listDefinitions } from "./definition_listing.ts";
import { InvalidInputError, UsageError } from "../errors.ts";
import { silentReporter } from "../reporter.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";

const QUERY: DefinitionQuery = {
  all: false,
  types: ["osimage"],
  filters: [],
  includeHidden: false,
  long: false,
  short: false,
  compressed: false,
  stanza: false,
  json: false,
};

Deno.test("listDefinitions picks lsdef's form: --json, -z, names unless objects are named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-listing-" });
  const store = openSqliteStore(`${dir}/osimg.sqlite`);
  try {
    await store.write((writer) =>
      writer.upsert("osimage", { imagename: "img", provmethod: "netboot" })
    );
    const ctx = {
      store: () => Promise.resolve(store),
      reporter: silentReporter,
      cwd: dir,
      env: {},
    };
    const form = async (query: Partial<DefinitionQuery>) =>
      (await listDefinitions(ctx, { ...QUERY, ...query })).form;
    assertEquals(await form({}), "names");
    assertEquals(await form({ objects: "img" }), "long");
    assertEquals(await form({ range: "img", short: true }), "names");
    assertEquals(await form({ only: ["profile"] }), "long");
    assertEquals(await form({ only: ["profile"], compressed: true }), "compressed");
    assertEquals(await form({ stanza: true, objects: "img" }), "stanza");
    assertEquals(await form({ json: true, stanza: true }), "json");
    const listing = await listDefinitions(ctx, { ...QUERY, all: true, types: [] });
    assertEquals(listing.allTypes, true);
    assertEquals(listing.showType, true);
    // -a lists every type, in the type table's order: the image, and the site's defaults.
    assertEquals(
      listing.objects.map((object) => `${object.type} ${object.name}`),
      ["osimage img", "site clustersite"],
    );
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listDefinitions refuses a bad type before -c without -i, and both before reading", async () => {
  let opened = false;
  const ctx = {
    store: () => {
      opened = true;
      return Promise.reject(new Error("the store must not be opened"));
    },
    reporter: silentReporter,
    cwd: "/",
    env: {},
  };
  await rejects(
    listDefinitions(ctx, { ...QUERY, types: ["nosuch"], compressed: true }),
    (error: Error) =>
      error instanceof InvalidInputError && /^Type 'nosuch' is not a valid/.test(error.message),
  );
  await rejects(
    listDefinitions(ctx, { ...QUERY, compressed: true }),
    (error: Error) =>
      error instanceof UsageError && error.message === "The '-c' option requires '-i'.",
  );
  assertEquals(opened, false);
});
