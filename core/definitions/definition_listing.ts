// What lsdef shows: the objects its types, names, noderange and -w filters select, and the form.

import { commaList } from "../../formats/xcat/comma_list.ts";
import type { Context } from "../context.ts";
import {
  type DefinitionObject,
  listObjects,
  requireAttribute,
  requireObjectType,
} from "./definitions.ts";
import { UsageError } from "../errors.ts";
import { noderangeEnvironment } from "../nodes/noderange_environment.ts";
import { OBJECT_TYPES } from "./object_types.ts";
import { matchesFilter, parseRowFilter } from "../store/tables.ts";
import type { LsdefListing } from "../../formats/xcat/lsdef_text.ts";

/** An lsdef command line, its flags parsed. */
export interface DefinitionQuery {
  /** -a: every object of every type (in place of `types`); names are listed with one space. */
  all: boolean;
  /** -t: the object types. */
  types: readonly string[];
  /** -o as given: a noderange for nodes, comma-separated names for the other types. */
  objects?: string;
  /** The positional argument: a noderange for nodes, comma-separated names otherwise. */
  range?: string;
  /** -i: only these attributes, shown even when empty. */
  only?: readonly string[];
  /** -w: `attr==val`, `attr!=val`, `attr=~regex`, `attr!~regex`; all must hold. */
  filters: readonly string[];
  /** -S: hidden nodes too. */
  includeHidden: boolean;
  /** -l, -s, -c, -z and --json: the form asked for. */
  long: boolean;
  short: boolean;
  compressed: boolean;
  stanza: boolean;
  json: boolean;
}

/**
 * Reads the objects an lsdef command line selects and decides how they are shown (xCAT's
 * precedence: --json, then -z, then the name list unless a long form is asked for or implied by
 * naming objects or -i). Bad types, attributes and filters are refused before the store is read.
 *
 * @example
 * ```ts
 * const listing = await listDefinitions(ctx, { ...query, types: ["osimage"], objects: "img" });
 * ctx.io.out(formatLsdefListing(listing));
 * ```
 */
export async function listDefinitions(
  ctx: Pick<Context, "store" | "reporter" | "cwd" | "env">,
  query: DefinitionQuery,
): Promise<LsdefListing> {
  const types = query.all ? OBJECT_TYPES.map((spec) => spec.type) : query.types;
  const specs = types.map(requireObjectType);
  const only = query.only;
  if (query.compressed && !only) throw new UsageError("The '-c' option requires '-i'.");
  for (const spec of specs) for (const attribute of only ?? []) requireAttribute(spec, attribute);
  const filters = query.filters.map(parseRowFilter);
  for (const spec of specs) {
    for (const filter of filters) requireAttribute(spec, filter.column);
  }
  const objectNames = query.objects === undefined ? undefined : commaList(query.objects);
  const range = query.range;
  const named = objectNames !== undefined || range !== undefined;
  const store = await ctx.store();
  let objects: DefinitionObject[] = [];
  for (const spec of specs) {
    const isNodeLike = spec.type === "node";
    objects.push(
      ...await listObjects(store, {
        type: spec.type,
        names: named && !isNodeLike ? [...(objectNames ?? []), ...commaList(range)] : undefined,
        // For nodes xCAT takes -o as a noderange too, in place of a positional one.
        noderange: isNodeLike ? query.objects ?? range : undefined,
        includeHidden: query.includeHidden,
        withDefaultPostscripts: !query.stanza,
        noderangeEnvironment: noderangeEnvironment(ctx),
        reporter: ctx.reporter,
      }),
    );
  }
  objects = objects.filter((object) =>
    filters.every((filter) =>
      matchesFilter(
        filter,
        filter.column === requireObjectType(object.type).nameAttribute
          ? object.name
          : object.attributes[filter.column],
      )
    )
  );
  const long = query.long || only !== undefined || (named && !query.short);
  const form = query.json
    ? "json"
    : query.stanza
    ? "stanza"
    : !long || query.short
    ? "names"
    : query.compressed
    ? "compressed"
    : "long";
  return { form, objects, only, showType: specs.length > 1, allTypes: query.all };
}
