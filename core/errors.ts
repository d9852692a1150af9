// The typed error hierarchy: each error carries its exit status and an actionable message.

/**
 * Base of every error osimg reports to the user. `main.ts` prints `Error: <message>` and exits
 * with `exitCode`; `--debug` adds the `cause` chain.
 *
 * @example
 * ```ts
 * throw new NotFoundError("Could not find an object named 'x' of type 'osimage'.");
 * ```
 */
export class OsimgError extends Error {
  readonly exitCode: number = 1;
  /** Extra lines printed after the message (xCAT prints some errors on several lines). */
  readonly details: string[];

  constructor(message: string, options?: { cause?: unknown; details?: string[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options?.details ?? [];
  }
}

/** A malformed command line: unknown verb or flag, missing argument. Exit status 2. */
export class UsageError extends OsimgError {
  override readonly exitCode = 2;
}

/** Input that is well-formed on the command line but wrong: bad attribute, malformed CSV. */
export class InvalidInputError extends OsimgError {}

/** A named object, table, file or snapshot does not exist. */
export class NotFoundError extends OsimgError {}

/** The change conflicts with what exists (object already defined, lock held). */
export class ConflictError extends OsimgError {}

/** Data failed verification: digest mismatch, hostile member, truncated archive. */
export class IntegrityError extends OsimgError {}

/** An external program (dnf, mksquashfs, xz, …) failed. */
export class ExternalCommandError extends OsimgError {
  readonly argv: readonly string[];
  readonly code: number;
  readonly stderrTail: string;

  constructor(
    argv: readonly string[],
    code: number,
    stderrTail: string,
    message?: string,
    details?: string[],
  ) {
    super(
      message ??
        `Command '${argv.join(" ")}' failed with exit code ${code}` +
          (stderrTail.trim() ? `: ${stderrTail.trim().split("\n").slice(-3).join(" / ")}` : ""),
      details ? { details } : undefined,
    );
    this.argv = argv;
    this.code = code;
    this.stderrTail = stderrTail;
  }
}

/**
 * The run was stopped by a signal (Ctrl-C, SIGTERM) after it cleaned up; exit status 128 + the
 * signal's number, as a shell reports a program a signal ended (130 for SIGINT, 143 for SIGTERM).
 */
export class InterruptedError extends OsimgError {
  override readonly exitCode: number;
  readonly signal: "SIGINT" | "SIGTERM";

  constructor(signal: "SIGINT" | "SIGTERM", message: string) {
    super(message);
    this.signal = signal;
    this.exitCode = signal === "SIGINT" ? 130 : 143;
  }
}

/** Several independent problems found in one pass (verify reports them all). */
export class AggregateProblemsError extends OsimgError {
  readonly problems: string[];

  constructor(summary: string, problems: string[]) {
    super(summary, { details: problems });
    this.problems = problems;
  }
}

/** The message chain of an error and its causes, outermost first, for `--debug`. */
export function causeChain(error: unknown): string[] {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 16; depth++) {
    if (current instanceof Error) {
      lines.push(`${current.name}: ${current.message}`);
      current = current.cause;
    } else {
      lines.push(String(current));
      break;
    }
  }
  return lines;
}
