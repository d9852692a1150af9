// Tests for the litefile.save list format.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { isLinkEntry, parseLitefileSave, serializeLitefileSave } from "./litefile_save.ts";

Deno.test("litefile.save: round trip, blank lines, paths with blanks", () => {
  const entries = [
    { options: "link", file: "/etc/hosts" },
    { options: "link,persistent", file: "/var/lib/my dir/" },
    { options: "tmpfs", file: "/tmp/" },
  ];
  const text = serializeLitefileSave(entries);
  assertEquals(text, "link\t/etc/hosts\nlink,persistent\t/var/lib/my dir/\ntmpfs\t/tmp/\n");
  assertEquals(parseLitefileSave(text + "\n\n"), entries);
  assertEquals(parseLitefileSave(""), []);
});

Deno.test("isLinkEntry: every link* option, nothing else", () => {
  for (const options of ["link", "link,ro", "link,persistent", "link,con"]) {
    ok(isLinkEntry({ options, file: "/x" }), options);
  }
  for (const options of ["tmpfs", "persistent", "ro", "con", "rw", "localdisk"]) {
    ok(!isLinkEntry({ options, file: "/x" }), options);
  }
});
