// External filter programs (zstd, xz, bzip2): bytes piped through a child process with a clean
// environment, run by the process runner, its failures turned into errors.

import { pipeThrough, type ProcessRunner, type StreamOptions } from "../process.ts";

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
 * Pipes `input` through an external program run by `runner` and yields its stdout. The child
 * gets a clean environment (XZ_DEFAULTS, ZSTD_CLEVEL and the like would change the output). If
 * `input` fails, the child is killed and that error is thrown; if the child fails, `failure`
 * makes the error from its exit status and stderr tail. `fatalWarning` marks stderr text that
 * fails the run even when the exit status is 0. With `output` "file" the program writes its own
 * output file (named in argv) and nothing is yielded: its stdout is not read, so the runner feeds
 * stdin with blocking writes, which a pack needs for speed (process.ts, feedStdin).
 */
export async function* runFilter(
  runner: ProcessRunner,
  argv: readonly string[],
  input: AsyncIterable<Uint8Array>,
  failure: FailureReport,
  fatalWarning?: RegExp,
  output: "stream" | "file" = "stream",
): AsyncGenerator<Uint8Array> {
  const options: StreamOptions = {
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", LC_ALL: "C" },
    // The exit status and stderr are judged here, with the caller's words.
    allowFailure: true,
  };
  const result = output === "stream"
    ? yield* pipeThrough(runner, argv, input, options)
    : await runner.stream(argv, { ...options, stdin: input });
  if (result.code !== 0 || fatalWarning?.test(result.stderrTail)) {
    throw failure(argv, result.code, result.stderrTail);
  }
}
