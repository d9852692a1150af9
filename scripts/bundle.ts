// `deno task bundle`: the whole program as one JavaScript file, dist/osimg.js, plus dist/osimg,
// a launcher script that runs it with Deno (and passes the name it was invoked by, so a link
// named after a verb runs that verb).

import { fileURLToPath as fromFileUrl } from "node:url";

const project = fromFileUrl(new URL("..", import.meta.url));
const out = Deno.args[0] ?? `${project}dist`;
await Deno.mkdir(out, { recursive: true });
const result = await new Deno.Command(Deno.execPath(), {
  args: ["bundle", "--platform=deno", "-q", "-o", `${out}/osimg.js`, `${project}main.ts`],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (result.code !== 0) Deno.exit(result.code);
const launcher = `#!/bin/sh
# osimg launcher: runs the bundled program with Deno; a link named after a verb runs that verb.
here=$(dirname "$(readlink -f "$0")")
OSIMG_INVOKED_AS=$(basename "$0") exec "\${DENO:-deno}" run -A --no-config --cached-only "$here/osimg.js" "$@"
`;
await Deno.writeTextFile(`${out}/osimg`, launcher, { mode: 0o755 });
console.log(`wrote ${out}/osimg.js and ${out}/osimg`);
