// The layering rule of formats/: pure codecs that depend on nothing in core but its error types.

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";

const FORMATS = fileURLToPath(new URL(".", import.meta.url));
const REPOSITORY = dirname(FORMATS.replace(/\/$/, ""));
const ALLOWED_OUTSIDE = new Set(["core/errors.ts"]);

/** Every non-test TypeScript file under `dir`, recursively (formats/ gets subfolders later). */
async function sources(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await sources(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) files.push(path);
  }
  return files.sort();
}

Deno.test("formats/ imports nothing from the rest of osimg but core/errors.ts", async () => {
  const outside: string[] = [];
  for (const file of await sources(FORMATS)) {
    const text = await Deno.readTextFile(file);
    const specifiers = [
      ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms),
      ...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
    ].map((match) => match[1]!);
    for (const specifier of specifiers) {
      if (!specifier.startsWith(".")) continue; // node: and npm: packages are not osimg code
      const target = relative(REPOSITORY, join(dirname(file), specifier));
      if (target.startsWith("formats/") || ALLOWED_OUTSIDE.has(target)) continue;
      outside.push(`${relative(REPOSITORY, file)} imports ${target}`);
    }
  }
  assertEquals(outside, []);
});
