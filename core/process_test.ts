import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";
import { ExternalCommandError } from "./errors.ts";
import { LineSplitter, pipeThrough, systemRunner } from "./process.ts";

const text = new TextEncoder();

Deno.test("stream delivers stdout lines while the program runs and feeds stdin as it is produced", async () => {
  // The program prints "ready", then waits for a line that the input only yields once "ready"
  // arrived: a runner that delivered output only at the end would never finish.
  let sawReady!: () => void;
  const ready = new Promise<void>((resolve) => (sawReady = resolve));
  const input = (async function* () {
    await ready;
    yield text.encode("go\n");
  })();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const result = await systemRunner.stream(
    ["sh", "-c", 'echo ready; read word; echo "got $word"; echo "50%" >&2; echo warn >&2'],
    {
      stdin: input,
      onStdoutLine: (line) => {
        stdout.push(line);
        if (line === "ready") sawReady();
      },
      onStderrLine: (line) => void stderr.push(line),
    },
  );
  assertEquals(stdout, ["ready", "got go"]);
  assertEquals(stderr, ["50%", "warn"]);
  assertEquals(result, { code: 0, stderrTail: "50%\nwarn\n" });
});

Deno.test("stream does not keep the stdin chunks it has fed (memory stays flat over a long input)", async () => {
  // A pack feeds gigabytes: each chunk must be collectable once written, on both write paths
  // (blocking writes when stdout is not read, the async writer when it is).
  const chunk = 1 << 20;
  const count = 400;
  for (const readStdout of [false, true]) {
    let grown = 0;
    const input = (async function* () {
      const start = Deno.memoryUsage().rss;
      for (let index = 0; index < count; index++) {
        yield new Uint8Array(chunk).fill(index);
        grown = Math.max(grown, Deno.memoryUsage().rss - start);
      }
    })();
    await systemRunner.stream(["cat"], {
      stdin: input,
      ...(readStdout ? { onStdout: () => {} } : {}),
    });
    const label = readStdout ? "async writer" : "blocking writer";
    ok(grown < 150 * chunk, `${label}: RSS grew by ${Math.round(grown / chunk)} MiB`);
  }
});

Deno.test("a failed streamed program is an ExternalCommandError with its argv, status and stderr tail", async () => {
  const argv = ["sh", "-c", "echo first >&2; echo 'disk full' >&2; exit 3"];
  await rejects(systemRunner.stream(argv), (error: unknown) => {
    ok(error instanceof ExternalCommandError);
    assertEquals(error.argv, argv);
    assertEquals(error.code, 3);
    assertEquals(error.stderrTail, "first\ndisk full\n");
    assertEquals(
      error.message,
      `Command '${argv.join(" ")}' failed with exit code 3: first / disk full`,
    );
    return true;
  });
  const allowed = await systemRunner.stream(argv, { allowFailure: true });
  assertEquals(allowed.code, 3);
});

Deno.test("a streamed program that is not installed is xCAT's 'Command X does not exist.'", async () => {
  await rejects(
    systemRunner.stream(["osimg-no-such-program", "x"]),
    (error: unknown) =>
      error instanceof ExternalCommandError && error.code === 127 &&
      error.message === "Command osimg-no-such-program does not exist.",
  );
});

Deno.test("an input that fails kills the streamed program and its error is thrown", async () => {
  const input = (async function* () {
    yield text.encode("partial\n");
    throw new Error("the source broke");
  })();
  const seen: string[] = [];
  await rejects(
    systemRunner.stream(["cat"], { stdin: input, onStdoutLine: (line) => void seen.push(line) }),
    /the source broke/,
  );
  // Whatever cat managed to echo, it never saw an end of input to finish on.
  ok(seen.length <= 1);
});

Deno.test("aborting the signal kills a long program", async () => {
  const abort = new AbortController();
  const started = Date.now();
  await rejects(
    systemRunner.stream(["sh", "-c", "echo started; exec sleep 30"], {
      signal: abort.signal,
      onStdoutLine: () => abort.abort(new Error("cancelled by the user")),
    }),
    /cancelled by the user/,
  );
  ok(Date.now() - started < 10_000, "the child was killed, not waited for");
});

Deno.test("pipeThrough yields a filter's output and returns its status", async () => {
  const payload = text.encode("osimg ".repeat(100_000));
  const input = (async function* () {
    for (let offset = 0; offset < payload.length; offset += 7_000) {
      yield payload.subarray(offset, offset + 7_000);
    }
  })();
  const chunks: Uint8Array[] = [];
  const filter = pipeThrough(systemRunner, ["gzip", "-c", "-1"], input);
  let step = await filter.next();
  while (!step.done) {
    chunks.push(step.value);
    step = await filter.next();
  }
  assertEquals(step.value, { code: 0, stderrTail: "" });
  assertEquals(new Uint8Array(gunzipSync(Buffer.concat(chunks))), payload);
});

Deno.test("stopping a pipeThrough reader early kills the program", async () => {
  const started = Date.now();
  const never = (async function* () {
    await new Promise(() => {}); // an input that never comes
    yield new Uint8Array();
  })();
  let read = 0;
  // `yes` writes forever; without the kill the loop's break would leave it running.
  for await (const chunk of pipeThrough(systemRunner, ["yes"], never)) {
    read += chunk.byteLength;
    if (read > 100_000) break;
  }
  ok(read > 100_000);
  ok(Date.now() - started < 10_000);
});

Deno.test("lines end at \\n, \\r\\n or a lone \\r, whatever the chunking", () => {
  const bytes = text.encode("a\r\nb\rc\n10%\r20%\r\nlast");
  for (let size = 1; size <= bytes.length; size++) {
    const splitter = new LineSplitter();
    const lines: string[] = [];
    for (let offset = 0; offset < bytes.length; offset += size) {
      lines.push(...splitter.take(splitter.decode(bytes.subarray(offset, offset + size))));
    }
    lines.push(...splitter.end());
    assertEquals(lines, ["a", "b", "c", "10%", "20%", "last"], `chunk size ${size}`);
  }
});

Deno.test("start returns at once with a running child whose lines arrive as they come, and stop ends it with its signal", async () => {
  const lines: string[] = [];
  let ready: () => void = () => {};
  const started = new Promise<void>((resolve) => (ready = resolve));
  const child = systemRunner.start(
    [
      "sh",
      "-c",
      // The trap and the stderr line first: "up" means both are done before the signal comes.
      "trap 'echo bye; exit 3' TERM; echo warming >&2; echo up; while :; do sleep 0.1; done",
    ],
    {
      onLine: (line, stream) => {
        lines.push(`${stream}: ${line}`);
        if (line === "up") ready();
      },
    },
  );
  ok(child.pid > 0);
  await started;
  const result = await child.stop("SIGTERM");
  // The shell's trap ran: the signal was TERM, and its exit status is the caller's to read.
  assertEquals(result.code, 3);
  assertEquals(lines.sort(), ["stderr: warming", "stdout: bye", "stdout: up"]);
  assertEquals(await child.exited, result);
});

Deno.test("stop SIGKILLs a started child that ignores its signal after the grace period", async () => {
  const started = Date.now();
  let ready: () => void = () => {};
  const up = new Promise<void>((resolve) => (ready = resolve));
  const child = systemRunner.start([
    "sh",
    "-c",
    "trap '' TERM; echo up; while :; do sleep 0.1; done",
  ], {
    onLine: () => ready(),
  });
  await up;
  const result = await child.stop("SIGTERM", 300);
  ok(result.code !== 0);
  ok(Date.now() - started < 10_000, "killed after the grace period, not waited for");
});

Deno.test("only core/process.ts spawns programs: every other module goes through the runner", async () => {
  const repository = dirname(dirname(fileURLToPath(import.meta.url)));
  const spawners: string[] = [];
  const visit = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await visit(path);
      else if (entry.name.endsWith(".ts") && !/_test\.ts$|_testing\.ts$/.test(entry.name)) {
        const source = await Deno.readTextFile(path);
        if (/new Deno\.Command\b|\bspawnProgram\(|Deno\.run\(/.test(source)) {
          spawners.push(relative(repository, path));
        }
      }
    }
  };
  for (const folder of ["cmd", "core", "formats", "providers"]) {
    await visit(join(repository, folder));
  }
  assertEquals(spawners.filter((path) => path !== "core/process.ts").sort(), []);
});
