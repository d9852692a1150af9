// Tests for the exlist parser and find -path matching.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { ALWAYS_EXCLUDED, compileExlist, globSource, parseExlist } from "./exlist.ts";

Deno.test("parseExlist: excludes, + includes, - prefix, comments, blanks, INCLUDE", () => {
  const text = [
    "# RHEL compute exlist",
    "./boot*",
    "",
    "  ./usr/share/man*   # manuals",
    "-./usr/include*",
    "+./usr/share/man/man1*",
    "#INCLUDE:common.exlist#",
    "\r",
    "./var/cache/man*\r",
  ].join("\n");
  assertEquals(parseExlist(text), [
    { kind: "exclude", pattern: "./boot*", line: 2 },
    { kind: "exclude", pattern: "./usr/share/man*", line: 4 },
    { kind: "exclude", pattern: "./usr/include*", line: 5 },
    { kind: "include", pattern: "./usr/share/man/man1*", line: 6 },
    { kind: "include-file", file: "common.exlist", line: 7 },
    { kind: "exclude", pattern: "./var/cache/man*", line: 9 },
  ]);
});

Deno.test("parseExlist: a lone + or - is ignored, not an everything pattern", () => {
  assertEquals(parseExlist("+\n-\n+ # nothing\n"), []);
});

Deno.test("globSource: * and ? match '/', as find -path does", () => {
  const match = (pattern: string, path: string) =>
    new RegExp(`^${globSource(pattern)}$`).test(path);
  ok(match("./usr/share/man*", "./usr/share/man/man1/ls.1.gz"));
  ok(match("./usr/*/locale", "./usr/share/x/locale"));
  ok(match("./a?c", "./a/c"));
  ok(!match("./usr/share/man*", "./usr/share/doc"));
  ok(match("./lib/[a-c]*", "./lib/b.so"));
  ok(!match("./lib/[!a-c]*", "./lib/b.so"));
  ok(match("./lib/[!a-c]*", "./lib/d.so"));
  ok(match("./lib/[]x]", "./lib/]"));
  ok(match("./odd\\*name", "./odd*name"));
  ok(!match("./odd\\*name", "./oddXname"));
  ok(match("./a.b", "./a.b") && !match("./a.b", "./aXb"), "regex metacharacters are literal");
  ok(match("./a[b", "./a[b"), "an unclosed bracket is literal");
  ok(match("./(x)+{1}$^|", "./(x)+{1}$^|"));
});

Deno.test("compileExlist: + lines re-include paths an exclude removed", () => {
  const matcher = compileExlist({
    excludes: ["./usr/share/locale/*", "./usr/share/man*"],
    includes: ["./usr/share/locale/en_US*", "./usr/share/locale/locale.alias"],
  });
  ok(matcher.keeps("."));
  ok(matcher.keeps("./usr/share/locale"));
  ok(!matcher.keeps("./usr/share/locale/de"));
  ok(!matcher.keeps("./usr/share/locale/de/LC_MESSAGES/x.mo"));
  ok(matcher.keeps("./usr/share/locale/en_US"));
  ok(matcher.keeps("./usr/share/locale/en_US/LC_MESSAGES/x.mo"));
  ok(matcher.keeps("./usr/share/locale/locale.alias"));
  ok(!matcher.keeps("./usr/share/man"));
  ok(matcher.keeps("./usr/bin/ls"));
});

Deno.test("compileExlist: prunes only subtrees nothing can be kept from", () => {
  const matcher = compileExlist({
    excludes: ["./usr/share/locale/*", "./usr/share/man*", "./tmp", "./opt/*/cache*"],
    includes: ["./usr/share/locale/en_US*"],
  });
  ok(matcher.prunes("./usr/share/man"), "man* covers every path below man");
  ok(matcher.prunes("./usr/share/locale/de"));
  ok(!matcher.prunes("./usr/share/locale/en_US"), "re-included");
  ok(!matcher.prunes("./usr/share/locale"), "not excluded itself");
  ok(!matcher.prunes("./tmp"), "'./tmp' without * excludes the directory, not its children");
  ok(matcher.prunes("./opt/x/cache"));
  ok(!matcher.prunes("./usr/bin"));
});

Deno.test("compileExlist: an include with a wildcard prefix keeps its possible parents", () => {
  const matcher = compileExlist({ excludes: ["./usr/lib/*"], includes: ["./usr/lib/*/keep"] });
  ok(!matcher.prunes("./usr/lib/python3"), "'./usr/lib/*/keep' may match below it");
  ok(matcher.keeps("./usr/lib/python3/keep"));
  ok(!matcher.keeps("./usr/lib/python3/other"));
});

Deno.test("ALWAYS_EXCLUDED: statelite's working paths never reach the archive", () => {
  const matcher = compileExlist({ excludes: [...ALWAYS_EXCLUDED], includes: [] });
  for (
    const path of [
      "./.statelite",
      "./.statelite/tmpfs/etc",
      "./.default/etc/hosts",
      "./.statebackup",
      "./etc/init.d/statelite",
      "./etc/rc.sysinit.backup",
    ]
  ) ok(!matcher.keeps(path), path);
  ok(matcher.keeps("./etc/init.d/network"));
  ok(matcher.prunes("./.statelite"));
});
