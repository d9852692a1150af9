// SOURCE_DATE_EPOCH: one parser and one message for packimage, liteimg and imgexport.

import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { sourceDateEpoch } from "./source_date_epoch.ts";
import { UsageError } from "../core/errors.ts";
import { testRoot } from "../testdata/support/testing.ts";
import { rootState } from "../testdata/support/bundle_testing.ts";

Deno.test("sourceDateEpoch: whole seconds, unset or empty is undefined, anything else refused", () => {
  assertEquals(sourceDateEpoch({}), undefined);
  assertEquals(sourceDateEpoch({ SOURCE_DATE_EPOCH: "" }), undefined);
  assertEquals(sourceDateEpoch({ SOURCE_DATE_EPOCH: "0" }), 0);
  assertEquals(sourceDateEpoch({ SOURCE_DATE_EPOCH: "1600000000" }), 1600000000);
  for (const value of ["-1", "1.5", "1e9", " 1", "99999999999999999999"]) {
    throws(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: value }), UsageError, value);
  }
});

Deno.test("packimage and imgexport refuse a bad SOURCE_DATE_EPOCH alike, changing nothing", async () => {
  await using t = await testRoot();
  await t.ok(["mkdef", "-t", "osimage", "-o", "img", "provmethod=netboot", "osvers=rhels9"]);
  const before = await rootState(t);
  // packimage took any digit string (20 digits lose precision as a Number); imgexport said it
  // differently. Now both give one message with exit status 2.
  for (const value of ["yesterday", "99999999999999999999"]) {
    for (const verb of ["packimage", "imgexport"]) {
      const result = await t.run([verb, "img"], { env: { SOURCE_DATE_EPOCH: value } });
      assertEquals(
        [result.status, result.stderr],
        [2, `Error: SOURCE_DATE_EPOCH must be whole seconds since 1970, not '${value}'.\n`],
        `${verb} ${value}`,
      );
    }
  }
  assertEquals(await rootState(t), before);
});
