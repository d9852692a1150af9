// Test helper process: one management node's osimg runs, interleaving chdef -p, mkdef and rmdef on a shared database.
import { runCli } from "../../main.ts";

const [root, db, id, countText] = Deno.args;
const count = Number(countText);
const io = {
  out: () => {},
  err: (text: string) => void Deno.stderr.writeSync(new TextEncoder().encode(text)),
  readStdin: () => Promise.resolve(""),
  stdoutIsTerminal: false,
  stderrIsTerminal: false,
};
const env = { PATH: Deno.env.get("PATH") ?? "" };
// Each call opens the database afresh, as separate commands on that node would.
const osimg = async (...args: string[]) => {
  const status = await runCli(["--root", root!, "--db", db!, ...args], { env, io, cwd: root! });
  if (status !== 0) {
    console.error(`${id}: osimg ${args.join(" ")} exited ${status}`);
    Deno.exit(1);
  }
};
for (let index = 0; index < count; index++) {
  await osimg("chdef", "-t", "osimage", "-o", "shared", "-p", `synclists=/sync/${id}/${index}`);
  await osimg("mkdef", "-t", "node", `n${id}-${index}`, "groups=all");
  // Every third round removes the node made the round before.
  if (index % 3 === 2) await osimg("rmdef", "-t", "node", `n${id}-${index - 1}`);
}
