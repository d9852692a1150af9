// External filter programs (zstd, xz, bzip2): bytes piped through a child process with a clean
// environment, its failures turned into errors.

import { spawnProgram } from "./process.ts";

export type FailureReport = (argv: readonly string[], code: number, stderr: string) => Error;

/**
 * The tool's own reason from its stderr: the first "program: ..." line without the program and
 * stdin prefixes ("xz: (stdin): Unexpected end of input" -> "Unexpected end of input"; zstd says
 * "/*stdin*\\ :"), without trailing punctuation. bzip2 follows its reason with advice lines.
 */
export function toolReason(stderr: string): string {
  const lines = stderr.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const line = lines.find((candidate) => /^\S+: /.test(candidate)) ?? lines.at(-1) ?? "";
  return line.replace(/^\S+: /, "").replace(/^(\(stdin\)|\/\*stdin\*\\)\s*: ?/, "")
    .replace(/[.;:\s]+$/, "");
}

/**
 * Pipes `input` through an external program and yields its stdout. The child gets a clean
 * environment (XZ_DEFAULTS, ZSTD_CLEVEL and the like would change the output). If `input` fails,
 * the child is killed and that error is thrown; if the child fails, `failure` makes the error.
 * `fatalWarning` marks stderr text that fails the run even when the exit status is 0. With
 * `output` "file" the program writes its own output file (named in argv) and nothing is yielded.
 */
export async function* runFilter(
  argv: readonly string[],
  input: AsyncIterable<Uint8Array>,
  failure: FailureReport,
  fatalWarning?: RegExp,
  output: "stream" | "file" = "stream",
): AsyncGenerator<Uint8Array> {
  const child = spawnProgram(argv, {
    args: argv.slice(1),
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", LC_ALL: "C" },
    stdin: "piped",
    stdout: output === "stream" ? "piped" : "null",
    stderr: "piped",
  });
  let inputFailed = false;
  let inputError: unknown;
  const feed = (async () => {
    if (output === "file") {
      const direct = openChildStdin(child);
      if (direct) {
        // The child may already have gone; its exit status will say why.
        await child.stdin.close().catch(() => {});
        try {
          for await (const chunk of input) {
            let offset = 0;
            while (offset < chunk.byteLength) offset += direct.writeSync(chunk.subarray(offset));
          }
        } catch (error) {
          if (!(error instanceof Deno.errors.BrokenPipe)) {
            inputFailed = true;
            inputError = error;
            killQuietly(child);
          }
        } finally {
          direct.close();
        }
        return;
      }
    }
    const writer = child.stdin.getWriter();
    try {
      for await (const chunk of input) await writer.write(chunk);
      await writer.close();
    } catch (error) {
      // A write fails when the child exited early; its exit status tells why. Anything else
      // came from the input, and the child must not finish on a partial stream.
      if (!(error instanceof Deno.errors.BrokenPipe) && !isClosedStreamError(error)) {
        inputFailed = true;
        inputError = error;
        killQuietly(child);
      }
      await writer.abort().catch(() => {});
    }
  })();
  const stderrText = new Response(child.stderr).text().catch(() => "");
  let finished = false;
  try {
    if (output === "stream") { for await (const chunk of child.stdout) yield chunk; }
    await feed;
    const status = await child.status;
    finished = true;
    if (inputFailed) throw inputError;
    const stderr = (await stderrText).slice(-2000);
    if (!status.success || fatalWarning?.test(stderr)) throw failure(argv, status.code, stderr);
  } finally {
    if (!finished) {
      killQuietly(child);
      await feed.catch(() => {});
      await child.status.catch(() => {});
      await stderrText;
    }
  }
}

/**
 * A second, synchronous write end of the child's stdin pipe (Linux: /proc/<pid>/fd/0 opens the
 * pipe itself). Blocking writes hand data over the moment the program reads it, as a shell pipe
 * does; an async stream writer moves it only when this thread is idle, and a pack keeps this
 * thread busy reading the tree. Undefined where /proc is not there (the async writer is used).
 */
function openChildStdin(child: Deno.ChildProcess): Deno.FsFile | undefined {
  try {
    return Deno.openSync(`/proc/${child.pid}/fd/0`, { write: true });
  } catch {
    return undefined;
  }
}

function isClosedStreamError(error: unknown): boolean {
  return error instanceof TypeError && /closed|errored|cancel/i.test(error.message);
}

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already exited
  }
}
