// demo: run the main job end to end in a temporary root.

import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { runDemo } from "../core/demo.ts";

export const demo: Command = {
  name: "demo",
  usage: `Usage:
  osimg demo [--keep]
  osimg --root DIR demo

    Defines an osimage and nodes, builds a small sample root tree, packs it, writes the nodes'
    boot entries (nodeset), exports it to a bundle, verifies it, imports it into a second empty root, snapshots, changes and rolls the
    image back, printing each command and its output.

    Without --root everything happens in a new temporary directory, removed at the end unless
    --keep is given. With --root DIR (a new or empty directory) the first management node is
    DIR and stays there afterwards, with the sample image debian12-x86_64-netboot-compute
    ready for packimage, imgexport, snapshot and the other image verbs (the README's tour uses
    it); the second management node is temporary.

    --keep   Keep the temporary directory (both management nodes and the bundle).
`,
  async run(ctx, args) {
    const { flags } = parseFlags("demo", args, { keep: { type: "boolean" } }, {
      maxPositionals: 0,
    });
    await runDemo(ctx, { keep: booleanFlag(flags, "keep") });
  },
};
