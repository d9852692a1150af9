// What a noderange takes from the invocation: how a `^file` is read, XCAT_NODE_PREFIX/SUFFIX.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Context } from "../context.ts";
import type { NoderangeOptions } from "./noderange.ts";

/** The parts of NoderangeOptions that come from the invocation, not from the noderange. */
export type NoderangeEnvironment = Pick<NoderangeOptions, "readFile" | "nodePrefix" | "nodeSuffix">;

/**
 * The noderange environment of a command: a `^file` is the user's own file, read relative to
 * the current directory; all-digit atoms take `$XCAT_NODE_PREFIX` (default "node") and
 * `$XCAT_NODE_SUFFIX` (default "") from the environment, as xCAT's do.
 *
 * @example
 * ```ts
 * expandNoderange(range, universe, { ...noderangeEnvironment(ctx), verify: true });
 * ```
 */
export function noderangeEnvironment(ctx: Pick<Context, "cwd" | "env">): NoderangeEnvironment {
  return {
    readFile: (path) => readFileSync(resolve(ctx.cwd, path), "utf8"),
    nodePrefix: ctx.env.XCAT_NODE_PREFIX ?? "node",
    nodeSuffix: ctx.env.XCAT_NODE_SUFFIX ?? "",
  };
}
