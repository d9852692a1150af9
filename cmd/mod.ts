// The static table of verbs: `deno compile` and `deno bundle` see only static imports.

import type { Command } from "../core/command.ts";
import { tabdump } from "./tabdump.ts";
import { packimage } from "./packimage.ts";
import { liteimg } from "./liteimg.ts";
import { tabrestore } from "./tabrestore.ts";
import { lsdef } from "./lsdef.ts";
import { mkdef } from "./mkdef.ts";
import { chdef } from "./chdef.ts";
import { rmdef } from "./rmdef.ts";
import { rmimage } from "./rmimage.ts";
import { imgimport } from "./imgimport.ts";
import { verify } from "./verify.ts";
import { imgexport } from "./imgexport.ts";
import { snapshot } from "./snapshot.ts";
import { rollback } from "./rollback.ts";
import { nodels } from "./nodels.ts";
import { demo } from "./demo.ts";

/** Every verb osimg has, one entry each. */
export const COMMANDS: readonly Command[] = [
  tabdump,
  packimage,
  liteimg,
  tabrestore,
  lsdef,
  mkdef,
  chdef,
  rmdef,
  rmimage,
  imgimport,
  verify,
  imgexport,
  snapshot,
  rollback,
  nodels,
  demo,
];
