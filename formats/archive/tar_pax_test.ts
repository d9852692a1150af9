// pax extended headers as the reader applies them.

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { Entry } from "./entry.ts";
import { readTar } from "./tar_reader.ts";
import { chunked } from "../../testdata/support/tree_fixture.ts";
import { forge, forgeHeader, paxData } from "../../testdata/support/tar_fixture.ts";

Deno.test("tar reader: pax global headers apply to later members; empty values delete", async () => {
  const global = paxData([["uname", "globaluser"], ["SCHILY.xattr.user.g", "G"]]);
  const local = paxData([["uname", ""], ["path", "renamed"]]);
  const bytes = forge(
    forgeHeader({ name: "G", type: "g", size: global.length }),
    global,
    forgeHeader({ name: "a" }),
    forgeHeader({ name: "X", type: "x", size: local.length }),
    local,
    forgeHeader({ name: "b" }),
  );
  const entries: Entry[] = [];
  for await (const entry of readTar(chunked(bytes, 512))) entries.push(entry);
  assertEquals(entries.map((entry) => [entry.path, entry.uname, [...entry.xattrs.keys()]]), [
    ["a", "globaluser", ["user.g"]],
    ["renamed", "globaluser", ["user.g"]],
  ]);
});
