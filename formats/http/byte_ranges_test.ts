// Tests of Range parsing, multipart framing and HTTP dates.

import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { httpDate, MAX_RANGES, multipartLayout, parseHttpDate, parseRange } from "./byte_ranges.ts";

Deno.test("parseRange: first-last, open-ended and suffix ranges, clamped to the size", () => {
  deepStrictEqual(parseRange("bytes=0-99, 900-, -50, 990-5000", 1000), {
    kind: "ranges",
    ranges: [
      { start: 0, end: 99 },
      { start: 900, end: 999 },
      { start: 950, end: 999 },
      { start: 990, end: 999 },
    ],
  });
  deepStrictEqual(parseRange("bytes=-5000", 1000), {
    kind: "ranges",
    ranges: [{ start: 0, end: 999 }],
  });
});

Deno.test("parseRange: no header, another unit or bad syntax is ignored (whole file)", () => {
  for (const header of [null, "items=0-1", "bytes=5-1", "bytes=a-b", "bytes=", "bytes=1"]) {
    deepStrictEqual(parseRange(header, 1000), { kind: "none" }, String(header));
  }
});

Deno.test("parseRange: ranges all past the end are unsatisfiable; an empty file has none", () => {
  deepStrictEqual(parseRange("bytes=1000-", 1000), { kind: "unsatisfiable" });
  deepStrictEqual(parseRange("bytes=0-", 0), { kind: "unsatisfiable" });
  deepStrictEqual(parseRange("bytes=-0", 1000), { kind: "unsatisfiable" });
});

Deno.test("parseRange: more than MAX_RANGES ranges is ignored, not served piecemeal", () => {
  const many = Array.from({ length: MAX_RANGES + 1 }, (_, index) => `${index}-${index}`);
  deepStrictEqual(parseRange(`bytes=${many.join(",")}`, 1000), { kind: "none" });
});

Deno.test("multipartLayout: the length counts every head, every range and the tail", () => {
  const layout = multipartLayout([{ start: 0, end: 2 }, { start: 4, end: 5 }], 6, "x/y", "B");
  const body = layout.parts[0]!.head + "hel" + layout.parts[1]!.head + "o\n" + layout.tail;
  strictEqual(layout.length, body.length);
  strictEqual(
    body,
    "--B\r\nContent-Type: x/y\r\nContent-Range: bytes 0-2/6\r\n\r\nhel" +
      "\r\n--B\r\nContent-Type: x/y\r\nContent-Range: bytes 4-5/6\r\n\r\no\n\r\n--B--\r\n",
  );
});

Deno.test("httpDate: IMF-fixdate, and parseHttpDate reads it back", () => {
  const date = new Date(Date.UTC(1994, 10, 6, 8, 49, 37));
  strictEqual(httpDate(date), "Sun, 06 Nov 1994 08:49:37 GMT");
  strictEqual(parseHttpDate(httpDate(date)), date.getTime());
  strictEqual(parseHttpDate("not a date"), undefined);
});
