import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseTreeinfo, treeinfoValue } from "./treeinfo.ts";

Deno.test("parseTreeinfo reads sections and key = value lines, skipping comments", () => {
  const info = parseTreeinfo(
    "# made by pungi\n[general]\n; compat\nfamily = Rocky Linux\nversion=9.3\n\n[release]\nname = Rocky Linux\nshort = Rocky\n",
  );
  assertEquals(treeinfoValue(info, "general", "family"), "Rocky Linux");
  assertEquals(treeinfoValue(info, "general", "version"), "9.3");
  assertEquals(treeinfoValue(info, "release", "short"), "Rocky");
  assertEquals(treeinfoValue(info, "release", "version"), undefined);
  assertEquals(treeinfoValue(info, "nosuch", "name"), undefined);
});

Deno.test("parseTreeinfo keeps the last of a repeated key and ignores lines that are no pair", () => {
  const info = parseTreeinfo("[general]\narch = i386\narch = x86_64\nnot a pair\n");
  assertEquals(treeinfoValue(info, "general", "arch"), "x86_64");
  assertEquals(info.get("general")?.size, 1);
});
