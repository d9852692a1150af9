// The process-runner seam: real runs spawn programs, tests record argv.

import { ExternalCommandError } from "./errors.ts";

/** How much of a failed program's stderr an ExternalCommandError keeps. */
export const STDERR_TAIL_CHARS = 2000;

export interface RunOptions {
  cwd?: string;
  /** Added to this process's environment (or, with `clearEnv`, the whole environment). */
  env?: Record<string, string>;
  /** Start from an empty environment plus `env` (filters whose output must not vary). */
  clearEnv?: boolean;
  /** Bytes written to the child's stdin, then closed. */
  stdin?: Uint8Array;
  /** Do not throw on a non-zero exit. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Options of {@linkcode ProcessRunner.stream}: a long run whose output arrives as it comes. */
export interface StreamOptions extends Omit<RunOptions, "stdin"> {
  /**
   * What the child reads: bytes, or chunks fed as the iterable yields them. If the iterable
   * throws, the child is killed and that error is thrown; a child that exits without reading
   * everything is not an error of the input (its exit status says why).
   */
  stdin?: Uint8Array | AsyncIterable<Uint8Array>;
  /** Each stdout line as it comes, without its line end ("\r" ends a progress line too). */
  onStdoutLine?: (line: string) => void | Promise<void>;
  /**
   * Each stdout chunk as it comes, for programs whose output is data (a compression filter);
   * the child waits while the returned promise is pending.
   */
  onStdout?: (chunk: Uint8Array) => void | Promise<void>;
  /** Each stderr line as it comes (warnings, progress); the tail is kept either way. */
  onStderrLine?: (line: string) => void | Promise<void>;
  /** Aborting kills the child; the run then throws the signal's reason. */
  signal?: AbortSignal;
}

/** How a streamed run ended (a failure throws unless `allowFailure`). */
export interface StreamResult {
  code: number;
  /** The last {@linkcode STDERR_TAIL_CHARS} characters of stderr. */
  stderrTail: string;
}

/** Options of {@linkcode ProcessRunner.start}: a server or VM that runs beside the caller. */
export interface StartOptions extends Omit<RunOptions, "stdin" | "allowFailure"> {
  /** Each line the child writes, on stdout or stderr, as it comes. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

/** A child started by {@linkcode ProcessRunner.start}; dispose of it to stop it. */
export interface BackgroundProcess extends AsyncDisposable {
  readonly argv: readonly string[];
  readonly pid: number;
  /** How it ended (never rejects: a non-zero status is the caller's to judge). */
  readonly exited: Promise<StreamResult>;
  /**
   * Sends `signal` (default SIGTERM), waits up to `graceMs` for the exit, then SIGKILLs it;
   * returns how it ended. Stopping a child that already ended only returns its status.
   */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<StreamResult>;
}

/** Runs external programs. Core code gets one as an argument so tests can substitute it. */
export interface ProcessRunner {
  /** Runs `argv` to the end and collects its output (short programs: cp, mknod, mksquashfs). */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /**
   * Runs `argv` with its output delivered as it comes and its stdin fed as it is produced
   * (dnf, debootstrap, rsync, QEMU, compression filters). A non-zero exit throws an
   * ExternalCommandError with the argv, the status and the stderr tail.
   *
   * @example
   * ```ts
   * await ctx.runner.stream(["rsync", "-a", "--info=progress2", `${from}/`, to], {
   *   onStdoutLine: (line) => progress.set(line),
   * });
   * ```
   */
  stream(argv: readonly string[], options?: StreamOptions): Promise<StreamResult>;
  /**
   * Starts `argv` and returns at once with a handle (servers and VMs: kea-dhcp4, osimg serve,
   * QEMU); its output lines go to `onLine`. Stop it with `stop()` or `await using`.
   *
   * @example
   * ```ts
   * await using kea = ctx.runner.start(["kea-dhcp4", "-c", config], { onLine: log });
   * ```
   */
  start(argv: readonly string[], options?: StartOptions): BackgroundProcess;
}

/**
 * Runs `argv` as a filter: `input` goes to its stdin and its stdout is yielded as it comes; the
 * generator returns how the run ended. Stopping early (a consumer's `break` or throw) kills the
 * child.
 *
 * @example
 * ```ts
 * const result = yield* pipeThrough(runner, ["xz", "-9", "-c"], chunks, { allowFailure: true });
 * ```
 */
export async function* pipeThrough(
  runner: ProcessRunner,
  argv: readonly string[],
  input: AsyncIterable<Uint8Array>,
  options: Omit<StreamOptions, "stdin" | "onStdout" | "onStdoutLine" | "signal"> = {},
): AsyncGenerator<Uint8Array, StreamResult> {
  // One chunk in flight: the child's stdout pipe holds the rest, so memory stays bounded.
  const abort = new AbortController();
  let offered: { chunk: Uint8Array; taken: () => void } | undefined;
  let inFlight: (() => void) | undefined;
  let wake: (() => void) | undefined;
  let ended = false;
  let stopped = false;
  let outcome: { result: StreamResult } | { error: unknown } | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const run = runner.stream(argv, {
    ...options,
    stdin: input,
    signal: abort.signal,
    // Once the reader stopped, the rest of the output is dropped until the kill lands.
    onStdout: (chunk) =>
      stopped ? undefined : new Promise<void>((taken) => {
        offered = { chunk, taken };
        notify();
      }),
  }).then(
    (result) => void (outcome = { result }),
    (error) => void (outcome = { error }),
  ).finally(() => {
    ended = true;
    notify();
  });
  try {
    while (true) {
      if (offered) {
        inFlight = offered.taken;
        const chunk = offered.chunk;
        offered = undefined;
        yield chunk;
        inFlight();
        inFlight = undefined;
        continue;
      }
      if (ended) break;
      await new Promise<void>((resume) => (wake = resume));
    }
    if (!outcome || "error" in outcome) throw outcome?.error;
    return outcome.result;
  } finally {
    if (!ended) {
      stopped = true;
      abort.abort(new Error(`${argv[0]} was stopped by its reader`));
      inFlight?.();
      offered?.taken();
      await run;
    }
  }
}

/** The runner that really spawns programs with Deno.Command. */
export const systemRunner: ProcessRunner = {
  async run(argv, options = {}) {
    const [program, ...args] = argv;
    if (!program) throw new Error("empty argv");
    const child = spawnProgram(argv, {
      args,
      cwd: options.cwd,
      env: options.env,
      clearEnv: options.clearEnv,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    });
    if (options.stdin) {
      const writer = child.stdin.getWriter();
      await writer.write(options.stdin);
      await writer.close();
    }
    const output = await child.output();
    const stderr = new TextDecoder().decode(output.stderr);
    if (output.code !== 0 && !options.allowFailure) {
      throw new ExternalCommandError(argv, output.code, stderr.slice(-STDERR_TAIL_CHARS));
    }
    return { code: output.code, stdout: output.stdout, stderr };
  },

  start: startProgram,

  async stream(argv, options = {}) {
    if (!argv[0]) throw new Error("empty argv");
    if (options.onStdout && options.onStdoutLine) {
      throw new Error("stream: give onStdout or onStdoutLine, not both");
    }
    options.signal?.throwIfAborted();
    const readsStdout = options.onStdout !== undefined || options.onStdoutLine !== undefined;
    const child = spawnProgram(argv, {
      args: argv.slice(1),
      cwd: options.cwd,
      env: options.env,
      clearEnv: options.clearEnv,
      stdin: options.stdin ? "piped" : "null",
      stdout: readsStdout ? "piped" : "null",
      stderr: "piped",
    });
    // The first failure of ours (input, a callback, an abort) kills the child and is thrown.
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown) => {
      failure ??= { error };
      killQuietly(child);
    };
    const onAbort = () => fail(options.signal!.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const tail = new TextTail(STDERR_TAIL_CHARS);
    const stderrLines = new LineSplitter();
    const pumps = [
      options.stdin
        ? feedStdin(child, options.stdin, !readsStdout, child.status).catch(fail)
        : Promise.resolve(),
      pump(child.stderr, async (chunk) => {
        const text = stderrLines.decode(chunk);
        tail.add(text);
        for (const line of stderrLines.take(text)) await options.onStderrLine?.(line);
      }).then(async () => {
        for (const line of stderrLines.end()) await options.onStderrLine?.(line);
      }).catch(fail),
    ];
    if (options.onStdout) {
      pumps.push(pump(child.stdout, options.onStdout).catch(fail));
    } else if (options.onStdoutLine) {
      const onLine = options.onStdoutLine;
      const stdoutLines = new LineSplitter();
      pumps.push(
        pump(child.stdout, async (chunk) => {
          for (const line of stdoutLines.take(stdoutLines.decode(chunk))) await onLine(line);
        }).then(async () => {
          for (const line of stdoutLines.end()) await onLine(line);
        }).catch(fail),
      );
    }
    try {
      await Promise.all(pumps);
      const status = await child.status;
      if (failure) throw failure.error;
      const stderrTail = tail.text();
      if (status.code !== 0 && !options.allowFailure) {
        throw new ExternalCommandError(argv, status.code, stderrTail);
      }
      return { code: status.code, stderrTail };
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  },
};

/** How long {@linkcode BackgroundProcess.stop} waits after its signal before SIGKILL. */
const STOP_GRACE_MS = 10_000;

function startProgram(argv: readonly string[], options: StartOptions = {}): BackgroundProcess {
  if (!argv[0]) throw new Error("empty argv");
  const child = spawnProgram(argv, {
    args: argv.slice(1),
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const tail = new TextTail(STDERR_TAIL_CHARS);
  const lines = (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") => {
    const splitter = new LineSplitter();
    const each = (line: string) => {
      if (name === "stderr") tail.add(`${line}\n`);
      options.onLine?.(line, name);
    };
    return pump(stream, (chunk) => {
      for (const line of splitter.take(splitter.decode(chunk))) each(line);
    }).then(() => splitter.end().forEach(each)).catch(() => {});
  };
  const pumps = Promise.all([lines(child.stdout, "stdout"), lines(child.stderr, "stderr")]);
  const exited = child.status.then(async (status) => {
    await pumps;
    return { code: status.code, stderrTail: tail.text() };
  });
  let ended = false;
  exited.finally(() => (ended = true));
  const stop = async (signal: Deno.Signal = "SIGTERM", graceMs = STOP_GRACE_MS) => {
    if (!ended) {
      try {
        child.kill(signal);
      } catch {
        // it exited meanwhile
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([exited, grace]);
      clearTimeout(timer);
      if (!ended) killQuietly(child);
    }
    return await exited;
  };
  return {
    argv: [...argv],
    pid: child.pid,
    exited,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** Reads `stream` to its end, awaiting `each` per chunk; a throw cancels the stream. */
async function pump(
  stream: ReadableStream<Uint8Array>,
  each: (chunk: Uint8Array) => void | Promise<void>,
): Promise<void> {
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      await each(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  } finally {
    reader.releaseLock();
  }
}

/**
 * Writes `stdin` to the child and closes it. When nothing reads the child's stdout, a second,
 * synchronous write end of the pipe (Linux: /proc/<pid>/fd/0) hands data over the moment the
 * program reads it, as a shell pipe does; an async stream writer moves it only when this thread
 * is idle, and a pack keeps this thread busy. With stdout read here that would deadlock, so the
 * async writer is used then.
 */
async function feedStdin(
  child: Deno.ChildProcess,
  stdin: Uint8Array | AsyncIterable<Uint8Array>,
  blockingAllowed: boolean,
  exited: Promise<unknown>,
): Promise<void> {
  const chunks = stdin instanceof Uint8Array ? onlyChunk(stdin) : stdin;
  const direct = blockingAllowed ? openChildStdin(child) : undefined;
  if (direct) {
    // The child may already have gone; its exit status will say why.
    await child.stdin.close().catch(() => {});
    try {
      for await (const chunk of untilExit(chunks, exited)) {
        let offset = 0;
        while (offset < chunk.byteLength) offset += direct.writeSync(chunk.subarray(offset));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    } finally {
      direct.close();
    }
    return;
  }
  const writer = child.stdin.getWriter();
  try {
    for await (const chunk of untilExit(chunks, exited)) await writer.write(chunk);
    await writer.close();
  } catch (error) {
    await writer.abort().catch(() => {});
    // A write fails when the child exited early; its exit status tells why. Anything else
    // came from the input, and the child must not finish on a partial stream.
    if (!(error instanceof Deno.errors.BrokenPipe) && !isClosedStreamError(error)) throw error;
  }
}

async function* onlyChunk(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * The chunks of `input` until the child exits: then nothing reads them, and an input that is
 * slow to produce (or never ends) must not hold the run open.
 */
async function* untilExit(
  input: AsyncIterable<Uint8Array>,
  exited: Promise<unknown>,
): AsyncGenerator<Uint8Array> {
  const iterator = input[Symbol.asyncIterator]();
  // Not Promise.race(next, exited) per chunk: every race leaves a reaction on the long-lived
  // `exited` that holds the race's result, so each chunk fed stayed in memory until the exit
  // (a pack's whole archive). One reaction wakes whichever wait is current.
  let hasExited = false;
  let wakeOnExit: (() => void) | undefined;
  exited.catch(() => {}).finally(() => {
    hasExited = true;
    wakeOnExit?.();
  });
  while (!hasExited) {
    const next = iterator.next();
    const step = await new Promise<IteratorResult<Uint8Array> | undefined>((resolve, reject) => {
      wakeOnExit = () => resolve(undefined);
      next.then(resolve, reject);
    }).finally(() => (wakeOnExit = undefined));
    if (step === undefined) {
      next.catch(() => {});
      break;
    }
    if (step.done) return;
    yield step.value;
  }
  iterator.return?.()?.catch(() => {});
}

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

/** Splits decoded text into lines at "\n", "\r\n" or a lone "\r" (a redrawn progress line). */
export class LineSplitter {
  readonly #decoder = new TextDecoder();
  #pending = "";

  /** Decodes a chunk (a character split across chunks is kept for the next). */
  decode(chunk: Uint8Array): string {
    return this.#decoder.decode(chunk, { stream: true });
  }

  /** The complete lines `text` finishes; a trailing "\r" waits to see whether "\n" follows. */
  take(text: string): string[] {
    const lines = (this.#pending + text).split(/\r\n|\r(?!$)|\n/);
    // The unfinished rest waits, a final "\r" too: the "\n" of a "\r\n" may come next.
    this.#pending = lines.pop()!;
    return lines;
  }

  /** The last line when the output did not end with a line end. */
  end(): string[] {
    const rest = (this.#pending + this.#decoder.decode()).replace(/\r$/, "");
    this.#pending = "";
    return rest === "" ? [] : [rest];
  }
}

/** The last `limit` characters of a text that arrives in pieces. */
class TextTail {
  #text = "";
  constructor(readonly limit: number) {}

  add(text: string): void {
    this.#text = (this.#text + text).slice(-this.limit);
  }

  text(): string {
    return this.#text;
  }
}

/**
 * Starts `argv[0]` with `options` (its `args` included); a program that is not installed
 * becomes xCAT's `Command X does not exist.` as an ExternalCommandError.
 */
export function spawnProgram(
  argv: readonly string[],
  options: Deno.CommandOptions,
): Deno.ChildProcess {
  try {
    return new Deno.Command(argv[0]!, options).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ExternalCommandError(argv, 127, "", `Command ${argv[0]} does not exist.`);
    }
    throw error;
  }
}

/** Whether `program` is on `path` (default: this process's PATH). */
export async function hasProgram(
  program: string,
  path = Deno.env.get("PATH") ?? "/usr/bin:/bin",
): Promise<boolean> {
  for (const dir of path.split(":").filter(Boolean)) {
    try {
      const info = await Deno.stat(`${dir}/${program}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
