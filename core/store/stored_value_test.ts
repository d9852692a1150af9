import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { showValue, storedValueProblem } from "./stored_value.ts";

Deno.test("storedValueProblem refuses NUL bytes, line breaks where asked, and broken regex values", () => {
  const plain = { regex: false, lineBreaks: true };
  const node = { regex: true, lineBreaks: false };
  assertEquals(storedValueProblem("rhels9.2", node), undefined);
  assertEquals(storedValueProblem("|\\D+(\\d+)|10.0.0.($1+0)|", node), undefined);
  assertEquals(
    storedValueProblem("a\0b", plain),
    "it contains a NUL byte, which the database cannot store",
  );
  assertEquals(storedValueProblem("\0", node), storedValueProblem("a\0b", plain));
  assertEquals(storedValueProblem("a\nb", plain), undefined);
  assertEquals(
    storedValueProblem("a\r\nb", node),
    "it contains a line break, which lsdef and stanza files cannot carry",
  );
  assertEquals(
    storedValueProblem("|(|x|", node),
    "it is a regular-expression value that cannot be evaluated: " +
      "the regular expression '(' is not valid",
  );
  // Where values are not read as regex values (an osimage path), the same text is fine.
  assertEquals(storedValueProblem("/a(b/c/", plain), undefined);
  assertEquals(showValue("a\0b\r\n"), "a\\0b\\r\\n");
});
