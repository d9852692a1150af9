// External filter programs: how a tool's failure is reported.

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { toolReason } from "./external_filter.ts";

Deno.test("toolReason keeps the tool's reason and drops prefixes and advice", () => {
  assertEquals(toolReason("xz: (stdin): Unexpected end of input\n"), "Unexpected end of input");
  assertEquals(
    toolReason("zstd: /*stdin*\\ : Read error (39) : premature end \n"),
    "Read error (39) : premature end",
  );
  assertEquals(
    toolReason(
      "\nbzip2: Data integrity error when decompressing.\n\tInput file = (stdin)\n\nYou can use",
    ),
    "Data integrity error when decompressing",
  );
});
