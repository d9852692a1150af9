// xCAT's comma-separated list values.

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { commaList } from "./comma_list.ts";

Deno.test("commaList trims items and drops empty ones; trim: false keeps white space (imgimport)", () => {
  assertEquals(commaList(undefined), []);
  assertEquals(commaList(""), []);
  assertEquals(commaList("rack1,compute,all"), ["rack1", "compute", "all"]);
  assertEquals(commaList(" compute , all,,\u00a0rack1\t,"), ["compute", "all", "rack1"]);
  assertEquals(commaList(",,"), []);
  assertEquals(commaList(" /a.list,,/b.list ", { trim: false }), [" /a.list", "/b.list "]);
});
