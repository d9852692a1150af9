// Argument handling shared by mkdef and chdef: objects from -o, a noderange or stanzas on stdin.

import { commaList } from "../formats/xcat/comma_list.ts";
import { noderangeEnvironment } from "../core/nodes/noderange_environment.ts";
import type { Context } from "../core/context.ts";
import {
  type DefineResult,
  type ObjectChange,
  requireObjectType,
  resolveNames,
  splitPositionals,
} from "../core/definitions/definitions.ts";
import { InvalidInputError, OsimgError, UsageError } from "../core/errors.ts";
import { parseStanzas } from "../formats/xcat/stanza.ts";

/** The objects a mkdef/chdef command line names, with their attribute changes. */
export async function changesFromArguments(
  ctx: Context,
  verb: string,
  options: { type?: string; objectNames?: string; stanza: boolean; positionals: string[] },
): Promise<ObjectChange[]> {
  const { targets, pairs } = splitPositionals(options.positionals);
  if (options.stanza) {
    if (options.objectNames !== undefined || targets.length > 0) {
      throw new UsageError("Cannot use '-z' with '-o' or a noderange.");
    }
    const text = await ctx.io.readStdin();
    let objects;
    try {
      objects = parseStanzas(text, options.type);
    } catch (error) {
      throw new InvalidInputError(`Cannot read the stanza input: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (objects.length === 0) throw new InvalidInputError("The stanza input holds no objects.");
    const extra = Object.fromEntries(pairs);
    return objects.map((object) => ({
      type: object.type,
      name: object.name,
      attributes: { ...object.attributes, ...extra },
    }));
  }
  const type = options.type ?? "node";
  const store = await ctx.store();
  let names: string[];
  if (requireObjectType(type).type === "node") {
    // xCAT (DBobjectdefs.pm) expands -o as a noderange for nodes, exactly as a positional one:
    // generated syntactically (mkdef cn[01-12] creates them), except that chdef expands a
    // `/regex` against the defined nodes.
    const found = new Set<string>();
    for (const range of [options.objectNames, targets[0]]) {
      if (range === undefined) continue;
      const expanded = await resolveNames(store, type, {
        objectNames: [],
        noderange: range,
        verify: verb === "chdef" && range.startsWith("/"),
        noderangeEnvironment: noderangeEnvironment(ctx),
      });
      if (expanded.length === 0) {
        throw new InvalidInputError(`No node in '${range}', check the noderange syntax.`);
      }
      for (const name of expanded) found.add(name);
    }
    names = [...found];
  } else {
    names = await resolveNames(store, type, {
      objectNames: commaList(options.objectNames),
      noderange: targets[0],
      verify: false,
    });
  }
  if (names.length === 0) {
    throw new UsageError(
      `${verb}: no object name given. Use '-o name', a noderange, or '-z' with stanzas on stdin.`,
    );
  }
  if (pairs.length === 0) {
    throw new UsageError(`${verb}: no 'attr=val' pair given. Run '${verb} --help' for usage.`);
  }
  const attributes = Object.fromEntries(pairs);
  return names.map((name) => ({ type, name, attributes }));
}

/** Prints mkdef/chdef's summary the way xCAT does; throws when xCAT reports an error. */
export function reportDefineResult(
  ctx: Context,
  result: DefineResult,
  options: { verbose: boolean },
): void {
  if (result.written.length > 0) {
    if (options.verbose) {
      ctx.io.out(
        `The database was updated for the following objects:\n${result.written.join(",")}\n`,
      );
    }
    ctx.io.out(`${result.written.length} object definitions have been created or modified.\n`);
    // chdef creates missing objects too, and says so as mkdef does (xCAT's defch).
    if (result.created.length > 0) {
      ctx.io.out(`New object definitions '${result.created.join(",")}' have been created.\n`);
    }
  }
  if (result.written.length === 0) {
    throw new OsimgError("No object definitions have been created or modified.");
  }
  if (result.hadErrors) {
    throw new OsimgError(
      "One or more errors occured when attempting to create or modify xCAT object definitions.",
    );
  }
}
