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

/** A regex value taken apart: the pattern and the replacement text (arithmetic not yet done). */
interface ParsedRegexValue {
  kind: "slash" | "pipe" | "short";
  pattern: string;
  replacement: string;
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

function parseUncached(value: string): ParsedRegexValue | undefined {
  if (SLASH_FORM.test(value)) {
    const inner = value.slice(1, -1);
    const slash = inner.indexOf("/");
    return { kind: "slash", pattern: inner.slice(0, slash), replacement: inner.slice(slash + 1) };
  }
  if (PIPE_FORM.test(value) && value.length >= 2) {
    const inner = value.slice(1, -1);
    const bar = inner.indexOf("|");
    // Perl's split('\|', $exp, 2): at most two parts, so the replacement may itself hold '|'.
    if (bar < 0) return { kind: "short", pattern: "", replacement: inner };
    return { kind: "pipe", pattern: inner.slice(0, bar), replacement: inner.slice(bar + 1) };
  }
  return undefined;
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
 * Why `value` cannot be evaluated (an invalid pattern), or undefined when it is fine or not a
 * regex value at all. mkdef/chdef can use it to refuse a broken value up front.
 */
export function regexValueProblem(value: string): string | undefined {
  const parsed = parse(value);
  if (!parsed || parsed.kind === "short") return undefined;
  if (compile(parsed.pattern) === null) {
    return `The regular expression '${parsed.pattern}' in the value '${value}' is not valid.`;
  }
  return undefined;
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
  let replacement = parsed.replacement;
  if (parsed.kind !== "slash") {
    const computed = computeArithmetic(replacement, match);
    if (computed === undefined) return undefined;
    replacement = computed;
  }
  const result = node.slice(0, match.index) + interpolate(replacement, match) +
    node.slice(match.index + match[0].length);
  return result === "" ? undefined : result;
}

/**
 * Replaces each top-level balanced `( ... )` group of the replacement, left to right, by the
 * integer value of its arithmetic after `$n` substitution. Text outside the groups is kept
 * (its `$n` are substituted later, with the rest of the replacement).
 */
function computeArithmetic(replacement: string, match: RegExpExecArray): string | undefined {
  let out = "";
  let index = 0;
  while (index < replacement.length) {
    const open = replacement.indexOf("(", index);
    const close = replacement.indexOf(")", index);
    // Like Text::Balanced's extract_bracketed: the scan stops at the first parenthesis; a ')'
    // before any '(' ends the arithmetic and the rest is left as text.
    if (open < 0 || (close >= 0 && close < open)) break;
    const end = matchingParen(replacement, open);
    if (end < 0) return undefined;
    const expression = interpolate(replacement.slice(open, end + 1), match);
    const number = evaluateIntegerExpression(expression);
    if (number === undefined) return undefined;
    out += replacement.slice(index, open) + String(number);
    index = end + 1;
  }
  return out + replacement.slice(index);
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

/** Perl double-quoted replacement interpolation: `$1`..`$99`, `${n}`, `$&`, backslash escapes. */
function interpolate(text: string, match: RegExpExecArray): string {
  if (!text.includes("$") && !text.includes("\\")) return text;
  return text.replace(
    /\$(\d{1,2})|\$\{(\d{1,2})\}|\$&|\\(.)/gs,
    (whole, digits?: string, braced?: string, escaped?: string) => {
      if (escaped !== undefined) {
        if (escaped === "n") return "\n";
        if (escaped === "t") return "\t";
        return escaped;
      }
      if (whole === "$&") return match[0];
      const group = Number(digits ?? braced);
      return group < match.length ? match[group] ?? "" : "";
    },
  );
}

/**
 * Evaluates integer arithmetic: decimal integers, `+ - * / %`, unary signs and parentheses, with
 * Perl `use integer` semantics (truncating division). Undefined for anything else, including a
 * division by zero. Never uses eval.
 *
 * @example
 * ```ts
 * evaluateIntegerExpression("(25/10)");    // 2
 * evaluateIntegerExpression("((7+1)*-2)"); // -16
 * ```
 */
export function evaluateIntegerExpression(expression: string): number | undefined {
  const tokens = expression.match(/\d+|[-+*/%()]|\S/g) ?? [];
  let position = 0;
  const peek = () => tokens[position];
  const fail = Symbol("fail");

  const primary = (): number => {
    const token = tokens[position++];
    if (token === undefined) throw fail;
    if (token === "(") {
      const value = sum();
      if (tokens[position++] !== ")") throw fail;
      return value;
    }
    if (/^\d+$/.test(token)) return Number(token);
    throw fail;
  };
  const unary = (): number => {
    const token = peek();
    if (token === "-") {
      position++;
      return -unary() || 0;
    }
    if (token === "+") {
      position++;
      return unary();
    }
    return primary();
  };
  const product = (): number => {
    let value = unary();
    for (let token = peek(); token === "*" || token === "/" || token === "%"; token = peek()) {
      position++;
      const right = unary();
      if (token === "*") value = value * right;
      else if (right === 0) throw fail;
      else if (token === "/") value = Math.trunc(value / right);
      else value = value % right;
      value = value || 0; // no negative zero
    }
    return value;
  };
  const sum = (): number => {
    let value = product();
    for (let token = peek(); token === "+" || token === "-"; token = peek()) {
      position++;
      value = token === "+" ? value + product() : value - product();
    }
    return value;
  };

  try {
    const value = sum();
    if (position !== tokens.length || !Number.isSafeInteger(value)) return undefined;
    return value;
  } catch (error) {
    if (error === fail) return undefined;
    throw error;
  }
}
