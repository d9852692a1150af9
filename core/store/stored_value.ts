// Whether a table value can be stored and read back as given: the check mkdef, chdef and tabrestore make before writing.

import { regexValueProblem } from "../definitions/regex_value.ts";

/** What a value must also satisfy where it is written. */
export interface StoredValueRules {
  /** The value is read as an xCAT regex value (`|pat|repl|`, `/pat/repl/`): it must compile. */
  regex: boolean;
  /** Line breaks are allowed (tabdump's CSV quotes them; lsdef and stanzas cannot carry them). */
  lineBreaks: boolean;
}

/**
 * Why `value` would not come back as given, or undefined when it would. SQLite's text binding
 * ends a string at a NUL byte (and PostgreSQL refuses one), so `a\0b` would be stored as `a`;
 * a regex value that cannot be compiled would be stored and then read as unset for every node.
 *
 * @example
 * ```ts
 * storedValueProblem("a\0b", { regex: false, lineBreaks: true }); // "it contains a NUL byte, ..."
 * storedValueProblem("|(|x|", { regex: true, lineBreaks: false }); // "... '(' is not valid"
 * ```
 */
export function storedValueProblem(value: string, rules: StoredValueRules): string | undefined {
  if (value.includes("\0")) return "it contains a NUL byte, which the database cannot store";
  if (!rules.lineBreaks && /[\r\n]/.test(value)) {
    return "it contains a line break, which lsdef and stanza files cannot carry";
  }
  if (rules.regex) {
    const problem = regexValueProblem(value);
    if (problem) return `it is a regular-expression value that cannot be evaluated: ${problem}`;
  }
  return undefined;
}

/** `value` as one printable line for an error message: NUL, CR and LF shown as escapes. */
export function showValue(value: string): string {
  return value.replaceAll("\0", "\\0").replaceAll("\r", "\\r").replaceAll("\n", "\\n");
}
