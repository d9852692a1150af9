// The definitions engine behind mkdef, chdef, lsdef and rmdef: objects read from and written to
// xCAT's tables through the attribute mapping of core/definitions/object_types.ts.

import {
  findAttribute,
  findObjectType,
  NODE_TABLES,
  OBJECT_TYPES,
  type ObjectTypeSpec,
  tablesOf,
} from "./object_types.ts";
import { ConflictError, InvalidInputError, NotFoundError, UsageError } from "../errors.ts";
import {
  buildNodeUniverse,
  loadNodeUniverse,
  NODE_KEYED_TABLES,
  type NodeUniverse,
} from "../nodes/node_universe.ts";
import { regexValueProblem } from "./regex_value.ts";
import { showValue, storedValueProblem } from "../store/stored_value.ts";
import { expandNoderange } from "../nodes/noderange.ts";
import type { NoderangeEnvironment } from "../nodes/noderange_environment.ts";
import { attributeValueProblem, checkObjectName } from "./object_names.ts";
import { SITE_DEFAULTS } from "../store/schema.ts";
import type { Reporter } from "../reporter.ts";
import type { Row, Store, StoreReader, StoreWriter } from "../store/store.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";

/** One object as the definition verbs show it. */
export interface DefinitionObject {
  name: string;
  type: string;
  /** Non-empty attribute values, keyed by attribute name. */
  attributes: Record<string, string>;
}

/** The type spec for `type` or xCAT's error for an unknown one. */
export function requireObjectType(type: string): ObjectTypeSpec {
  const spec = findObjectType(type);
  if (!spec) {
    throw new InvalidInputError(
      `Type '${type}' is not a valid xCAT object type. Valid types: ${
        OBJECT_TYPES.map((item) => item.type).join(", ")
      }.`,
    );
  }
  return spec;
}

/** Checks that `name` is an attribute of `spec` (site accepts any key). */
export function requireAttribute(spec: ObjectTypeSpec, name: string): void {
  if (spec.keying.kind === "keyvalue") {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw new InvalidInputError(
        `'${name}' is not a valid attribute name for an object type of '${spec.type}'.`,
      );
    }
    return;
  }
  if (name === spec.nameAttribute) return;
  if (!findAttribute(spec, name)) {
    throw new InvalidInputError(
      `'${name}' is not a valid attribute name for an object type of '${spec.type}'.`,
    );
  }
}

/**
 * Validates an object name of `spec`'s type with the rules of core/definitions/object_names.ts (xCAT's
 * isobjnamevalid for nodes and groups; a safe file name for osimages, kits and distros).
 * Capital letters in a node or group name are only a warning, told to `reporter`.
 */
export function validateObjectName(
  spec: ObjectTypeSpec,
  name: string,
  reporter?: Pick<Reporter, "warn">,
): void {
  if (spec.keying.kind === "keyvalue") {
    if (name !== spec.keying.object) {
      throw new InvalidInputError(
        `The ${spec.type} object is always named '${spec.keying.object}', not '${name}'.`,
      );
    }
    return;
  }
  checkObjectName(spec.type, name, reporter);
}

/** Splits an `attr=value` argument with xCAT's rule; a malformed one is an error. */
export function parseAttributePair(pair: string): [string, string] {
  const match = /^\s*(.*?)\s*=\s*(\S*.*)$/s.exec(pair);
  if (!match || match[1] === "") {
    throw new InvalidInputError(`Incorrect 'attr=val' pair - ${pair}.`);
  }
  return [match[1]!, match[2]!];
}

/** Everything loaded once for reading many objects of one type. */
class TypeSnapshot {
  /** Regex values shown unevaluated: the problem -> the nodes it was shown for. */
  readonly unevaluated = new Map<string, string[]>();

  private constructor(
    readonly spec: ObjectTypeSpec,
    readonly byTable: Map<string, Map<string, Row>>,
    readonly universe: NodeUniverse | undefined,
    readonly siteRows: Row[],
  ) {}

  static async load(reader: StoreReader, spec: ObjectTypeSpec): Promise<TypeSnapshot> {
    const byTable = new Map<string, Map<string, Row>>();
    let universe: NodeUniverse | undefined;
    let siteRows: Row[] = [];
    if (spec.keying.kind === "keyvalue") {
      siteRows = await reader.rows(spec.keying.table);
    } else {
      // Each table is read once; node and group types build the inheritance universe from the
      // same rows rather than reading them again.
      const nodeLike = spec.type === "node" || spec.type === "group";
      const tables = nodeLike
        ? [...new Set([...NODE_TABLES, ...Object.keys(spec.keying.keyColumns)])]
        : Object.keys(spec.keying.keyColumns);
      const raw: Record<string, Row[]> = {};
      for (const table of tables) raw[table] = await reader.rows(table);
      for (const [table, keyColumn] of Object.entries(spec.keying.keyColumns)) {
        const index = new Map<string, Row>();
        for (const row of raw[table]!) {
          const key = row[keyColumn];
          if (key !== undefined && !index.has(key)) index.set(key, row);
        }
        byTable.set(table, index);
      }
      if (nodeLike) {
        universe = buildNodeUniverse({
          tables: Object.fromEntries(NODE_TABLES.map((table) => [table, raw[table]!])),
          nodegroup: raw.nodegroup ?? await reader.rows("nodegroup"),
          site: await reader.rows("site"),
        }, {
          resolveAttribute: (name) => {
            const attribute = findAttribute(findObjectType("node")!, name);
            return attribute && { table: attribute.table, column: attribute.column };
          },
        });
      }
    }
    return new TypeSnapshot(spec, byTable, universe, siteRows);
  }

  /** Object names of this type, ASCII-sorted. */
  names(options: { includeHidden?: boolean } = {}): string[] {
    const spec = this.spec;
    if (spec.keying.kind === "keyvalue") return [spec.keying.object];
    let names: string[];
    if (spec.type === "node") {
      const nodelist = this.byTable.get("nodelist")!;
      names = [...nodelist.keys()].filter((node) =>
        options.includeHidden || !["1", "yes"].includes(nodelist.get(node)?.hidden ?? "")
      );
    } else if (spec.type === "group") {
      const groups = new Set(this.byTable.get("nodegroup")!.keys());
      for (const node of this.universe!.nodes) {
        for (const group of this.universe!.groupsOf(node)) groups.add(group);
      }
      names = [...groups];
    } else {
      const primary = tablesOf(spec)[0]!;
      names = [...this.byTable.get(primary)!.keys()];
    }
    return names.sort(byteOrder);
  }

  exists(name: string): boolean {
    const spec = this.spec;
    if (spec.keying.kind === "keyvalue") return true;
    if (spec.type === "node") return this.byTable.get("nodelist")!.has(name);
    if (spec.type === "group") {
      return this.byTable.get("nodegroup")!.has(name) || this.membersOf(name).length > 0;
    }
    return [...this.byTable.values()].some((index) => index.has(name));
  }

  membersOf(group: string): string[] {
    return [...this.universe!.membersOf(group)];
  }

  /**
   * The attributes of `name`: for nodes with group inheritance and regex values applied
   * (`inherit`), otherwise the object's own rows.
   */
  attributes(name: string, inherit: boolean): Record<string, string> {
    const spec = this.spec;
    const result: Record<string, string> = {};
    if (spec.keying.kind === "keyvalue") {
      const { keyColumn, valueColumn } = spec.keying;
      for (const row of this.siteRows) {
        const key = row[keyColumn];
        const value = row[valueColumn];
        if (key && value) result[key] = value;
      }
      return result;
    }
    const inherited = new Map<string, Record<string, string>>();
    for (const attribute of spec.attributes) {
      let row: Row | undefined;
      if (spec.type === "node" && inherit) {
        row = inherited.get(attribute.table);
        if (!row) {
          row = this.universe!.inheritedRow(attribute.table, name);
          inherited.set(attribute.table, row);
        }
      } else row = this.byTable.get(attribute.table)?.get(name);
      const value = row?.[attribute.column];
      if (value !== undefined && value !== "") result[attribute.name] = value;
      else if (spec.type === "node" && inherit) {
        // A stored regex value that cannot be evaluated is shown as stored, with a warning,
        // instead of looking unset.
        const raw = this.universe!.unevaluatedValue(attribute.table, attribute.column, name);
        const problem = raw === undefined ? undefined : regexValueProblem(raw);
        if (raw !== undefined && problem) {
          result[attribute.name] = raw;
          const key = `The value '${raw}' of '${attribute.name}' cannot be evaluated (${problem})`;
          this.unevaluated.set(key, [...this.unevaluated.get(key) ?? [], name]);
        }
      }
    }
    if (spec.type === "group" && (result.grouptype ?? "static") !== "dynamic") {
      const members = this.membersOf(name);
      if (members.length > 0) result.members = members.join(",");
      else delete result.members;
    }
    return result;
  }
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** How lsdef selects objects. */
export interface ListRequest {
  type: string;
  /** Object names or (nodes, groups) a noderange; undefined = every object of the type. */
  names?: string[];
  noderange?: string;
  /** Show values inherited from groups (nodes only); lsdef does, -z output too. */
  inherit?: boolean;
  includeHidden?: boolean;
  /** Prepend the xcatdefaults postscripts row to node postscripts (lsdef without -z). */
  withDefaultPostscripts?: boolean;
  noderangeEnvironment?: NoderangeEnvironment;
  /** Warned once per stored regex value that cannot be evaluated (and is shown as stored). */
  reporter: Pick<Reporter, "warn">;
}

/**
 * Reads the objects lsdef shows, in ASCII order of their names.
 *
 * @example
 * ```ts
 * const [image] = await listObjects(store, { type: "osimage", names: ["img1"] });
 * image.attributes.provmethod; // "netboot"
 * ```
 */
export async function listObjects(store: Store, request: ListRequest): Promise<DefinitionObject[]> {
  const spec = requireObjectType(request.type);
  return await store.read(async (reader) => {
    const snapshot = await TypeSnapshot.load(reader, spec);
    let names: string[];
    if (request.noderange !== undefined && (spec.type === "node")) {
      names = expandNoderange(request.noderange, snapshot.universe!, {
        ...request.noderangeEnvironment,
        verify: true,
      });
    } else if (request.names) {
      names = [...new Set(request.names)].sort(byteOrder);
      for (const name of names) {
        if (!snapshot.exists(name)) {
          throw new NotFoundError(
            `Could not find an object named '${name}' of type '${spec.type}'.`,
          );
        }
      }
    } else {
      names = snapshot.names({ includeHidden: request.includeHidden });
    }
    let defaults: Row | undefined;
    if (request.withDefaultPostscripts && spec.type === "node") {
      const [row] = await reader.rows("postscripts", { node: "xcatdefaults" });
      defaults = row ??
        { postscripts: "syslog,remoteshell,syncfiles", postbootscripts: "otherpkgs" };
    }
    const objects = names.map((name) => {
      const attributes = snapshot.attributes(name, request.inherit ?? true);
      if (spec.keying.kind === "keyvalue") {
        for (const [key, value] of Object.entries(SITE_DEFAULTS)) attributes[key] ??= value;
      }
      if (defaults) {
        for (const column of ["postscripts", "postbootscripts"]) {
          const merged = [...commaList(defaults[column]), ...commaList(attributes[column])];
          if (merged.length > 0) attributes[column] = merged.join(",");
        }
      }
      return { name, type: spec.type, attributes };
    });
    for (const [problem, nodes] of snapshot.unevaluated) {
      request.reporter.warn(
        `${problem}; it is shown as stored for ${
          nodes.length === 1 ? `node '${nodes[0]}'` : `${nodes.length} nodes from '${nodes[0]}'`
        }. Correct it with chdef.`,
      );
    }
    return objects;
  });
}

/** How one object is to change. */
export interface ObjectChange {
  type: string;
  name: string;
  attributes: Record<string, string>;
}

/** Options of mkdef/chdef. */
export interface DefineOptions {
  /** mkdef (create; existing objects are skipped unless `force`) or chdef (change or create). */
  verb: "mkdef" | "chdef";
  force?: boolean;
  /** chdef -p: append to comma lists without duplicates. */
  plus?: boolean;
  /** chdef -m: remove from comma lists; a missing value is an error. */
  minus?: boolean;
  /** Warned of existing objects mkdef skips and of capital letters in node names. */
  reporter: Pick<Reporter, "warn">;
}

/** What mkdef/chdef did. */
export interface DefineResult {
  /** Objects written, in the order given. */
  written: string[];
  /** Objects that did not exist before. */
  created: string[];
  /** True when some object was skipped (xCAT then reports an error after the summary). */
  hadErrors: boolean;
}

/**
 * Creates or changes objects (of one or several types) in one transaction. Everything is
 * validated before the first write: an unknown attribute, an invalid name or a missing required
 * attribute changes nothing at all. Warnings reach `options.reporter` once the transaction is
 * done, so a refused change shows its error alone, as it always has.
 */
export async function defineObjects(
  store: Store,
  changes: readonly ObjectChange[],
  options: DefineOptions,
): Promise<DefineResult> {
  const result: DefineResult = { written: [], created: [], hadErrors: false };
  const warnings: string[] = [];
  const deferred = { warn: (text: string) => void warnings.push(text) };
  const types: string[] = [];
  const seen = new Set<string>();
  for (const change of changes) {
    const spec = requireObjectType(change.type);
    if (!types.includes(spec.type)) types.push(spec.type);
    validateObjectName(spec, change.name, deferred);
    for (const [attribute, value] of Object.entries(change.attributes)) {
      requireAttribute(spec, attribute);
      // Values of node-keyed tables are read through xCAT's regex evaluation; others are not.
      const table = spec.keying.kind === "keyvalue" ? "" : findAttribute(spec, attribute)?.table;
      const problem = storedValueProblem(value, {
        regex: table !== undefined && NODE_KEYED_TABLES.includes(table),
        lineBreaks: false,
      });
      if (problem) {
        throw new InvalidInputError(
          `Cannot set '${attribute}' of '${change.name}' to '${showValue(value)}': ${problem}.`,
        );
      }
    }
    const identity = `${spec.type}\0${change.name}`;
    if (seen.has(identity)) {
      throw new InvalidInputError(`The object '${change.name}' is given more than once.`);
    }
    seen.add(identity);
  }
  await store.write(async (writer) => {
    for (const type of types) {
      const spec = requireObjectType(type);
      const snapshot = await TypeSnapshot.load(writer, spec);
      const plans = planChanges(
        spec,
        snapshot,
        changes.filter((change) => change.type === type),
        options,
        result,
        deferred,
      );
      for (const plan of plans) {
        if (plan.replace) await removeObjectRows(writer, spec, plan.name, snapshot);
        await writeAttributes(writer, spec, plan.name, plan.values, snapshot);
        result.written.push(plan.name);
      }
    }
  });
  for (const warning of warnings) options.reporter.warn(warning);
  return result;
}

interface ChangePlan {
  name: string;
  values: Record<string, string>;
  replace: boolean;
}

/** Works out each object's new values; throws before anything is written. */
function planChanges(
  spec: ObjectTypeSpec,
  snapshot: TypeSnapshot,
  changes: readonly ObjectChange[],
  options: DefineOptions,
  result: DefineResult,
  reporter: Pick<Reporter, "warn">,
): ChangePlan[] {
  const plans: ChangePlan[] = [];
  for (const change of changes) {
    const exists = snapshot.exists(change.name);
    if (options.verb === "mkdef" && exists && !options.force) {
      reporter.warn(
        `A definition for '${change.name}' already exists. No changes will be made.  Run again with '-f' option to force replace.`,
      );
      result.hadErrors = true;
      continue;
    }
    if (options.minus && !exists) {
      throw new NotFoundError(
        `The '-m' option is not valid since the '${change.name}' definition does not exist.`,
      );
    }
    const replace = options.verb === "mkdef" && exists;
    const current = replace ? {} : snapshot.attributes(change.name, false);
    const values: Record<string, string> = {};
    for (const [attribute, value] of Object.entries(change.attributes)) {
      if (attribute === spec.nameAttribute) continue;
      if (options.plus) {
        const list = commaList(current[attribute]);
        for (const item of commaList(value)) if (!list.includes(item)) list.push(item);
        values[attribute] = list.join(",");
      } else if (options.minus) {
        const list = commaList(current[attribute]);
        for (const item of commaList(value)) {
          if (!list.includes(item)) {
            throw new InvalidInputError(
              `${item} is not in the attribute of '${attribute}' for the '${change.name}' definition.`,
            );
          }
        }
        const remove = new Set(commaList(value));
        values[attribute] = list.filter((item) => !remove.has(item)).join(",");
      } else {
        values[attribute] = value;
      }
    }
    for (const [attribute, value] of Object.entries(values)) {
      const problem = attributeValueProblem(spec.type, change.name, attribute, value);
      if (problem !== undefined) throw new InvalidInputError(problem);
    }
    const after = { ...current, ...values };
    if (!exists || replace) {
      for (const required of spec.required ?? []) {
        if (!after[required]) {
          throw new InvalidInputError(
            spec.type === "node"
              ? `Attribute '${required}' is not specified for node '${change.name}'.`
              : `Attribute '${required}' is required to create the ${spec.type} '${change.name}'.`,
          );
        }
      }
    }
    // xCAT's linuximage attributes apply only when imagetype=linux; new images default to it.
    if (spec.type === "osimage" && !after.imagetype) values.imagetype = "linux";
    plans.push({ name: change.name, values, replace });
    if (!exists) result.created.push(change.name);
  }
  return plans;
}

async function writeAttributes(
  writer: StoreWriter,
  spec: ObjectTypeSpec,
  name: string,
  values: Record<string, string>,
  snapshot: TypeSnapshot,
): Promise<void> {
  if (spec.keying.kind === "keyvalue") {
    const { table, keyColumn, valueColumn } = spec.keying;
    for (const [key, value] of Object.entries(values)) {
      if (value === "") await writer.delete(table, { [keyColumn]: key });
      else await writer.upsert(table, { [keyColumn]: key, [valueColumn]: value });
    }
    return;
  }
  const byTable = new Map<string, Row>();
  let members: string | undefined;
  for (const [attribute, value] of Object.entries(values)) {
    if (spec.type === "group" && attribute === "members") {
      members = value;
      continue;
    }
    const mapping = findAttribute(spec, attribute)!;
    const row = byTable.get(mapping.table) ?? {};
    row[mapping.column] = value;
    byTable.set(mapping.table, row);
  }
  if (spec.type === "group") {
    const grouptype = values.grouptype ?? snapshot.attributes(name, false).grouptype;
    // Every group has a nodegroup row, so an empty static group still exists.
    const row = byTable.get("nodegroup") ?? {};
    byTable.set("nodegroup", row);
    if (members !== undefined) {
      if (grouptype === "dynamic") row.members = members;
      else await setStaticMembers(writer, name, commaList(members), snapshot);
    }
  }
  for (const [table, row] of byTable) {
    const keyColumn = spec.keying.keyColumns[table]!;
    if (table === "networks") {
      await writeNetwork(writer, name, row);
      continue;
    }
    await writer.upsert(table, { ...row, [keyColumn]: name });
  }
}

async function writeNetwork(writer: StoreWriter, name: string, row: Row): Promise<void> {
  // networks is keyed by net+mask but looked up by netname: merge, then replace the row.
  const [existing] = await writer.rows("networks", { netname: name }, { includeDisabled: true });
  const merged: Row = { ...existing, ...row, netname: name };
  for (const [column, value] of Object.entries(merged)) if (value === "") delete merged[column];
  if (!merged.net || !merged.mask) {
    throw new InvalidInputError(`The network '${name}' needs both 'net' and 'mask'.`);
  }
  const [clash] = await writer.rows("networks", { net: merged.net, mask: merged.mask });
  if (clash && clash.netname !== name) {
    throw new ConflictError(
      `A network with net=${merged.net} and mask=${merged.mask} already exists ('${clash.netname}').`,
    );
  }
  if (existing) await writer.delete("networks", { netname: name });
  await writer.upsert("networks", merged);
}

async function setStaticMembers(
  writer: StoreWriter,
  group: string,
  members: string[],
  snapshot: TypeSnapshot,
): Promise<void> {
  const universe = snapshot.universe!;
  for (const member of members) {
    if (!universe.hasNode(member)) {
      throw new NotFoundError(`Could not find an object named '${member}' of type 'node'.`);
    }
  }
  const wanted = new Set(members);
  for (const node of universe.nodes) {
    const groups = [...universe.groupsOf(node)];
    const has = groups.includes(group);
    if (wanted.has(node) && !has) {
      await writer.upsert("nodelist", { node, groups: [...groups, group].join(",") });
    } else if (!wanted.has(node) && has) {
      await writer.upsert("nodelist", {
        node,
        groups: groups.filter((item) => item !== group).join(","),
      });
    }
  }
}

async function removeObjectRows(
  writer: StoreWriter,
  spec: ObjectTypeSpec,
  name: string,
  snapshot: TypeSnapshot,
): Promise<void> {
  if (spec.keying.kind === "keyvalue") {
    await writer.delete(spec.keying.table, {});
    return;
  }
  for (const [table, keyColumn] of Object.entries(spec.keying.keyColumns)) {
    await writer.delete(table, { [keyColumn]: name });
  }
  if (spec.type === "group") await setStaticMembers(writer, name, [], snapshot);
}

/** Removes objects of one type in one transaction; returns the names removed. */
export async function removeObjects(
  store: Store,
  type: string,
  request: {
    names?: string[];
    noderange?: string;
    all?: boolean;
    noderangeEnvironment?: NoderangeEnvironment;
  },
): Promise<string[]> {
  const spec = requireObjectType(type);
  if (spec.keying.kind === "keyvalue") {
    throw new UsageError(`The ${spec.type} object '${spec.keying.object}' cannot be removed.`);
  }
  return await store.write(async (writer) => {
    const snapshot = await TypeSnapshot.load(writer, spec);
    let names: string[];
    if (request.all) names = snapshot.names({ includeHidden: true });
    else if (request.noderange !== undefined && spec.type === "node") {
      names = expandNoderange(request.noderange, snapshot.universe!, {
        ...request.noderangeEnvironment,
        verify: true,
      });
    } else {
      names = [...new Set(request.names ?? [])];
      for (const name of names) {
        if (!snapshot.exists(name)) {
          throw new NotFoundError(
            `Could not find an object named '${name}' of type '${spec.type}'.`,
          );
        }
      }
    }
    for (const name of names) await removeObjectRows(writer, spec, name, snapshot);
    return names;
  });
}

/** Renames one object (chdef -n): every row keyed by the old name moves to the new one. */
export async function renameObject(
  store: Store,
  type: string,
  from: string,
  to: string,
): Promise<void> {
  const spec = requireObjectType(type);
  // chdef -n has never shown the capital-letter warning: the new name is only checked.
  validateObjectName(spec, to);
  if (spec.keying.kind === "keyvalue") {
    throw new UsageError(`The ${spec.type} object cannot be renamed.`);
  }
  const keyColumns = spec.keying.keyColumns;
  await store.write(async (writer) => {
    const snapshot = await TypeSnapshot.load(writer, spec);
    if (!snapshot.exists(from)) {
      throw new NotFoundError(`Could not find an object named '${from}' of type '${spec.type}'.`);
    }
    if (snapshot.exists(to)) {
      throw new ConflictError(`A definition for '${to}' already exists.`);
    }
    for (const [table, keyColumn] of Object.entries(keyColumns)) {
      for (
        const row of await writer.rows(table, { [keyColumn]: from }, { includeDisabled: true })
      ) {
        await writer.delete(table, { [keyColumn]: from });
        await writer.upsert(table, { ...row, [keyColumn]: to });
      }
    }
    if (spec.type === "group") {
      for (const node of snapshot.membersOf(from)) {
        const groups = snapshot.universe!.groupsOf(node).map((group) =>
          group === from ? to : group
        );
        await writer.upsert("nodelist", { node, groups: groups.join(",") });
      }
    }
  });
}

/**
 * The object names a command line selects: `-o` names and positional names for most types; for
 * nodes a noderange (`verify` false generates names syntactically, as mkdef does).
 */
export async function resolveNames(
  store: Store,
  type: string,
  selection: {
    objectNames: string[];
    noderange?: string;
    verify: boolean;
    noderangeEnvironment?: NoderangeEnvironment;
  },
): Promise<string[]> {
  const spec = requireObjectType(type);
  const names = [...selection.objectNames];
  if (selection.noderange !== undefined) {
    if (spec.type === "node") {
      const universe = await store.read((reader) => loadNodeUniverse(reader, ["nodelist"]));
      names.push(
        ...expandNoderange(selection.noderange, universe, {
          ...selection.noderangeEnvironment,
          verify: selection.verify,
        }),
      );
    } else {
      names.push(...commaList(selection.noderange));
    }
  }
  return [...new Set(names)];
}

/**
 * Splits positional arguments into the object target and `attr=value` pairs. Like xCAT, the
 * target may come before or after the pairs, but there is only one: a second argument without
 * '=' is refused with xCAT's message (a forgotten `=` or a space inside a noderange).
 */
export function splitPositionals(
  positionals: readonly string[],
): { targets: string[]; pairs: [string, string][] } {
  const targets: string[] = [];
  const pairs: [string, string][] = [];
  for (const arg of positionals) {
    if (arg.includes("=")) {
      pairs.push(parseAttributePair(arg));
    } else if (targets.length > 0) {
      throw new InvalidInputError("noderange can not contain spaces.");
    } else {
      targets.push(arg);
    }
  }
  return { targets, pairs };
}
