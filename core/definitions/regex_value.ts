// xCAT's regular-expression attribute values (`/pat/repl/`, `|pat|repl|`, `|repl|`) computed from a node name.
//
// xCAT (Table.pm, transRegexAttrs) lets one group row serve many nodes: a value such as
// `|\D+(\d+)|10.0.0.($1+0)|` is a substitution applied to the node's name, and parenthesised
// groups in the replacement are integer arithmetic. xCAT evaluates that arithmetic with Perl's
// `eval`; here a tiny integer evaluator does it, so a value from the database can never run code.
//
// Semantics kept from xCAT, on purpose:
// - `/pat/repl/` is recognised only when neither part contains `/` (`^/[^/]*/[^/]*/$`), exactly as
//   xCAT does. A value like `/install/netboot/` therefore *is* a regex value in xCAT and here.
// - The substitution is Perl's `s/pat/repl/`: the first match in the node name is replaced, the
//   rest of the name is kept, and a name the pattern does not match comes back unchanged.
// - `|repl|` builds the pattern `[\D0]*(\d+)` once per digit group of the node name, plus `.*$`:
//   `[\D0]*` swallows leading zeros, so for `r01n005` $1 is `1` and $2 is `5`.
// - The arithmetic is integer arithmetic (Perl's `use integer`): `/` truncates toward zero
//   (`($1/10)` of 25 is 2, of -25 is -2) and `%` keeps the sign of the dividend.
// - An empty result means "no value" (undefined), as xCAT deletes blank results.
//
// Deliberate differences, each safer than xCAT's:
// - Zero-padded numbers in the arithmetic are decimal. Perl reads `(08+0)` as a bad octal literal
//   (no value) and `(010+0)` as 8; node names are zero padded all the time, so we read 010 as 10.
// - A parenthesised group that is not integer arithmetic after `$n` substitution (letters, a
//   division by zero, unbalanced parentheses) makes the whole value undefined, where xCAT's eval
//   would silently splice an empty string into e.g. an IP address.

/** True when `value` is one of xCAT's regular-expression values. */
export function isRegexValue(value: string): boolean {
  return SLASH_FORM.test(value) || PIPE_FORM.test(value);
}

const SLASH_FORM = /^\/[^/]*\/[^/]*\/$/;
const PIPE_FORM = /^\|.*\|$/s;

/** A piece of replacement text: literal text, or capture group N ($N; 0 is `$&`). */
type TemplatePart = string | number;

/** A replacement segment: text to interpolate, or a parenthesised integer expression. */
interface Segment {
  arithmetic: boolean;
  parts: TemplatePart[];
}

/** A regex value taken apart and its replacement precompiled, once per distinct value. */
interface ParsedRegexValue {
  kind: "slash" | "pipe" | "short";
  pattern: string;
  /** Undefined when the replacement has an unbalanced '(' (the value then has no result). */
  segments: Segment[] | undefined;
}

/** Perl double-quoted replacement syntax: `$1`..`$99`, `${n}`, `$&`, backslash escapes. */
function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = "";
  let last = 0;
  for (const found of text.matchAll(/\$(\d{1,2})|\$\{(\d{1,2})\}|\$&|\\(.)/gs)) {
    literal += text.slice(last, found.index);
    last = found.index + found[0].length;
    const escaped = found[3];
    if (escaped !== undefined) {
      literal += escaped === "n" ? "\n" : escaped === "t" ? "\t" : escaped;
      continue;
    }
    if (literal) parts.push(literal);
    literal = "";
    parts.push(found[0] === "$&" ? 0 : Number(found[1] ?? found[2]));
  }
  literal += text.slice(last);
  if (literal) parts.push(literal);
  return parts;
}

/**
 * Splits a `|...|` replacement into text and arithmetic segments: each top-level balanced
 * `( ... )`, left to right, is arithmetic. Like Text::Balanced's extract_bracketed, the scan stops
 * at a ')' that comes before any '(' and leaves the rest as text; an unbalanced '(' spoils the value.
 */
function parseSegments(replacement: string): Segment[] | undefined {
  const segments: Segment[] = [];
  let index = 0;
  while (index < replacement.length) {
    const open = replacement.indexOf("(", index);
    const close = replacement.indexOf(")", index);
    if (open < 0 || (close >= 0 && close < open)) break;
    const end = matchingParen(replacement, open);
    if (end < 0) return undefined;
    if (open > index) {
      segments.push({ arithmetic: false, parts: parseTemplate(replacement.slice(index, open)) });
    }
    segments.push({ arithmetic: true, parts: parseTemplate(replacement.slice(open, end + 1)) });
    index = end + 1;
  }
  if (index < replacement.length) {
    segments.push({ arithmetic: false, parts: parseTemplate(replacement.slice(index)) });
  }
  return segments;
}

function parseUncached(value: string): ParsedRegexValue | undefined {
  if (SLASH_FORM.test(value)) {
    const inner = value.slice(1, -1);
    const slash = inner.indexOf("/");
    return {
      kind: "slash",
      pattern: inner.slice(0, slash),
      segments: [{ arithmetic: false, parts: parseTemplate(inner.slice(slash + 1)) }],
    };
  }
  if (PIPE_FORM.test(value) && value.length >= 2) {
    const inner = value.slice(1, -1);
    const bar = inner.indexOf("|");
    // Perl's split('\|', $exp, 2): at most two parts, so the replacement may itself hold '|'.
    if (bar < 0) return { kind: "short", pattern: "", segments: parseSegments(inner) };
    return {
      kind: "pipe",
      pattern: inner.slice(0, bar),
      segments: parseSegments(inner.slice(bar + 1)),
    };
  }
  return undefined;
}

const parsedValues = new Map<string, ParsedRegexValue | undefined>();

/** `parseUncached`, remembered: a group's value is parsed once for all its nodes. */
function parse(value: string): ParsedRegexValue | undefined {
  if (parsedValues.has(value)) return parsedValues.get(value);
  const parsed = parseUncached(value);
  if (parsedValues.size > 10000) parsedValues.clear();
  parsedValues.set(value, parsed);
  return parsed;
}

const compiled = new Map<string, RegExp | null>();

/** Perl pattern -> JavaScript RegExp, cached; null when the pattern is not valid. */
function compile(pattern: string): RegExp | null {
  let regexp = compiled.get(pattern);
  if (regexp === undefined) {
    try {
      // The few Perl anchors JavaScript lacks; everything else in xCAT's examples is common syntax.
      regexp = new RegExp(pattern.replaceAll("\\A", "^").replace(/\\[zZ]/g, "$"));
    } catch {
      regexp = null;
    }
    if (compiled.size > 10000) compiled.clear();
    compiled.set(pattern, regexp);
  }
  return regexp;
}

/** The pattern xCAT generates for the `|repl|` short form: one `[\D0]*(\d+)` per digit group. */
function shortFormPattern(node: string): string {
  const groups = node.match(/[\D0]*(\d+)/g)?.length ?? 0;
  return "[\\D0]*(\\d+)".repeat(groups) + ".*$";
}

/**
 * Why `value` can never be evaluated, or undefined when it can (or is not a regex value at all):
 * a pattern JavaScript's RegExp refuses, or a replacement with an unbalanced '('. mkdef, chdef
 * and tabrestore refuse such a value rather than store one that every node reads as unset.
 *
 * @example
 * ```ts
 * regexValueProblem("|(|x|"); // "the regular expression '(' is not valid"
 * regexValueProblem("|\\D+(\\d+)|10.0.0.($1+0)|"); // undefined
 * ```
 */
export function regexValueProblem(value: string): string | undefined {
  const parsed = parse(value);
  if (!parsed) return undefined;
  if (parsed.kind !== "short" && compile(parsed.pattern) === null) {
    return `the regular expression '${parsed.pattern}' is not valid`;
  }
  if (!parsed.segments) return "the replacement has a '(' that is never closed";
  return undefined;
}

function render(parts: readonly TemplatePart[], match: RegExpExecArray): string {
  let text = "";
  for (const part of parts) {
    text += typeof part === "string" ? part : part < match.length ? match[part] ?? "" : "";
  }
  return text;
}

/**
 * The value of a regex attribute value for `node`, or undefined when the result is empty or the
 * value cannot be computed. A plain (non-regex) value is returned as it is.
 *
 * @example
 * ```ts
 * evaluateRegexValue("|\\D+(\\d+)|10.0.0.($1+0)|", "node007"); // "10.0.0.7"
 * evaluateRegexValue("/node/bmc/", "node007");                 // "bmc007"
 * evaluateRegexValue("|($1*2)|", "cn5");                       // "10"
 * ```
 */
export function evaluateRegexValue(value: string, node: string): string | undefined {
  const parsed = parse(value);
  if (!parsed) return value === "" ? undefined : value;
  const pattern = parsed.kind === "short" ? shortFormPattern(node) : parsed.pattern;
  const regexp = compile(pattern);
  if (regexp === null) return undefined;
  const match = regexp.exec(node);
  // Perl's s/// leaves a string it does not match unchanged: the node name itself.
  if (!match) return node === "" ? undefined : node;
  if (!parsed.segments) return undefined;
  let replacement = "";
  for (const segment of parsed.segments) {
    const text = render(segment.parts, match);
    if (!segment.arithmetic) {
      replacement += text;
      continue;
    }
    const number = evaluateIntegerExpression(text);
    if (number === undefined) return undefined;
    replacement += String(number);
  }
  const result = node.slice(0, match.index) + replacement +
    node.slice(match.index + match[0].length);
  return result === "" ? undefined : result;
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let index = open; index < text.length; index++) {
    const char = text[index];
    if (char === "\\") {
      index++;
    } else if (char === "(") {
      depth++;
    } else if (char === ")") {
      depth--;
      if (depth === 0) return index;
    }
  }
  return -1;
}

/**
 * Evaluates integer arithmetic: decimal integers, `+ - * / %`, unary signs, parentheses and
 * spaces, with Perl `use integer` semantics (truncating division). Undefined for anything else,
 * including a division by zero. Never uses eval.
 *
 * @example
 * ```ts
 * evaluateIntegerExpression("(25/10)");    // 2
 * evaluateIntegerExpression("((7+1)*-2)"); // -16
 * ```
 */
export function evaluateIntegerExpression(expression: string): number | undefined {
  const parser = new ArithmeticParser(expression);
  const value = parser.sum();
  parser.skipSpaces();
  if (parser.failed || parser.position !== expression.length || !Number.isSafeInteger(value)) {
    return undefined;
  }
  return value;
}

/** A recursive-descent parser straight over the characters (it runs once per node). */
class ArithmeticParser {
  position = 0;
  failed = false;
  /** Open parentheses and unary signs, bounded so a hostile value cannot exhaust the stack. */
  depth = 0;

  constructor(readonly text: string) {}

  skipSpaces(): void {
    while (this.position < this.text.length && this.text.charCodeAt(this.position) <= 32) {
      this.position++;
    }
  }

  /** The next non-space character, not consumed ("" at the end). */
  peek(): string {
    this.skipSpaces();
    return this.text[this.position] ?? "";
  }

  sum(): number {
    let value = this.product();
    for (let op = this.peek(); !this.failed && (op === "+" || op === "-"); op = this.peek()) {
      this.position++;
      const right = this.product();
      value = op === "+" ? value + right : value - right;
    }
    return value;
  }

  product(): number {
    let value = this.unary();
    for (
      let op = this.peek();
      !this.failed && (op === "*" || op === "/" || op === "%");
      op = this.peek()
    ) {
      this.position++;
      const right = this.unary();
      if (op === "*") value = value * right;
      else if (right === 0) this.failed = true;
      else if (op === "/") value = Math.trunc(value / right);
      else value = value % right;
      value = value || 0; // no negative zero
    }
    return value;
  }

  unary(): number {
    if (++this.depth > 1000) {
      this.failed = true;
      return 0;
    }
    try {
      return this.signed();
    } finally {
      this.depth--;
    }
  }

  signed(): number {
    const op = this.peek();
    if (op === "-") {
      this.position++;
      return -this.unary() || 0;
    }
    if (op === "+") {
      this.position++;
      return this.unary();
    }
    return this.primary();
  }

  primary(): number {
    const char = this.peek();
    if (char === "(") {
      this.position++;
      const value = this.sum();
      if (this.peek() !== ")") this.failed = true;
      else this.position++;
      return value;
    }
    const start = this.position;
    while (this.position < this.text.length) {
      const code = this.text.charCodeAt(this.position);
      if (code < 48 || code > 57) break;
      this.position++;
    }
    if (this.position === start) {
      this.failed = true;
      return 0;
    }
    return Number(this.text.slice(start, this.position));
  }
}
