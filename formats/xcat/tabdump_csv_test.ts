import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { CsvSyntaxError, parseTableDump, serializeTableDump } from "./tabdump_csv.ts";

const COLUMNS = ["bprofile", "kernel", "initrd", "kcmdline", "comments", "disable"];

Deno.test("serialize follows tabdump: quoted values, doubled quotes, bare empties, no trailing comma", () => {
  const text = serializeTableDump(COLUMNS, [{
    bprofile: "c7livecd",
    kernel: "vmlinuz0",
    initrd: "initrd0.img",
    kcmdline: "root=live:http://11.11.101.1:/install/e8-livecd/LiveOS/squashfs.img  console=tty0",
  }, { bprofile: 'say "x"', kernel: "" }]);
  assertEquals(
    text,
    "#bprofile,kernel,initrd,kcmdline,comments,disable\n" +
      '"c7livecd","vmlinuz0","initrd0.img","root=live:http://11.11.101.1:/install/e8-livecd/LiveOS/squashfs.img  console=tty0",,\n' +
      '"say ""x""",,,,,\n',
  );
});

Deno.test("parse round-trips serialize, including commas, quotes and newlines in values", () => {
  const rows = [
    { bprofile: "a,b", kcmdline: 'quote " and\nnewline' },
    { bprofile: "z", disable: "1" },
  ];
  assertEquals(parseTableDump(serializeTableDump(COLUMNS, rows)), { columns: COLUMNS, rows });
});

Deno.test("parse accepts quoted header names, CRLF and unquoted values", () => {
  assertEquals(parseTableDump('#"key","value"\r\nmaster,10.0.0.1\r\n'), {
    columns: ["key", "value"],
    rows: [{ key: "master", value: "10.0.0.1" }],
  });
});

Deno.test("malformed CSV is refused with a line number", () => {
  throws(() => parseTableDump('"key","value"\n'), CsvSyntaxError);
  throws(() => parseTableDump('#key,value\n"a","b","c"\n'), /line 2: 3 fields/);
  throws(() => parseTableDump('#key,value\n"a","b\n'), /unterminated/);
  throws(() => parseTableDump('#key,value\n"a"x,"b"\n'), /expected ','/);
  throws(() => parseTableDump("#key,va lue\n"), /malformed header/);
});
