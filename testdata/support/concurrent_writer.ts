// Test helper process: many chdef -p (read-modify-write) and mkdef calls against one root.
import { runCli } from "../../main.ts";

const [root, id, countText] = Deno.args;
const count = Number(countText);
const io = {
  out: () => {},
  err: (text: string) => void Deno.stderr.writeSync(new TextEncoder().encode(text)),
  readStdin: () => Promise.resolve(""),
  stdoutIsTerminal: false,
  stderrIsTerminal: false,
};
for (let index = 0; index < count; index++) {
  const env = { PATH: Deno.env.get("PATH") ?? "" };
  // Each call opens the database afresh, as separate commands would.
  const plus = await runCli(
    [
      "--root",
      root!,
      "chdef",
      "-t",
      "osimage",
      "-o",
      "shared",
      "-p",
      `synclists=/sync/${id}${index}`,
    ],
    { env, io, cwd: root! },
  );
  const node = await runCli(
    ["--root", root!, "mkdef", "-t", "node", `n${id}${index}`, "groups=all"],
    { env, io, cwd: root! },
  );
  if (plus !== 0 || node !== 0) Deno.exit(1);
}
