// The noderange's seams filled from a command's context: `^file` reading and XCAT_NODE_PREFIX/SUFFIX.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Context } from "./context.ts";
import type { NoderangeOptions } from "./noderange.ts";

/**
 * The parts of NoderangeOptions that come from the invocation: a `^file` is the user's own
 * file, read relative to the current directory; all-digit atoms take `$XCAT_NODE_PREFIX`
 * (default "node") and `$XCAT_NODE_SUFFIX` (default "") from the environment, as xCAT's do.
 *
 * @example
 * ```ts
 * expandNoderange(range, universe, { ...noderangeContextOptions(ctx), verify: true });
 * ```
 */
export function noderangeContextOptions(
  ctx: Pick<Context, "cwd" | "env">,
): Pick<NoderangeOptions, "readFile" | "nodePrefix" | "nodeSuffix"> {
  return {
    readFile: (path) => readFileSync(resolve(ctx.cwd, path), "utf8"),
    nodePrefix: ctx.env.XCAT_NODE_PREFIX ?? "node",
    nodeSuffix: ctx.env.XCAT_NODE_SUFFIX ?? "",
  };
}
