import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { formatLsdefListing, type LsdefListing } from "./lsdef_text.ts";

const IMAGE = { name: "img", type: "osimage", attributes: { provmethod: "netboot" } };
const listing = (form: LsdefListing["form"], extra: Partial<LsdefListing> = {}): LsdefListing => ({
  form,
  objects: [IMAGE],
  showType: false,
  allTypes: false,
  ...extra,
});

Deno.test("formatLsdefListing prints each form as lsdef always has", () => {
  assertEquals(formatLsdefListing(listing("names")), "img  (osimage)\n");
  assertEquals(formatLsdefListing(listing("names", { allTypes: true })), "img (osimage)\n");
  assertEquals(formatLsdefListing(listing("long")), "Object name: img\n    provmethod=netboot\n");
  assertEquals(
    formatLsdefListing(listing("long", { only: ["profile"], showType: true })),
    "Object name: img  (osimage)\n    profile=\n",
  );
  assertEquals(
    formatLsdefListing(listing("compressed", { only: ["provmethod"] })),
    "img: provmethod=netboot\n",
  );
  assertEquals(
    formatLsdefListing(listing("stanza", { only: ["profile"] })).split("\n").slice(1),
    ["", "img:", "    objtype=osimage", "    profile=", ""],
  );
  assertEquals(
    JSON.parse(formatLsdefListing(listing("json", { only: ["profile"] }))),
    [{ name: "img", type: "osimage", attributes: { profile: "" } }],
  );
});

Deno.test("formatLsdefListing: nothing found is xCAT's line, except in JSON", () => {
  for (const form of ["names", "long", "compressed", "stanza"] as const) {
    assertEquals(
      formatLsdefListing(listing(form, { objects: [], only: ["profile"] })),
      "Could not find any object definitions to display.\n",
    );
  }
  assertEquals(formatLsdefListing(listing("json", { objects: [] })), "[]\n");
});
