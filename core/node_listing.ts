// What nodels shows: its `table.column` / short-name / table / selection terms, evaluated over a node universe.
//
// Follows tabutils.pm's nodels: each `table.column` or short name is a column to show (or, with
// `==`, `!=`, `=~`, `!~`, a selection that hides nodes which fail it); a bare table name shows
// every column of that table. Values are group-inherited with regex values computed, as
// getNodesAttribs gives them.

import { findTable } from "./schema.ts";
import { InvalidInputError } from "./errors.ts";
import type { NodeUniverse } from "./node_universe.ts";
import { matcher } from "./noderange.ts";

/** nodels' short names (tabutils.pm %shortnames). */
const SHORT_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  groups: ["nodelist", "groups"],
  tags: ["nodelist", "groups"],
  mgt: ["nodehm", "mgt"],
};

type Operator = "==" | "!=" | "=~" | "!~";

/** One column nodels reads: shown, used to select nodes, or both. */
interface ColumnRequest {
  table: string;
  column: string;
  /** The name printed before the value: what the user typed (`groups`, `nodetype.os`). */
  label: string;
  show: boolean;
  /** From a whole-table term: shown only when it has a value. */
  onlyWhenSet: boolean;
  test?: (value: string) => boolean;
}

/** The parsed terms of one nodels invocation. */
export interface NodelsQuery {
  columns: readonly ColumnRequest[];
  /**
   * Print `node: value` instead of `node: label: value`: xCAT does so when exactly one column
   * term was given (a selection counts) and no whole table was asked for.
   */
  terse: boolean;
  /** Tables the query reads. */
  tables: readonly string[];
}

function parseTerm(term: string): { name: string; operator?: Operator; value?: string } {
  // tabutils.pm's order: `!=`, `=~`, `==`, `!~`; regex values may be written /like this/.
  const checks: [RegExp, Operator][] = [
    [/^[^=]*!=/, "!="],
    [/^[^=]*=~/, "=~"],
    [/==/, "=="],
    [/!~/, "!~"],
  ];
  for (const [pattern, operator] of checks) {
    if (!pattern.test(term)) continue;
    const at = term.indexOf(operator);
    let value = term.slice(at + operator.length);
    if (operator === "=~" || operator === "!~") value = value.replace(/^\//, "").replace(/\/$/, "");
    return { name: term.slice(0, at), operator, value };
  }
  return { name: term };
}

function tester(operator: Operator, value: string, term: string): (actual: string) => boolean {
  const test = matcher(operator, value);
  if (!test) {
    throw new InvalidInputError(`The regular expression '${value}' in '${term}' is not valid.`);
  }
  return test;
}

/**
 * Parses nodels' attribute terms.
 *
 * @example
 * ```ts
 * parseNodelsQuery(["nodetype.os", "groups=~rack1"]); // show nodetype.os of nodes in rack1
 * ```
 */
export function parseNodelsQuery(
  terms: readonly string[],
  options: { withFieldNames?: boolean } = {},
): NodelsQuery {
  const columns: ColumnRequest[] = [];
  let terse = 2;
  let wholeTable = false;
  for (const term of terms) {
    const { name, operator, value } = parseTerm(term);
    let table: string;
    let column: string;
    const short = SHORT_NAMES[name];
    if (short) {
      [table, column] = short;
      terse--;
    } else if (name.includes(".")) {
      const dot = name.indexOf(".");
      table = name.slice(0, dot);
      column = name.slice(dot + 1);
      terse--;
    } else if (findTable(name) && operator === undefined) {
      wholeTable = true;
      const spec = findTable(name)!;
      if (!spec.keys.includes("node")) {
        throw new InvalidInputError(`${name} is not a table keyed by node.`);
      }
      for (const each of spec.columns) {
        if (!columns.some((c) => c.table === name && c.column === each)) {
          columns.push({
            table: name,
            column: each,
            label: `${name}.${each}`,
            show: true,
            onlyWhenSet: true,
          });
        }
      }
      continue;
    } else {
      throw new InvalidInputError(`${term} not a valid table.column description`);
    }
    const spec = findTable(table);
    if (!spec || !spec.columns.includes(column)) {
      throw new InvalidInputError(`${table}.${column} not a valid table.column description`);
    }
    if (!spec.keys.includes("node")) {
      throw new InvalidInputError(`${table} is not a table keyed by node.`);
    }
    const existing = columns.find((c) => c.table === table && c.column === column);
    const test = operator !== undefined ? tester(operator, value ?? "", term) : undefined;
    if (existing) {
      // `switch.switch=~x switch.switch` selects and shows; two selections on one column do not mix
      // (the message keeps xCAT's spelling).
      if (test && existing.test) {
        throw new InvalidInputError(`Multiple selection critera for ${existing.label}`);
      }
      existing.test ??= test;
      existing.show ||= !test;
      existing.onlyWhenSet = false;
      continue;
    }
    columns.push({ table, column, label: name, show: !test, onlyWhenSet: false, test });
  }
  return {
    columns,
    terse: !options.withFieldNames && !wholeTable && terse > 0,
    tables: [...new Set(columns.map((c) => c.table))],
  };
}

/** One shown value of a node. */
export interface NodeValue {
  label: string;
  value: string;
  /** With `blame`: the groups the value was inherited from (empty when the node's own). */
  inheritedFrom?: string[];
}

/** A node nodels prints, with the values it shows (none: the name alone). */
export interface NodeListing {
  node: string;
  values: NodeValue[];
}

/**
 * Evaluates a query over `nodes` (already expanded and sorted): nodes failing a selection are
 * dropped; each remaining node gets its shown columns in the order the terms were given.
 */
export function listNodeValues(
  universe: NodeUniverse,
  nodes: readonly string[],
  query: NodelsQuery,
  options: { blame?: boolean } = {},
): NodeListing[] {
  const listings: NodeListing[] = [];
  for (const node of nodes) {
    const values: NodeValue[] = [];
    let selected = true;
    for (const request of query.columns) {
      const value = universe.inheritedValue(request.table, request.column, node) ?? "";
      if (request.test && !request.test(value)) {
        selected = false;
        break;
      }
      if (!request.show || (request.onlyWhenSet && value === "")) continue;
      const shown: NodeValue = { label: request.label, value };
      if (options.blame && request.column !== "node") {
        shown.inheritedFrom = universe.inheritedFrom(request.table, request.column, node);
      }
      values.push(shown);
    }
    if (selected) listings.push({ node, values });
  }
  return listings;
}

/** nodels' text: `node`, `node: value` (terse) or `node: label: value` lines. */
export function formatNodeListing(listings: readonly NodeListing[], terse: boolean): string {
  let text = "";
  for (const { node, values } of listings) {
    if (values.length === 0) {
      text += node + "\n";
      continue;
    }
    for (const { label, value, inheritedFrom } of values) {
      const blame = inheritedFrom && inheritedFrom.length > 0
        ? ` (inherited from group ${inheritedFrom.join(",")})`
        : "";
      text += terse ? `${node}: ${value}${blame}\n` : `${node}: ${label}: ${value}${blame}\n`;
    }
  }
  return text;
}
