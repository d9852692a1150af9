// What nodels shows: its `table.column` / short-name / table / selection terms, evaluated over a node universe.
//
// Follows tabutils.pm's nodels: each `table.column` or short name is a column to show (or, with
// `==`, `!=`, `=~`, `!~`, a selection that hides nodes which fail it); a bare table name shows
// every column of that table. Values are group-inherited with regex values computed, as
// getNodesAttribs gives them.

import type { Context } from "../context.ts";
import { findTable } from "../store/schema.ts";
import { InvalidInputError } from "../errors.ts";
import { loadNodeUniverse, type NodeUniverse } from "./node_universe.ts";
import { expandNoderange, matcher } from "./noderange.ts";
import { noderangeEnvironment } from "./noderange_environment.ts";
import { findAttribute, findObjectType } from "../definitions/object_types.ts";

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

/** A nodels command line, its flags parsed. */
export interface NodelsRequest {
  /** The noderange; undefined lists every node. */
  range?: string;
  /** The attribute terms (`table.column`, short names, tables, selections). */
  terms: readonly string[];
  /** -H: `node: label: value` even for one attribute. */
  withFieldNames: boolean;
  /** -S: hidden nodes (nodelist.hidden=1) too. */
  includeHidden: boolean;
  /** -b: name the groups inherited values come from. */
  blame: boolean;
}

/** What nodels prints, not yet formatted. */
export interface NodelsResult {
  listings: NodeListing[];
  /** `node: value` lines rather than `node: label: value`. */
  terse: boolean;
  /** No attribute terms were given: only the names are shown (--json prints a name array). */
  namesOnly: boolean;
}

/**
 * nodels: the nodes of a noderange (ASCII order when none is given), hidden ones left out unless
 * asked for, with the values its terms show. Reads only the tables the terms name, unless the
 * noderange may select on any attribute.
 *
 * @example
 * ```ts
 * const result = await listNodes(ctx, { range: "compute", terms: ["groups"], ...flags });
 * ctx.io.out(formatNodeListing(result));
 * ```
 */
export async function listNodes(
  ctx: Pick<Context, "store" | "cwd" | "env">,
  request: NodelsRequest,
): Promise<NodelsResult> {
  const { range, terms } = request;
  const query = parseNodelsQuery(terms, { withFieldNames: request.withFieldNames });
  const nodeType = findObjectType("node");
  const store = await ctx.store();
  const universe = await store.read(async (reader) => {
    // Read only the tables asked for, unless the range may select on any attribute: a
    // `table.column==value` atom, a ^file that may hold one, or a dynamic group's wherevals.
    const dynamic = (await reader.rows("nodegroup")).some((row) => row.grouptype === "dynamic");
    const anyTable = dynamic || (range !== undefined && /[=~^]/.test(range));
    return await loadNodeUniverse(reader, anyTable ? undefined : query.tables, {
      resolveAttribute: (name) => nodeType && findAttribute(nodeType, name),
    });
  });
  let nodes = range === undefined
    ? [...universe.nodes].sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
    : expandNoderange(range, universe, { ...noderangeEnvironment(ctx), verify: true });
  if (!request.includeHidden) {
    // Hidden nodes (FSPs/BPAs in xCAT) are left out unless -S asks for them.
    nodes = nodes.filter((node) => universe.inheritedValue("nodelist", "hidden", node) !== "1");
  }
  const listings = listNodeValues(universe, nodes, query, { blame: request.blame });
  return { listings, terse: query.terse, namesOnly: terms.length === 0 };
}

/** nodels --json: the node names alone when no attribute was asked for, else the listings. */
export function formatNodeListingJson(result: NodelsResult): string {
  const json = result.namesOnly ? result.listings.map((listing) => listing.node) : result.listings;
  return JSON.stringify(json, null, 2) + "\n";
}

/** nodels' text: `node`, `node: value` (terse) or `node: label: value` lines. */
export function formatNodeListing({ listings, terse }: NodelsResult): string {
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
