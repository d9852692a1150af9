// lsdef: display object definitions in xCAT's long, name-list, -c, stanza or JSON form.

import { booleanFlag, type Command, parseFlags, stringFlag, stringsFlag } from "../core/command.ts";
import {
  type DefinitionObject,
  listObjects,
  requireAttribute,
  requireObjectType,
} from "../core/definitions.ts";
import { noderangeEnvironment } from "../core/noderange_environment.ts";
import { UsageError } from "../core/errors.ts";
import { matchesFilter, parseRowFilter } from "../core/tables.ts";
import { OBJECT_TYPES } from "../core/object_types.ts";
import { formatCompressed, formatLong, formatNames } from "../formats/lsdef_text.ts";
import { serializeStanzas } from "../formats/stanza.ts";

export const lsdef: Command = {
  name: "lsdef",
  usage: `Usage: lsdef - List xCAT data object definitions.
  lsdef [-h | --help ] [-t object-types]
  lsdef [-V | --verbose] [-t object-types] [-o object-names]
      [ -l | --long] [-s | --short] [-a | --all] [-S]
      [-i attr-list] [-w attr==val [-w attr=~val] ...] [-c | --compress]
      [-z | --stanza] [--json] [noderange]

    -t   comma-separated object types (default node)
    -o   the objects: a noderange for nodes, comma-separated names for other types
    -l   long listing of every object
    -s   names only
    -a   every object of every type
    -S   include hidden nodes
    -i   only these attributes (printed even when empty)
    -c   with -i: one 'name: attr=value' line each
    -w   select objects: attr==val, attr!=val, attr=~regex, attr!~regex
    -z   stanza format (input for 'mkdef -z')
    --json  JSON array of {name, type, attributes}
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("lsdef", args, {
      t: { type: "string" },
      o: { type: "string" },
      l: { type: "boolean" },
      long: { type: "boolean" },
      s: { type: "boolean" },
      short: { type: "boolean" },
      a: { type: "boolean" },
      all: { type: "boolean" },
      S: { type: "boolean" },
      i: { type: "string" },
      c: { type: "boolean" },
      compress: { type: "boolean" },
      w: { type: "string", multiple: true },
      z: { type: "boolean" },
      stanza: { type: "boolean" },
      json: { type: "boolean" },
      V: { type: "boolean" },
      verbose: { type: "boolean" },
    }, { maxPositionals: 1 });
    const all = booleanFlag(flags, "a") || booleanFlag(flags, "all");
    const types = all
      ? OBJECT_TYPES.map((spec) => spec.type)
      : (stringFlag(flags, "t") ?? "node").split(",").filter(Boolean);
    const specs = types.map(requireObjectType);
    const only = stringFlag(flags, "i")?.split(",").map((item) => item.trim()).filter(Boolean);
    const compressed = booleanFlag(flags, "c") || booleanFlag(flags, "compress");
    const stanza = booleanFlag(flags, "z") || booleanFlag(flags, "stanza");
    const short = booleanFlag(flags, "s") || booleanFlag(flags, "short");
    if (compressed && !only) throw new UsageError("The '-c' option requires '-i'.");
    for (const spec of specs) for (const attribute of only ?? []) requireAttribute(spec, attribute);
    const filters = stringsFlag(flags, "w").map(parseRowFilter);
    for (const spec of specs) {
      for (const filter of filters) requireAttribute(spec, filter.column);
    }
    const objectNames = stringFlag(flags, "o")?.split(",").filter(Boolean);
    const [range] = positionals;
    const named = objectNames !== undefined || range !== undefined;
    const store = await ctx.store();
    let objects: DefinitionObject[] = [];
    for (const spec of specs) {
      const isNodeLike = spec.type === "node";
      objects.push(
        ...await listObjects(store, {
          type: spec.type,
          names: named && !isNodeLike
            ? [...(objectNames ?? []), ...(range ? range.split(",") : [])]
            : undefined,
          // For nodes xCAT takes -o as a noderange too, in place of a positional one.
          noderange: isNodeLike ? stringFlag(flags, "o") ?? range : undefined,
          includeHidden: booleanFlag(flags, "S"),
          withDefaultPostscripts: !stanza,
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
    if (booleanFlag(flags, "json")) {
      const shown = only
        ? objects.map((object) => ({
          ...object,
          attributes: Object.fromEntries(only.map((name) => [name, object.attributes[name] ?? ""])),
        }))
        : objects;
      ctx.io.out(JSON.stringify(shown, null, 2) + "\n");
      return;
    }
    if (objects.length === 0) {
      ctx.io.out("Could not find any object definitions to display.\n");
      return;
    }
    if (stanza) {
      ctx.io.out(serializeStanzas(objects.map((object) => ({
        ...object,
        attributes: only
          ? Object.fromEntries(only.map((name) => [name, object.attributes[name] ?? ""]))
          : object.attributes,
      }))));
      return;
    }
    const long = booleanFlag(flags, "l") || booleanFlag(flags, "long") || only !== undefined ||
      (named && !short);
    if (!long || short) {
      ctx.io.out(formatNames(objects, all));
    } else if (compressed) {
      ctx.io.out(formatCompressed(objects, only!));
    } else {
      ctx.io.out(formatLong(objects, { only, showType: specs.length > 1 }));
    }
  },
};
