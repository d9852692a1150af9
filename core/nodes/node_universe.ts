// Everything node-related, loaded once from the store: nodes, groups, nodegroup, site, and node-keyed rows with xCAT's group inheritance.
//
// xCAT reads node attributes one query at a time; at 10,000 nodes that is the slow path. Here each
// needed table is read once into a Map keyed by its `node` column (which holds node *or* group
// names), and every lookup after that is in memory.

import type { Row, StoreReader } from "../store/store.ts";
import { findTable, TABLES } from "../store/schema.ts";
import { InvalidInputError } from "../errors.ts";
import { evaluateRegexValue, isRegexValue } from "../definitions/regex_value.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";

/** A table column a node attribute is stored in. */
export interface ColumnRef {
  table: string;
  column: string;
}

/** All nodes, their groups and their node-keyed table rows, with fast lookups. */
export interface NodeUniverse {
  /** nodelist.node of every node, in the table's order (group rows are not nodes). */
  readonly nodes: readonly string[];
  /** Whether `name` is a node (a row of nodelist). */
  hasNode(name: string): boolean;
  /** The node's nodelist.groups split on ',', in order. */
  groupsOf(node: string): readonly string[];
  /** The nodes whose nodelist.groups lists `group`, in nodelist order (static membership). */
  membersOf(group: string): readonly string[];
  /** The nodegroup row defining `group` (grouptype, wherevals, ...), if there is one. */
  groupDefinition(group: string): Readonly<Row> | undefined;
  /** A site table value, or undefined (xCAT's defaults are not applied here). */
  site(key: string): string | undefined;
  /** Whether the node-keyed `table` was loaded (only loaded tables can be read). */
  hasTable(table: string): boolean;
  /**
   * The node's row of a node-keyed table with xCAT's inheritance: the node's own row first,
   * then each missing column from rows keyed by its groups in nodelist.groups order (first
   * group with a value wins); columns in site.hierarchicalattrs are concatenated across the node
   * and all its groups (duplicates dropped); regex values are evaluated against the node name.
   * The key column (`node`) and `disable` are not included.
   */
  inheritedRow(table: string, node: string): Record<string, string>;
  /**
   * One column of the node's inherited row as stored, before regex evaluation (lsdef shows a
   * regex value that cannot be evaluated as it is, rather than as unset).
   */
  unevaluatedValue(table: string, column: string, node: string): string | undefined;
  /** One column of `inheritedRow`, computed alone (the noderange's attribute selection). */
  inheritedValue(table: string, column: string, node: string): string | undefined;
  /**
   * The groups a node's inherited value of a column came from (`nodels -b`): empty when the node's
   * own row gives it or nobody does; for a concatenated value, every contributor in order.
   */
  inheritedFrom(table: string, column: string, node: string): string[];
  /**
   * Where a node attribute named in a noderange selection or a dynamic group's wherevals is
   * stored: `table.column`, xCAT's short names (`groups`, `tags`, `mgt`), the resolver given at
   * load time (the node object's attribute map), or a column name unique among loaded tables.
   */
  resolveAttribute(name: string): ColumnRef | undefined;
}

/** Options for building a universe. */
export interface NodeUniverseOptions {
  /** Maps a node object attribute (lsdef's name, e.g. `supportproxydhcp`) to its column. */
  resolveAttribute?: (name: string) => ColumnRef | undefined;
}

/** The rows a universe is built from: node-keyed tables by name, plus nodegroup and site. */
export interface NodeUniverseData {
  /** Rows of node-keyed tables; `nodelist` is required (absent means no nodes). */
  tables: Readonly<Record<string, readonly Row[]>>;
  nodegroup?: readonly Row[];
  site?: readonly Row[];
}

/** Tables whose key is the `node` column; their rows may be keyed by a group name instead. */
export const NODE_KEYED_TABLES: readonly string[] = TABLES
  .filter((spec) => spec.keys.length === 1 && spec.keys[0] === "node")
  .map((spec) => spec.name);

/** nodels' and noderange's short names for common attributes (tabutils.pm %shortnames). */
const SHORT_NAMES: Readonly<Record<string, ColumnRef>> = {
  groups: { table: "nodelist", column: "groups" },
  tags: { table: "nodelist", column: "groups" },
  mgt: { table: "nodehm", column: "mgt" },
};

/** The marker xCAT lets a value end with to append the next group's value (Table.pm). */
const NEXT_RECORD = "+=NEXTRECORD";

function requireNodeTable(table: string): void {
  if (!NODE_KEYED_TABLES.includes(table)) {
    throw new InvalidInputError(
      findTable(table) ? `The table '${table}' is not keyed by node.` : `No such table: ${table}`,
    );
  }
}

/**
 * Loads the universe from the store: nodelist, nodegroup and site always, plus each of `tables`
 * (default: every node-keyed table). One read per table, whatever the number of nodes.
 *
 * @example
 * ```ts
 * const universe = await store.read((reader) => loadNodeUniverse(reader, ["nodetype"]));
 * universe.inheritedRow("nodetype", "cn01").os; // inherited from the node's groups if unset
 * ```
 */
export async function loadNodeUniverse(
  reader: StoreReader,
  tables?: readonly string[],
  options: NodeUniverseOptions = {},
): Promise<NodeUniverse> {
  const wanted = new Set(["nodelist", ...(tables ?? NODE_KEYED_TABLES)]);
  for (const table of wanted) requireNodeTable(table);
  const data: Record<string, Row[]> = {};
  for (const table of wanted) data[table] = await reader.rows(table);
  return buildNodeUniverse({
    tables: data,
    nodegroup: await reader.rows("nodegroup"),
    site: await reader.rows("site"),
  }, options);
}

/**
 * Builds a universe from rows already in memory (tests, or a caller that has read them).
 *
 * @example
 * ```ts
 * const universe = buildNodeUniverse({
 *   tables: { nodelist: [{ node: "cn1", groups: "compute,all" }], nodetype: [{ node: "compute", os: "rhels9" }] },
 * });
 * universe.inheritedRow("nodetype", "cn1"); // { os: "rhels9" }
 * ```
 */
export function buildNodeUniverse(
  data: NodeUniverseData,
  options: NodeUniverseOptions = {},
): NodeUniverse {
  const tables = new Map<string, Map<string, Row>>();
  for (const [table, rows] of Object.entries(data.tables)) {
    requireNodeTable(table);
    const byKey = new Map<string, Row>();
    for (const row of rows) if (row.node) byKey.set(row.node, row);
    tables.set(table, byKey);
  }
  const nodelistRows = data.tables.nodelist ?? [];
  const nodes = nodelistRows.map((row) => row.node).filter((node): node is string => !!node);
  const nodeSet = new Set(nodes);
  const groupsByNode = new Map<string, readonly string[]>();
  const groupsKeyByNode = new Map<string, string>();
  for (const row of nodelistRows) {
    if (!row.node) continue;
    const groups = commaList(row.groups);
    groupsByNode.set(row.node, groups);
    groupsKeyByNode.set(row.node, groups.join(","));
  }
  let membersByGroup: Map<string, string[]> | undefined;
  const groupDefinitions = new Map<string, Row>();
  for (const row of data.nodegroup ?? []) {
    if (row.groupname) groupDefinitions.set(row.groupname, row);
  }
  const siteValues = new Map<string, string>();
  for (const row of data.site ?? []) {
    if (row.key && row.value !== undefined) siteValues.set(row.key, row.value);
  }
  const hierarchical = new Set(commaList(siteValues.get("hierarchicalattrs")));

  const tableRows = (table: string): Map<string, Row> => {
    const rows = tables.get(table);
    if (!rows) {
      // A programming error: the caller did not ask loadNodeUniverse for this table.
      throw new Error(`node universe: the table '${table}' was not loaded`);
    }
    return rows;
  };

  /** A node's merged row before regex evaluation, and which of its columns hold regex values. */
  interface MergedRow {
    raw: Readonly<Record<string, string>>;
    regexColumns: readonly string[];
  }
  // Nodes without a row of their own share the merge of their groups' rows: 10,000 nodes in 100
  // racks need 100 merges, not 10,000. Keyed by table, then by the node's group list.
  const sharedMerges = new Map<string, Map<string, MergedRow>>();

  const mergeRows = (sources: readonly Row[]): MergedRow => {
    const raw: Record<string, string> = {};
    for (const source of sources) {
      for (const column in source) {
        if (column === "node" || column === "disable") continue;
        const value = source[column];
        if (value === undefined || value === "") continue;
        const current = raw[column];
        if (current === undefined) {
          raw[column] = value;
        } else if (hierarchical.has(column)) {
          // site.hierarchicalattrs: node and every group, in order, each item once.
          const items = commaList(current);
          for (const item of commaList(value)) if (!items.includes(item)) items.push(item);
          raw[column] = items.join(",");
        } else if (current.endsWith(NEXT_RECORD)) {
          raw[column] = current.slice(0, -NEXT_RECORD.length) + value;
        }
      }
    }
    const regexColumns: string[] = [];
    for (const column in raw) {
      let value = raw[column]!;
      if (value.includes(NEXT_RECORD)) raw[column] = value = value.replaceAll(NEXT_RECORD, "");
      if ((value[0] === "/" || value[0] === "|") && isRegexValue(value)) regexColumns.push(column);
    }
    return { raw, regexColumns };
  };

  // Nodes with a row of their own get their merge remembered one by one (a noderange selection
  // and the listing read the same rows).
  const ownMerges = new Map<string, Map<string, MergedRow>>();

  const groupRowsOf = (rows: Map<string, Row>, node: string): Row[] => {
    const found: Row[] = [];
    for (const group of groupsByNode.get(node) ?? []) {
      const row = rows.get(group);
      if (row) found.push(row);
    }
    return found;
  };

  const merged = (table: string, node: string): MergedRow => {
    const rows = tableRows(table);
    const own = rows.get(node);
    const memos = own ? ownMerges : sharedMerges;
    let memo = memos.get(table);
    if (!memo) memos.set(table, memo = new Map());
    // Without an own row, the merge depends only on the node's group list.
    const key = own ? node : groupsKeyByNode.get(node) ?? "";
    let row = memo.get(key);
    if (!row) {
      const sources = groupRowsOf(rows, node);
      if (own) sources.unshift(own);
      memo.set(key, row = mergeRows(sources));
    }
    return row;
  };

  const finish = (
    value: string | undefined,
    node: string,
    isRegex: boolean,
  ): string | undefined => {
    if (value === undefined || value === "") return undefined;
    return isRegex ? evaluateRegexValue(value, node) : value;
  };

  const universe: NodeUniverse = {
    nodes,
    hasNode: (name) => nodeSet.has(name),
    groupsOf: (node) => groupsByNode.get(node) ?? [],
    membersOf(group) {
      if (!membersByGroup) {
        membersByGroup = new Map();
        for (const node of nodes) {
          for (const member of groupsByNode.get(node) ?? []) {
            let list = membersByGroup.get(member);
            if (!list) membersByGroup.set(member, list = []);
            list.push(node);
          }
        }
      }
      return membersByGroup.get(group) ?? [];
    },
    groupDefinition: (group) => groupDefinitions.get(group),
    site: (key) => siteValues.get(key),
    hasTable: (table) => tables.has(table),
    inheritedRow(table, node) {
      const { raw, regexColumns } = merged(table, node);
      const row = { ...raw };
      for (const column of regexColumns) {
        const value = evaluateRegexValue(raw[column]!, node);
        if (value === undefined) delete row[column];
        else row[column] = value;
      }
      return row;
    },
    unevaluatedValue: (table, column, node) => merged(table, node).raw[column],
    inheritedValue(table, column, node) {
      if (column === "node") {
        // xCAT reports the node's name as the key of a row it found for the node or a group.
        const rows = tableRows(table);
        const found = rows.has(node) || (groupsByNode.get(node) ?? []).some((g) => rows.has(g));
        return found ? node : undefined;
      }
      const { raw, regexColumns } = merged(table, node);
      return finish(raw[column], node, regexColumns.includes(column));
    },
    inheritedFrom(table, column, node) {
      const rows = tableRows(table);
      const own = rows.get(node)?.[column];
      const concatenate = hierarchical.has(column);
      if (own !== undefined && !concatenate && !own.endsWith(NEXT_RECORD)) return [];
      const sources = own !== undefined ? [node] : [];
      let open = true;
      for (const group of groupsByNode.get(node) ?? []) {
        if (!open) break;
        const value = rows.get(group)?.[column];
        if (value === undefined) continue;
        sources.push(group);
        open = concatenate || value.endsWith(NEXT_RECORD);
      }
      return sources.length === 1 && sources[0] === node ? [] : sources;
    },
    resolveAttribute(name) {
      const short = SHORT_NAMES[name];
      if (short) return short;
      const dot = name.indexOf(".");
      if (dot > 0) {
        const table = name.slice(0, dot);
        const column = name.slice(dot + 1);
        return findTable(table)?.columns.includes(column) ? { table, column } : undefined;
      }
      const resolved = options.resolveAttribute?.(name);
      if (resolved) return resolved;
      const candidates = [...tables.keys()].filter((table) =>
        name !== "node" && name !== "comments" && name !== "disable" &&
        findTable(table)?.columns.includes(name)
      );
      return candidates.length === 1 ? { table: candidates[0]!, column: name } : undefined;
    },
  };
  return universe;
}
