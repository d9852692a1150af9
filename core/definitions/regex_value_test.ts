import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  evaluateIntegerExpression,
  evaluateRegexValue,
  isRegexValue,
  regexValueProblem,
} from "./regex_value.ts";

Deno.test("isRegexValue recognises xCAT's two forms and nothing else", () => {
  assertEquals(isRegexValue("/node/bmc/"), true);
  assertEquals(isRegexValue("|\\D+(\\d+)|10.0.0.($1+0)|"), true);
  assertEquals(isRegexValue("|($1*2)|"), true);
  assertEquals(isRegexValue("10.0.0.1"), false);
  assertEquals(isRegexValue("/install/netboot/rhels9/"), false); // a slash in a part: a path
  assertEquals(isRegexValue("/a/b"), false);
  assertEquals(isRegexValue("|"), false);
  assertEquals(isRegexValue(""), false);
});

Deno.test("xCAT quirk kept: a two-part path with a trailing slash is a regex value", () => {
  // xCAT applies s/install/netboot/ to the node name: no match, so the node name comes back.
  assertEquals(isRegexValue("/install/netboot/"), true);
  assertEquals(evaluateRegexValue("/install/netboot/", "cn1"), "cn1");
});

Deno.test("the reference's example: |\\D+(\\d+)|10.0.0.($1+0)| strips zero padding", () => {
  const value = "|\\D+(\\d+)|10.0.0.($1+0)|";
  assertEquals(evaluateRegexValue(value, "node01"), "10.0.0.1");
  assertEquals(evaluateRegexValue(value, "node10"), "10.0.0.10");
  assertEquals(evaluateRegexValue(value, "cn250"), "10.0.0.250");
});

Deno.test("zero-padded numbers are decimal, not Perl octal literals", () => {
  // Perl would evaluate (08+0) as an illegal octal literal and (010+0) as 8.
  assertEquals(evaluateRegexValue("|\\D+(\\d+)|10.0.0.($1+0)|", "node08"), "10.0.0.8");
  assertEquals(evaluateRegexValue("|\\D+(\\d+)|10.0.0.($1+0)|", "node010"), "10.0.0.10");
});

Deno.test("arithmetic: multiplication, integer division, modulo, nesting, several groups", () => {
  assertEquals(evaluateRegexValue("|node(\\d+)|($1*2)|", "node21"), "42");
  assertEquals(evaluateRegexValue("|\\D+(\\d+)|rack($1/10)|", "node25"), "rack2");
  assertEquals(evaluateRegexValue("|\\D+(\\d+)|slot($1%4)|", "node25"), "slot1");
  assertEquals(
    evaluateRegexValue("|\\D+(\\d+)|10.($1/256).($1%256).(($1+1)*1)|", "n300"),
    "10.1.44.301",
  );
  assertEquals(
    evaluateRegexValue("|r(\\d+)n(\\d+)|10.$1.0.(($1-1)*16+$2)|", "r3n05"),
    "10.3.0.37",
  );
});

Deno.test("a partial match keeps the rest of the node name, like Perl's s///", () => {
  // Only the digits match, so the substitution replaces them inside the name.
  assertEquals(evaluateRegexValue("|(\\d+)|rack($1/10)|", "node25"), "noderack2");
});

Deno.test("slash form is a plain substitution with $1..$9", () => {
  assertEquals(evaluateRegexValue("/node/bmc/", "node007"), "bmc007");
  assertEquals(evaluateRegexValue("/(.*)/$1-ib/", "cn3"), "cn3-ib");
  assertEquals(evaluateRegexValue("/^cn(\\d+)$/10.1.1.$1/", "cn42"), "10.1.1.42");
  assertEquals(evaluateRegexValue("/$/.cluster/", "cn1"), "cn1.cluster");
});

Deno.test("pipe form without parentheses is a plain substitution too", () => {
  assertEquals(evaluateRegexValue("|node|bmc|", "node7"), "bmc7");
  assertEquals(evaluateRegexValue("|(\\w+)|$1-bmc|", "cn7"), "cn7-bmc");
});

Deno.test("short form |repl| captures every digit group, leading zeros dropped", () => {
  assertEquals(evaluateRegexValue("|10.0.($1).($2)|", "r01n005"), "10.0.1.5");
  assertEquals(evaluateRegexValue("|($1*2)|", "cn5"), "10");
  assertEquals(evaluateRegexValue("|bmc($1+0)|", "node0"), "bmc0");
  assertEquals(evaluateRegexValue("|($1+100)|", "node007"), "107");
});

Deno.test("integer division truncates toward zero; modulo keeps the dividend's sign", () => {
  assertEquals(evaluateIntegerExpression("(7/2)"), 3);
  assertEquals(evaluateIntegerExpression("(-7/2)"), -3);
  assertEquals(evaluateIntegerExpression("(-7%3)"), -1);
  assertEquals(evaluateIntegerExpression("((1+2)*-3)"), -9);
  assertEquals(evaluateIntegerExpression("( 4 - 1 )"), 3);
  assertEquals(evaluateIntegerExpression("2+3*4"), 14);
});

Deno.test("the evaluator refuses anything but arithmetic", () => {
  assertEquals(evaluateIntegerExpression("(1/0)"), undefined);
  assertEquals(evaluateIntegerExpression("(1%0)"), undefined);
  assertEquals(evaluateIntegerExpression("(system(1))"), undefined);
  assertEquals(evaluateIntegerExpression("(1+)"), undefined);
  assertEquals(evaluateIntegerExpression("((1)"), undefined);
  assertEquals(evaluateIntegerExpression("1 2"), undefined);
  assertEquals(evaluateIntegerExpression(""), undefined);
  // Deep nesting is refused instead of exhausting the stack.
  assertEquals(evaluateIntegerExpression("(".repeat(100000) + "1" + ")".repeat(100000)), undefined);
  assertEquals(evaluateIntegerExpression("-".repeat(100000) + "1"), undefined);
  assertEquals(evaluateIntegerExpression("(".repeat(50) + "1" + ")".repeat(50)), 1);
});

Deno.test("hostile or broken values give no value instead of running anything", () => {
  assertEquals(evaluateRegexValue("|(.*)|($1)|", "node1"), undefined); // letters in arithmetic
  assertEquals(evaluateRegexValue("|\\D+(\\d+)|($1/0)|", "node1"), undefined);
  assertEquals(evaluateRegexValue("|\\D+(\\d+)|(`rm -rf /`)|", "node1"), undefined);
  assertEquals(evaluateRegexValue("|\\D+(\\d+)|10.0.0.($1+1|", "node1"), undefined); // unbalanced
  assertEquals(evaluateRegexValue("|(|x|", "node1"), undefined); // invalid pattern
});

Deno.test("an empty result is no value; a plain value passes through", () => {
  assertEquals(evaluateRegexValue("/.*//", "node1"), undefined);
  assertEquals(evaluateRegexValue("||", "node1"), undefined);
  assertEquals(evaluateRegexValue("rhels9.2", "node1"), "rhels9.2");
  assertEquals(evaluateRegexValue("", "node1"), undefined);
});

Deno.test("a name the pattern does not match comes back unchanged (Perl s/// semantics)", () => {
  assertEquals(evaluateRegexValue("|rack(\\d+)|10.0.0.($1+0)|", "login"), "login");
  assertEquals(evaluateRegexValue("/^cn/bmc/", "node1"), "node1");
});

Deno.test("regexValueProblem names why a value can never be evaluated", () => {
  assertEquals(regexValueProblem("|(|x|"), "the regular expression '(' is not valid");
  assertEquals(
    regexValueProblem("|\\D+(\\d+)|10.0.0.($1+1|"),
    "the replacement has a '(' that is never closed",
  );
  assertEquals(regexValueProblem("/a(b/c/"), "the regular expression 'a(b' is not valid");
  assertEquals(regexValueProblem("|\\D+(\\d+)|($1)|"), undefined);
  assertEquals(regexValueProblem("plain"), undefined);
  assertEquals(regexValueProblem("|($1*2)|"), undefined);
});
