import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { ExternalCommandError } from "./errors.ts";
import { pipeThrough, systemRunner } from "./process.ts";
import { recordingRunner } from "./recording_runner.ts";

const text = new TextEncoder();

Deno.test("the recording runner records argv, cwd, env and stdin and answers from its script", async () => {
  const runner = recordingRunner({
    script: [
      { argv: ["dnf", "install"], stdout: "Installing: bash\nComplete!\n", once: true },
      { argv: ["dnf", "install"], code: 1, stderr: "Error: no space left\n" },
      { argv: ["rpm"], stdout: "bash-5.1\n" },
    ],
  });
  const lines: string[] = [];
  const first = await runner.stream(["dnf", "install", "-y", "bash"], {
    cwd: "/r",
    env: { LANG: "C" },
    onStdoutLine: (line) => void lines.push(line),
  });
  assertEquals(first, { code: 0, stderrTail: "" });
  assertEquals(lines, ["Installing: bash", "Complete!"]);
  await rejects(
    runner.stream(["dnf", "install", "-y", "vim"]),
    (error: unknown) =>
      error instanceof ExternalCommandError && error.code === 1 &&
      error.stderrTail === "Error: no space left\n",
  );
  const query = await runner.run(["rpm", "-q", "bash"], { stdin: text.encode("x") });
  assertEquals(new TextDecoder().decode(query.stdout), "bash-5.1\n");
  assertEquals(runner.runs, [
    { kind: "stream", argv: ["dnf", "install", "-y", "bash"], cwd: "/r", env: { LANG: "C" } },
    { kind: "stream", argv: ["dnf", "install", "-y", "vim"] },
    { kind: "run", argv: ["rpm", "-q", "bash"], stdin: text.encode("x") },
  ]);
  assertEquals(
    runner.transcript({ "/r": "<root>" }),
    "$ cd '<root>' && env LANG=C dnf install -y bash\n" +
      "$ dnf install -y vim\n" +
      "$ rpm -q bash\n" +
      "  (stdin: 1 bytes)\n",
  );
});

Deno.test("a command the script does not answer fails the test instead of running", async () => {
  const runner = recordingRunner({ script: [{ argv: ["cp"] }] });
  await rejects(
    runner.run(["rm", "-rf", "/"]),
    (error: Error) => error.message === "recordingRunner: no canned result for 'rm -rf /'",
  );
  assertEquals(runner.runs.map((run) => run.argv), [["rm", "-rf", "/"]]);
});

Deno.test("the recording runner reads a streamed input to its end and keeps it", async () => {
  const runner = recordingRunner({ script: [{ argv: ["xz"], stdout: "compressed" }] });
  const input = (async function* () {
    yield text.encode("ab");
    yield text.encode("c");
  })();
  const output: Uint8Array[] = [];
  for await (const chunk of pipeThrough(runner, ["xz", "-c"], input)) output.push(chunk);
  assertEquals(output, [text.encode("compressed")]);
  assertEquals(runner.runs[0]?.stdin, text.encode("abc"));
});

Deno.test("a passed-through run is recorded and really runs", async () => {
  const runner = recordingRunner({ passThrough: systemRunner });
  const lines: string[] = [];
  await runner.stream(["sh", "-c", "cat; echo done"], {
    stdin: (async function* () {
      yield text.encode("fed\n");
    })(),
    onStdoutLine: (line) => void lines.push(line),
  });
  assertEquals(lines, ["fed", "done"]);
  assertEquals(runner.runs[0]?.stdin, text.encode("fed\n"));
  ok(runner.transcript().startsWith("$ sh -c 'cat; echo done'\n"));
});

Deno.test("the recording runner records a started server and answers it from its script, output lines included", async () => {
  const runner = recordingRunner({
    script: [{ argv: ["kea-dhcp4"], stdout: "DHCP4_STARTED\n", stderr: "warning\n", code: 0 }],
  });
  const lines: string[] = [];
  const child = runner.start(["kea-dhcp4", "-c", "/etc/kea/kea-dhcp4.conf"], {
    env: { KEA_PIDFILE_DIR: "/run/x" },
    onLine: (line, stream) => lines.push(`${stream}: ${line}`),
  });
  assertEquals(await child.stop(), { code: 0, stderrTail: "warning\n" });
  assertEquals(lines, ["stdout: DHCP4_STARTED", "stderr: warning"]);
  assertEquals(
    runner.transcript(),
    "$ env KEA_PIDFILE_DIR=/run/x kea-dhcp4 -c /etc/kea/kea-dhcp4.conf\n",
  );
});
