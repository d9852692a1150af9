// `deno task compile`: the single self-contained binary dist/osimg via `deno compile`.
// It needs Deno's denort runtime: a connected build host downloads it by itself; an offline
// one takes it from DENORT_BIN (the path of a denort binary of this Deno version).

import { fileURLToPath as fromFileUrl } from "node:url";

const project = fromFileUrl(new URL("..", import.meta.url));
const output = Deno.args[0] ?? `${project}dist/osimg`;
const denort = Deno.env.get("DENORT_BIN");
if (denort) console.error(`Using the denort runtime from DENORT_BIN=${denort}`);
const result = await new Deno.Command(Deno.execPath(), {
  args: ["compile", "-A", "--no-check", "--output", output, `${project}main.ts`],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (result.code !== 0) {
  console.error(
    "deno compile failed. On a host without access to Deno's download server, download\n" +
      "denort-x86_64-unknown-linux-gnu.zip for this Deno version elsewhere, unzip it, and run\n" +
      "  DENORT_BIN=/path/to/denort deno task compile\n" +
      "Or use `deno task bundle`: dist/osimg.js runs on any Deno 2.9 with no other file.",
  );
  Deno.exit(result.code);
}
console.log(`wrote ${output}`);
