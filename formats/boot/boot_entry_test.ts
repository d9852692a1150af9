import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  argument,
  BOOT_SERVER,
  commandLine,
  flag,
  parseKernelArguments,
  readEntryState,
} from "./boot_entry.ts";

Deno.test("parseKernelArguments splits a table's fragment on white space, at the first '='", () => {
  assertEquals(parseKernelArguments("  quiet  rd.break=pre-mount a=b=c\tx= "), [
    { name: "quiet" },
    { name: "rd.break", value: ["pre-mount"] },
    { name: "a", value: ["b=c"] },
    { name: "x", value: [""] },
  ]);
});

Deno.test("commandLine writes boot-server parts as each loader names the server", () => {
  const args = [argument("XCAT", BOOT_SERVER, ":3001"), flag("quiet"), argument("NODE", "cn01")];
  assertEquals(commandLine(args, "${next-server}"), "XCAT=${next-server}:3001 quiet NODE=cn01");
  assertEquals(commandLine(args, "%N"), "XCAT=%N:3001 quiet NODE=cn01");
  assertEquals(commandLine([], "x"), "");
});

Deno.test("readEntryState takes the state comment after an interpreter line, or none", () => {
  assertEquals(
    readEntryState("#!gpxe\n#netboot rhels9-x86_64-compute\nimgfetch"),
    "netboot rhels9-x86_64-compute",
  );
  assertEquals(readEntryState("#boot\nDEFAULT xCAT\n"), "boot");
  assertEquals(readEntryState('default="xCAT"\n'), undefined);
  assertEquals(readEntryState(""), undefined);
});
