// demo: run the main job end to end in a temporary root.

import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { runDemo } from "../core/demo.ts";

export const demo: Command = {
  name: "demo",
  usage: `Usage:
  osimg demo [--keep]

    Defines an osimage and nodes, builds a small sample root tree, packs it, exports it to a
    bundle, verifies it, imports it into a second empty root, snapshots, changes and rolls the
    image back, printing each command and its output. Everything happens in a new temporary
    directory (removed at the end unless --keep); --root is not used.
`,
  async run(ctx, args) {
    const { flags } = parseFlags("demo", args, { keep: { type: "boolean" } }, {
      maxPositionals: 0,
    });
    await runDemo(ctx, { keep: booleanFlag(flags, "keep") });
  },
};
