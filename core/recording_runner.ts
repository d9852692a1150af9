// A process runner that records every command and answers from a script: argv golden tests and dry runs.

import { concatBytes } from "../formats/bytes.ts";
import { ExternalCommandError } from "./errors.ts";
import {
  type BackgroundProcess,
  LineSplitter,
  type ProcessRunner,
  type RunOptions,
  type RunResult,
  STDERR_TAIL_CHARS,
  type StreamOptions,
  type StreamResult,
} from "./process.ts";

/** One command as the code under test asked for it. */
export interface RecordedRun {
  /** Which runner method was called. */
  kind: "run" | "stream" | "start";
  argv: readonly string[];
  cwd?: string;
  env?: Record<string, string>;
  clearEnv?: boolean;
  /** What the command was given on stdin, whole (an iterable is read to its end). */
  stdin?: Uint8Array;
}

/** A canned answer: what a program "did", without running it. */
export interface CannedResult {
  /** Answers runs whose argv starts with these words; absent: any run. */
  argv?: readonly string[];
  /** Exit status (default 0). */
  code?: number;
  stdout?: string | Uint8Array;
  stderr?: string;
  /** Answers one run only, then the next matching entry does (default: every run). */
  once?: boolean;
}

/** A runner that remembers what it was asked to run. */
export interface RecordingRunner extends ProcessRunner {
  /** Every run, in the order they were started. */
  readonly runs: RecordedRun[];
  /**
   * The runs as shell-like lines (`$ cd DIR && env K=V argv...`, words quoted as a shell would
   * need), for golden files; each key of `replace` (a temporary directory) is written as its
   * value.
   */
  transcript(replace?: Record<string, string>): string;
}

/**
 * A runner that records the argv, cwd, environment and stdin of every run and answers from
 * `script` (first matching entry); a run no entry matches goes to `passThrough` (recorded too),
 * or fails the test when there is none.
 *
 * @example
 * ```ts
 * const runner = recordingRunner({ script: [{ argv: ["mksquashfs"], code: 0 }] });
 * await pack(ctx({ runner }), image);
 * await assertGolden("packimage_squashfs.argv", runner.transcript({ [root]: "<root>" }));
 * ```
 */
export function recordingRunner(
  options: { script?: readonly CannedResult[]; passThrough?: ProcessRunner } = {},
): RecordingRunner {
  const script = [...(options.script ?? [])];
  const runs: RecordedRun[] = [];
  const answerFor = (argv: readonly string[]): CannedResult | undefined => {
    const index = script.findIndex((entry) =>
      (entry.argv ?? []).every((word, position) => argv[position] === word)
    );
    if (index < 0) return undefined;
    const entry = script[index]!;
    if (entry.once) script.splice(index, 1);
    return entry;
  };
  const record = (
    kind: RecordedRun["kind"],
    argv: readonly string[],
    given: Omit<RunOptions, "stdin">,
  ) => {
    const run: RecordedRun = { kind, argv: [...argv] };
    if (given.cwd !== undefined) run.cwd = given.cwd;
    if (given.env !== undefined) run.env = { ...given.env };
    if (given.clearEnv) run.clearEnv = true;
    runs.push(run);
    return run;
  };
  const unexpected = (argv: readonly string[]) =>
    new Error(`recordingRunner: no canned result for '${argv.join(" ")}'`);

  return {
    runs,

    async run(argv, given = {}) {
      const run = record("run", argv, given);
      if (given.stdin) run.stdin = given.stdin;
      const answer = answerFor(argv);
      if (!answer) {
        if (options.passThrough) return await options.passThrough.run(argv, given);
        throw unexpected(argv);
      }
      const result: RunResult = {
        code: answer.code ?? 0,
        stdout: bytesOf(answer.stdout),
        stderr: answer.stderr ?? "",
      };
      if (result.code !== 0 && !given.allowFailure) {
        throw new ExternalCommandError(
          argv,
          result.code,
          result.stderr.slice(-STDERR_TAIL_CHARS),
        );
      }
      return result;
    },

    async stream(argv, given = {}) {
      given.signal?.throwIfAborted();
      const run = record("stream", argv, given);
      const answer = answerFor(argv);
      if (!answer && !options.passThrough) throw unexpected(argv);
      if (given.stdin instanceof Uint8Array) run.stdin = given.stdin;
      else if (given.stdin) {
        // Tee what the program reads, whoever answers.
        const source = given.stdin;
        const seen: Uint8Array[] = [];
        given = {
          ...given,
          stdin: (async function* () {
            for await (const chunk of source) {
              seen.push(chunk.slice());
              yield chunk;
            }
            run.stdin = concatBytes(seen);
          })(),
        };
      }
      if (!answer) return await options.passThrough!.stream(argv, given);
      if (given.stdin && !(given.stdin instanceof Uint8Array)) {
        // A canned program reads its whole input, as a filter would.
        for await (const _ of given.stdin) { /* the tee keeps what it read */ }
      }
      return await answerStream(argv, answer, given);
    },

    start(argv, given = {}) {
      record("start", argv, given);
      const answer = answerFor(argv);
      if (!answer) {
        if (options.passThrough) return options.passThrough.start(argv, given);
        throw unexpected(argv);
      }
      // A canned server "ran" and ended: its output is delivered, its status is the answer's.
      const stdout = new LineSplitter();
      const stderr = new LineSplitter();
      const text = new TextDecoder().decode(bytesOf(answer.stdout));
      for (const line of [...stdout.take(text), ...stdout.end()]) given.onLine?.(line, "stdout");
      for (const line of [...stderr.take(answer.stderr ?? ""), ...stderr.end()]) {
        given.onLine?.(line, "stderr");
      }
      const exited = Promise.resolve({
        code: answer.code ?? 0,
        stderrTail: (answer.stderr ?? "").slice(-STDERR_TAIL_CHARS),
      });
      const handle: BackgroundProcess = {
        argv: [...argv],
        pid: 0,
        exited,
        stop: () => exited,
        [Symbol.asyncDispose]: async () => void (await exited),
      };
      return handle;
    },

    transcript(replace = {}) {
      const keys = Object.keys(replace).sort((a, b) => b.length - a.length);
      const substitute = (text: string) =>
        keys.reduce((out, key) => out.replaceAll(key, replace[key]!), text);
      const lines: string[] = [];
      for (const run of runs) {
        const words: string[] = [];
        if (run.cwd !== undefined) words.push("cd", shellQuote(substitute(run.cwd)), "&&");
        if (run.env !== undefined || run.clearEnv) {
          words.push("env", ...(run.clearEnv ? ["-i"] : []));
          for (const [name, value] of Object.entries(run.env ?? {}).sort()) {
            words.push(shellQuote(`${name}=${substitute(value)}`));
          }
        }
        words.push(...run.argv.map((word) => shellQuote(substitute(word))));
        lines.push(`$ ${words.join(" ")}`);
        if (run.stdin) lines.push(`  (stdin: ${run.stdin.byteLength} bytes)`);
      }
      return lines.map((line) => `${line}\n`).join("");
    },
  };
}

async function answerStream(
  argv: readonly string[],
  answer: CannedResult,
  given: StreamOptions,
): Promise<StreamResult> {
  const stdout = bytesOf(answer.stdout);
  if (given.onStdout && stdout.byteLength > 0) await given.onStdout(stdout);
  if (given.onStdoutLine) {
    const lines = new LineSplitter();
    for (const line of [...lines.take(lines.decode(stdout)), ...lines.end()]) {
      await given.onStdoutLine(line);
    }
  }
  const stderr = answer.stderr ?? "";
  if (given.onStderrLine) {
    const lines = new LineSplitter();
    for (const line of [...lines.take(stderr), ...lines.end()]) await given.onStderrLine(line);
  }
  const result = { code: answer.code ?? 0, stderrTail: stderr.slice(-STDERR_TAIL_CHARS) };
  if (result.code !== 0 && !given.allowFailure) {
    throw new ExternalCommandError(argv, result.code, result.stderrTail);
  }
  return result;
}

function bytesOf(value: string | Uint8Array | undefined): Uint8Array {
  if (value === undefined) return new Uint8Array();
  return typeof value === "string" ? new TextEncoder().encode(value) : value;
}

/** `word` as a POSIX shell reads it back: bare when it is plain, else single-quoted. */
function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
