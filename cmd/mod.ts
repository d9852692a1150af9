// The static table of verbs: `deno compile` and `deno bundle` see only static imports.

import type { Command } from "../core/command.ts";
import { tabdump } from "./tabdump.ts";
import { imgimport } from "./imgimport.ts";
import { verify } from "./verify.ts";

/** Every verb osimg has, one entry each. */
export const COMMANDS: readonly Command[] = [
  tabdump,
  imgimport,
  verify,
];
