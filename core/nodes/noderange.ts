// xCAT's noderange syntax (NodeRange.pm): lists, ranges, brackets, groups, exclusion, intersection, regex, selections, files.
//
// Pure: everything it knows about nodes comes from a NodeUniverse, and `^file` atoms are read
// through a function the caller passes in. The semantics follow xCAT's noderange() and
// expandatom() rule by rule, quirks included where scripts may rely on them (Perl's range
// operator with magic string increment for zero-padded numbers, exclusion applied at the end of
// each parenthesis-free evaluation, `^file` lines always unioned). Where xCAT silently returns
// nothing for an atom it cannot understand (an unknown table in `table.column==value`, a broken
// regular expression) the atom is reported as invalid instead.

import { InvalidInputError } from "../errors.ts";
import type { NodeUniverse } from "./node_universe.ts";

/** How a noderange is expanded. */
export interface NoderangeOptions {
  /**
   * Names must exist (default true): an unknown atom makes the whole expansion fail with xCAT's
   * `Invalid nodes and/or groups in noderange: a,b`. False (mkdef) generates names syntactically:
   * `node[1-5]` gives node1..node5 whether they exist or not; groups are still expanded.
   */
  verify?: boolean;
  /** Subtract site.excludenodes from the result (default true). */
  honorExcludeNodes?: boolean;
  /** Purely syntactic expansion that never consults nodes or groups (default false). */
  genericRange?: boolean;
  /** Prefix for all-digit atoms, `$XCAT_NODE_PREFIX` (default "node"). */
  nodePrefix?: string;
  /** Suffix for all-digit atoms, `$XCAT_NODE_SUFFIX` (default ""). */
  nodeSuffix?: string;
  /** Reads a `^/path/file` noderange file; without it such atoms are an error. */
  readFile?: (path: string) => string;
}

/** The most names one range may generate: `node[1-99999999]` is a typo, not a cluster. */
export const MAX_RANGE_NAMES = 1_000_000;

/** xCAT's recursion limit for nested atoms (NodeRange.pm dies past 4096 levels). */
const MAX_DEPTH = 4096;

const SHORT_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  groups: ["nodelist", "groups"],
  tags: ["nodelist", "groups"],
  mgt: ["nodehm", "mgt"],
};

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Expands a noderange into node names, ASCII-sorted without duplicates.
 *
 * @example
 * ```ts
 * expandNoderange("compute,-rack2", universe);           // rack1's nodes
 * expandNoderange("node[01-03,07]", universe);           // node01,node02,node03,node07
 * expandNoderange("cn[1-3]", universe, { verify: false }); // cn1,cn2,cn3 whether defined or not
 * ```
 */
export function expandNoderange(
  range: string,
  universe: NodeUniverse,
  options: NoderangeOptions = {},
): string[] {
  const expander = new Expander(universe, options);
  const result = expander.noderange(range, options.verify ?? true, 0);
  if (options.honorExcludeNodes ?? true) {
    const excluded = universe.site("excludenodes");
    if (excluded) {
      // xCAT evaluates excludenodes in every nested call; subtracting once at the top gives the
      // same set. Unknown names in excludenodes must not break every command, so they are ignored.
      const quiet = new Expander(universe, options);
      for (const node of quiet.noderange(excluded, true, 0)) result.delete(node);
    }
  }
  if ((options.verify ?? true) && expander.missing.length > 0) {
    // xCAT lists every unknown name; past a screenful the line says how many more there are.
    const missing = [...new Set(expander.missing)];
    const shown = missing.length > MAX_LISTED_MISSING
      ? `${missing.slice(0, MAX_LISTED_MISSING).join(",")},... (${
        missing.length - MAX_LISTED_MISSING
      } more)`
      : missing.join(",");
    throw new InvalidInputError(`Invalid nodes and/or groups in noderange: ${shown}`);
  }
  return [...result].sort(compareAscii);
}

/** Unknown names listed in the error before it gives a count instead. */
const MAX_LISTED_MISSING = 100;

/** Perl's split(/(\d+)/, $s): digit runs kept as their own fields, trailing empty fields dropped. */
function splitDigitRuns(text: string): string[] {
  const parts = text.split(/(\d+)/);
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/** Perl's magic string increment of a digit string: "09" -> "10", "99" -> "100". */
function incrementDigits(text: string): string {
  const digits = text.split("");
  for (let index = digits.length - 1; index >= 0; index--) {
    if (digits[index] === "9") {
      digits[index] = "0";
    } else {
      digits[index] = String(Number(digits[index]) + 1);
      return digits.join("");
    }
  }
  return "1" + digits.join("");
}

/**
 * Perl's range operator on two digit strings, as NodeRange.pm uses it. A left side starting with
 * '0' iterates by magic string increment (keeping the width) until it equals the right side or
 * grows longer than it; otherwise it is a numeric range (empty when descending).
 */
function* perlRange(left: string, right: string, atom: string): Generator<string> {
  const stringMode = left.startsWith("0");
  const from = Number(left);
  const to = Number(right);
  // How many names the range yields, known before generating any of them.
  const count = !stringMode
    ? to - from + 1
    : left.length > right.length
    ? 0
    : from <= to
    ? to - from + 1
    : 10 ** right.length - from;
  if (count > MAX_RANGE_NAMES) {
    throw new InvalidInputError(
      `The noderange '${atom}' would generate more than ${MAX_RANGE_NAMES} names.`,
    );
  }
  if (stringMode) {
    for (let current = left; current.length <= right.length; current = incrementDigits(current)) {
      yield current;
      if (current === right) return;
    }
    return;
  }
  for (let current = from; current <= to; current++) yield String(current);
}

/**
 * Where the regex element that starts at `start` (its '/') ends: at the first ',' or '@' outside
 * the pattern's own parentheses and character classes, or at a ')' that closes an enclosing
 * group. Node names never hold ',' or '@', so a pattern never needs them literally.
 */
function regexElementEnd(range: string, start: number): number {
  let depth = 0;
  let inClass = false;
  for (let index = start + 1; index < range.length; index++) {
    const char = range[index];
    if (char === "\\") index++;
    else if (inClass) inClass = char !== "]";
    else if (char === "[") inClass = true;
    else if (char === "(") depth++;
    else if (char === ")" && depth-- === 0) return index;
    else if ((char === "," || char === "@") && depth === 0) return index;
  }
  return range.length;
}

/**
 * The index of the first parenthesis at or after `from` that groups noderange elements (an
 * opening or a closing one), skipping the parentheses of `/regex` elements: `/^cn0(1|2)$` is one
 * regex, as xCAT's noderange(3) documents (`/d(1.?.?|200)`). xCAT 2.8 and later hand the whole
 * string to extract_bracketed first and so break that example into `/d`, `1.?.?|200` and an
 * empty rest; here a '/' at the start of an element keeps its parentheses. -1 when there is none.
 */
function groupingParenIndex(range: string, from = 0): number {
  let elementStart = true;
  for (let index = from; index < range.length; index++) {
    const char = range[index]!;
    if (elementStart && (char === "-" || char === "@")) continue;
    if (elementStart && char === "/") {
      index = regexElementEnd(range, index) - 1;
      elementStart = false;
      continue;
    }
    if (char === "(" || char === ")") return index;
    elementStart = char === "," || char === "@";
  }
  return -1;
}

/** Finds the first balanced grouping parenthesis the way Text::Balanced's extract_bracketed does. */
function firstParenGroup(
  range: string,
): { before: string; inner: string; after: string } | undefined {
  const open = groupingParenIndex(range);
  if (range[open] !== "(") return undefined;
  let depth = 1;
  for (let index = groupingParenIndex(range, open + 1); index >= 0;) {
    if (range[index] === "(") depth++;
    else if (--depth === 0) {
      return {
        before: range.slice(0, open),
        inner: range.slice(open + 1, index),
        after: range.slice(index + 1),
      };
    }
    index = groupingParenIndex(range, index + 1);
  }
  return undefined;
}

type Operator = string;

/**
 * The most names one noderange may generate. The largest clusters have some 10^5 nodes; xCAT has
 * no limit, and a range like `cn[1-99999]cn[1-99999]` then runs a management node out of memory.
 */
export const MAX_ATOMS = 2_000_000;

class Expander {
  readonly missing: string[] = [];
  readonly #universe: NodeUniverse;
  readonly #options: NoderangeOptions;
  readonly #prefix: string;
  readonly #suffix: string;
  /** Atoms expanded so far: `cn[01-99999]cn[01-99999]` would otherwise try 10^10 names. */
  #atoms = 0;

  constructor(universe: NodeUniverse, options: NoderangeOptions) {
    this.#universe = universe;
    this.#options = options;
    this.#prefix = options.nodePrefix ?? "node";
    this.#suffix = options.nodeSuffix ?? "";
  }

  /** noderange(): one range string, evaluated left to right. */
  noderange(range: string, verify: boolean, depth: number): Set<string> {
    range = range.replace(/['"]/g, "");
    let nodes = new Set<string>();
    const deleted = new Set<string>();
    if (range.includes("(") && groupingParenIndex(range) >= 0) {
      const group = firstParenGroup(range);
      if (!group) throw new InvalidInputError(`Unbalanced parentheses in noderange: ${range}`);
      let operator = ",";
      if (group.before.endsWith("-")) operator += "-";
      else if (group.before.endsWith("@")) operator = "@";
      const start = group.before.replace(/,-$/, "").replace(/,$/, "").replace(/@$/, "");
      nodes = this.noderange(start, verify, depth + 1);
      const inner = this.noderange(group.inner, verify, depth + 1);
      if (operator.includes("@")) {
        for (const node of nodes) if (!inner.has(node)) nodes.delete(node);
      } else if (operator.includes(",-")) {
        for (const node of inner) nodes.delete(node);
      } else {
        for (const node of inner) nodes.add(node);
      }
      range = group.after;
    }

    // Commas outside [] and (); only when there is none, '@' outside ().
    let elements = range.split(/(,(?![^[]*?\])(?![^(]*?\)))/);
    if (elements.length === 1) elements = range.split(/(@(?![^(]*?\)))/);
    while (elements.length > 0 && elements[elements.length - 1] === "") elements.pop();

    let operator: Operator | undefined = ",";
    let index = 0;
    while (index < elements.length) {
      let atom = elements[index++]!;
      if (atom === "" || atom === ",") continue;
      if (atom.startsWith("-")) {
        atom = atom.slice(1);
        operator = (operator ?? ",") + "-";
      } else if (atom.startsWith("@")) {
        atom = atom.slice(1);
        operator = "@";
      }
      if (atom === "") continue;

      if (atom.startsWith("^")) {
        // Each line of the file is its own noderange and is always unioned, even after '-'
        // (xCAT's behaviour: a `-node50` line in the file excludes nothing).
        for (const line of this.#readNoderangeFile(atom.slice(1))) {
          for (const node of this.noderange(line, verify, depth + 1)) nodes.add(node);
        }
        continue; // like xCAT, the separator after a file atom is read as the next atom
      }

      const found = new Set(this.expandAtom(atom, verify, false, depth + 1));
      if (operator?.includes("@")) {
        for (const node of nodes) if (!found.has(node)) nodes.delete(node);
      } else if (operator?.includes(",-")) {
        for (const node of found) deleted.add(node);
      } else {
        for (const node of found) nodes.add(node);
      }
      operator = elements[index++];
    }
    // Exclusion wins regardless of position: node1-node10,-node3-node5,node4 excludes node4.
    for (const node of deleted) nodes.delete(node);
    return nodes;
  }

  #readNoderangeFile(path: string): string[] {
    if (!this.#options.readFile) {
      throw new InvalidInputError(`Cannot read the noderange file '${path}' here.`);
    }
    let text: string;
    try {
      text = this.#options.readFile(path);
    } catch (error) {
      throw new InvalidInputError(
        `Cannot read the noderange file '${path}': ${(error as Error).message}`,
        { cause: error },
      );
    }
    const ranges: string[] = [];
    for (const line of text.split("\n")) {
      if (/^[\^#]/.test(line)) continue;
      // Only the text up to the first space, tab or colon is a noderange.
      const range = /^[^:\t ]*/.exec(line)![0].replace(/\r$/, "");
      if (range !== "") ranges.push(range);
    }
    return ranges;
  }

  #bad(atom: string, verify: boolean): string[] {
    if (verify) {
      this.missing.push(atom);
      return [];
    }
    return [atom];
  }

  /** expandatom(): one element of a noderange. */
  expandAtom(atom: string, verify: boolean, generic: boolean, depth: number): string[] {
    if (depth > MAX_DEPTH) {
      throw new InvalidInputError(`The noderange is nested too deeply at '${atom}'.`);
    }
    if (++this.#atoms > MAX_ATOMS) {
      throw new InvalidInputError(
        `The noderange expands to more than ${MAX_ATOMS} names; give a smaller range.`,
      );
    }
    generic ||= this.#options.genericRange ?? false;
    const universe = this.#universe;
    if (!generic && universe.hasNode(atom)) return [atom];
    if (/^\(.*\)$/s.test(atom)) return [...this.noderange(atom.slice(1, -1), verify, depth + 1)];
    if (atom.includes("@")) return [...this.noderange(atom, verify, depth + 1)];

    let nodes: readonly string[] = [];
    if (!generic) {
      const definition = universe.groupDefinition(atom);
      if (definition?.grouptype === "dynamic") {
        nodes = this.#dynamicMembers(atom, definition.wherevals ?? "");
      } else {
        nodes = universe.membersOf(atom);
      }
      // A group defined in nodegroup without members is empty, not an error.
      if (nodes.length === 0 && definition) return [];
    }

    if (/[=~]/.test(atom)) return this.#select(atom, verify);
    if (/^[0-9]+$/.test(atom)) {
      return this.expandAtom(this.#prefix + atom + this.#suffix, verify, generic, depth + 1);
    }
    if (nodes.length > 0) return [...nodes];

    if (atom.startsWith("/")) {
      if (!verify || generic) return [atom];
      let regexp: RegExp;
      try {
        regexp = new RegExp(`^(?:${atom.slice(1)})$`);
      } catch {
        return this.#bad(atom, verify);
      }
      return universe.nodes.filter((node) => regexp.test(node));
    }

    const bracket = /(.+?)\[(.+?)\](.*)/s.exec(atom);
    if (bracket) {
      return this.#brackets(bracket[1]!, bracket[2]!, bracket[3]!, verify, generic, depth);
    }
    if (atom.includes("+")) return this.#plus(atom, verify, generic, depth);
    if (/[-:]/.test(atom)) return this.#range(atom, verify, generic, depth);
    return this.#bad(atom, verify);
  }

  /** `prefix[spec]rest`: the spec becomes `prefixA-prefixB,prefixC` pieces, expanded in turn. */
  #brackets(
    start: string,
    spec: string,
    ending: string,
    verify: boolean,
    generic: boolean,
    depth: number,
  ): string[] {
    const pieces = spec.split(/([,\-:])/);
    while (pieces.length > 0 && pieces[pieces.length - 1] === "") pieces.pop();
    const moreBrackets = /\[.+?\]/.test(ending);
    let subrange = "";
    for (let index = 0; index < pieces.length; index += 2) {
      subrange += start + pieces[index] + (moreBrackets ? "" : ending) + (pieces[index + 1] ?? "");
    }
    const nodes: string[] = [];
    for (const piece of subrange.split(",")) {
      if (piece === "") continue;
      if (!moreBrackets) {
        nodes.push(...this.expandAtom(piece, verify, generic, depth + 1));
      } else {
        // Expand the first bracket syntactically, then each prefix with the remaining brackets.
        for (const prefix of this.expandAtom(piece, false, true, depth + 1)) {
          nodes.push(...this.expandAtom(prefix + ending, verify, generic, depth + 1));
        }
      }
    }
    return nodes;
  }

  /** `name01+3`: the name and the next N numbers of its last digit run (zero padding kept). */
  #plus(atom: string, verify: boolean, generic: boolean, depth: number): string[] {
    const plus = atom.indexOf("+");
    const front = atom.slice(0, plus);
    const increment = atom.slice(plus + 1);
    const match = /^(.*?)(\d+)(\..+)?$/s.exec(front);
    if (!match || !/^\d+$/.test(increment)) return this.#bad(atom, verify);
    let prefix = match[1]!;
    const startNumber = match[2]!;
    let suffix = match[3] ?? "";
    let endNumber = String(Number(startNumber) + Number(increment));
    if (startNumber.length > endNumber.length) {
      endNumber = endNumber.padStart(startNumber.length, "0");
    }
    if (prefix === "" && suffix === "") {
      prefix = this.#prefix;
      suffix = this.#suffix;
    }
    const nodes: string[] = [];
    for (const number of perlRange(startNumber, endNumber, atom)) {
      nodes.push(...this.expandAtom(prefix + number + suffix, verify, generic, depth + 1));
    }
    return nodes;
  }

  /** `left-right` or `left:right`: iterate the first numeric run that differs. */
  #range(atom: string, verify: boolean, generic: boolean, depth: number): string[] {
    let left: string;
    let right: string;
    if (atom.includes(":")) {
      const parts = atom.split(":");
      left = parts[0]!;
      right = parts[1] ?? "";
    } else {
      const dashes = atom.split("-").length - 1;
      // An even number of '-' cannot be split into two equal halves: not a range.
      if (dashes % 2 === 0) return this.#bad(atom, verify);
      const half = "-[^-]*".repeat(Math.floor(dashes / 2));
      const match = new RegExp(`([^-]+?${half})-(.*)`, "s").exec(atom);
      if (!match) return this.#bad(atom, verify);
      left = match[1]!;
      right = match[2]!;
    }
    if (left === right) return this.expandAtom(left, verify, generic, depth + 1);
    const leftParts = splitDigitRuns(left);
    const rightParts = splitDigitRuns(right);
    if (leftParts.length !== rightParts.length) return this.#bad(atom, verify);
    for (let index = 0; index < leftParts.length; index++) {
      const leftPart = leftParts[index]!;
      const rightPart = rightParts[index]!;
      if (/^\d+$/.test(leftPart) && /^\d+$/.test(rightPart)) {
        if (leftPart === rightPart) continue;
        const prefix = leftParts.slice(0, index).join("");
        const leftSuffix = leftParts.slice(index + 1).join("");
        if (leftSuffix !== rightParts.slice(index + 1).join("")) return this.#bad(atom, verify);
        const nodes: string[] = [];
        for (const number of perlRange(leftPart, rightPart, atom)) {
          nodes.push(...this.expandAtom(prefix + number + leftSuffix, verify, generic, depth + 1));
        }
        return nodes;
      }
      if (leftPart !== rightPart) return this.#bad(atom, verify);
    }
    return this.#bad(atom, verify);
  }

  /** `table.column==value` and friends, matched against group-inherited values. */
  #select(atom: string, verify: boolean): string[] {
    const criterion = parseSelection(atom);
    if (!criterion) return this.#bad(atom, verify);
    const universe = this.#universe;
    const [table, column] = SHORT_NAMES[criterion.attribute] ??
      splitTableColumn(criterion.attribute) ?? [];
    if (!table || !column || !universe.hasTable(table)) return this.#bad(atom, verify);
    const test = matcher(criterion.operator, criterion.value);
    if (!test) return this.#bad(atom, verify);
    return universe.nodes.filter((node) =>
      test(universe.inheritedValue(table, column, node) ?? "")
    );
  }

  /** Members of a dynamic group: nodes whose attributes satisfy every `::`-separated wherevals. */
  #dynamicMembers(group: string, wherevals: string): string[] {
    const universe = this.#universe;
    const tests = wherevals.split("::").filter((item) => item !== "").map((expression) => {
      const criterion = parseSelection(expression);
      const where = criterion && universe.resolveAttribute(criterion.attribute);
      const test = criterion && matcher(criterion.operator, criterion.value);
      if (!criterion || !where || !test || !universe.hasTable(where.table)) {
        throw new InvalidInputError(
          `The dynamic group '${group}' has an invalid wherevals expression '${expression}'.`,
        );
      }
      return { where, test };
    });
    if (tests.length === 0) return [];
    return universe.nodes.filter((node) =>
      tests.every(({ where, test }) =>
        test(universe.inheritedValue(where.table, where.column, node) ?? "")
      )
    );
  }
}

function splitTableColumn(attribute: string): [string, string] | undefined {
  const dot = attribute.indexOf(".");
  return dot > 0 ? [attribute.slice(0, dot), attribute.slice(dot + 1)] : undefined;
}

type SelectionOperator = "==" | "!=" | "=~" | "!~";

/** NodeRange.pm nodesbycriteria's parse order: `!=`, `=~`, `==`, `=`, `!~`. */
function parseSelection(
  text: string,
): { attribute: string; operator: SelectionOperator; value: string } | undefined {
  const split = (separator: string, operator: SelectionOperator) => {
    const at = text.indexOf(separator);
    let value = text.slice(at + separator.length);
    if (operator === "=~" || operator === "!~") value = value.replace(/^\//, "").replace(/\/$/, "");
    const attribute = text.slice(0, at);
    return attribute === "" ? undefined : { attribute, operator, value };
  };
  if (/^[^=]*!=/.test(text)) return split("!=", "!=");
  if (/^[^=]*=~/.test(text)) return split("=~", "=~");
  if (text.includes("==")) return split("==", "==");
  if (text.includes("=")) return split("=", "==");
  if (text.includes("!~")) return split("!~", "!~");
  return undefined;
}

/** A test for an attribute selection (`==`, `!=`, `=~`, `!~`); undefined for a bad regex. */
export function matcher(
  operator: SelectionOperator,
  value: string,
): ((actual: string) => boolean) | undefined {
  switch (operator) {
    case "==":
      return (actual) => actual === value;
    case "!=":
      return (actual) => actual !== value;
    case "=~":
    case "!~": {
      let regexp: RegExp;
      try {
        regexp = new RegExp(value);
      } catch {
        return undefined;
      }
      return operator === "=~" ? (actual) => regexp.test(actual) : (actual) => !regexp.test(actual);
    }
  }
}
