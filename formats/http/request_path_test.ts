// Tests of request path segments: each way out of a tree refused on its own.

import { deepStrictEqual, throws } from "node:assert/strict";
import { requestSegments } from "./request_path.ts";

Deno.test("requestSegments: empty segments dropped, query cut, escapes decoded once", () => {
  deepStrictEqual(requestSegments("//install//netboot/a%20b.gz?x=1#y"), [
    "install",
    "netboot",
    "a b.gz",
  ]);
  // Double encoding stays one level deep: %252e%252e is the literal name "%2e%2e".
  deepStrictEqual(requestSegments("/install/%252e%252e/x"), ["install", "%2e%2e", "x"]);
});

Deno.test("requestSegments: a raw '..' segment is refused", () => {
  throws(() => requestSegments("/install/../etc/passwd"), /'\.\.' segment/);
});

Deno.test("requestSegments: an encoded '..' (%2e%2e, %2E%2e) is refused", () => {
  throws(() => requestSegments("/install/%2e%2e/etc"), /'\.\.' segment/);
  throws(() => requestSegments("/install/%2E%2e/etc"), /'\.\.' segment/);
});

Deno.test("requestSegments: an encoded slash is refused", () => {
  throws(() => requestSegments("/install/..%2f..%2fetc/passwd"), /encoded '\/'/);
});

Deno.test("requestSegments: a backslash is refused", () => {
  throws(() => requestSegments("/install/..\\..\\etc"), /backslash/);
  throws(() => requestSegments("/install/%5c"), /backslash/);
});

Deno.test("requestSegments: a NUL or control character is refused", () => {
  throws(() => requestSegments("/install/a%00.txt"), /control character/);
  throws(() => requestSegments("/install/a%0a"), /control character/);
});

Deno.test("requestSegments: a malformed escape is refused", () => {
  throws(() => requestSegments("/install/%zz"), /malformed percent escape/);
});

Deno.test("requestSegments: TFTP names are taken literally (no percent decoding)", () => {
  deepStrictEqual(requestSegments("/xcat/%2e%2e", { decode: false }), ["xcat", "%2e%2e"]);
  throws(() => requestSegments("xcat/../../etc/passwd", { decode: false }), /'\.\.' segment/);
});
