// The one way core tells the user something while it works: result lines, warnings, notes.

import type { Io } from "./context.ts";

/**
 * What core reports besides its return value. Core never writes to the streams itself: main.ts
 * gives every command a reporter (today {@linkcode textReporter} on the real streams), so a
 * `--json` or a quiet mode changes what is shown in one place. Texts carry no trailing newline.
 *
 * @example
 * ```ts
 * ctx.reporter.line(`Packing contents of ${rootimg}`);
 * ctx.reporter.note(`${path} is a socket; it is not in the archive.`);
 * ```
 */
export interface Reporter {
  /** One line of the command's output, what a script reads (stdout). */
  line(text: string): void;
  /** Something the user should fix or check; the command carries on (stderr, `Warning: `). */
  warn(text: string): void;
  /** Something left out or done differently on purpose, e.g. a file not archived (stderr, `Note: `). */
  note(text: string): void;
  /** A message about the run rather than its result, e.g. an obsolete option (stderr, as given). */
  info(text: string): void;
}

/**
 * The reporter of the terminal: lines on stdout, the rest on stderr, each with the prefix xCAT's
 * scripts grep for, as osimg always printed them.
 */
export function textReporter(io: Pick<Io, "out" | "err">): Reporter {
  return {
    line: (text) => io.out(`${text}\n`),
    warn: (text) => io.err(`Warning: ${text}\n`),
    note: (text) => io.err(`Note: ${text}\n`),
    info: (text) => io.err(`${text}\n`),
  };
}

/** A reporter that shows nothing (tests, and work whose messages would mislead the user). */
export const silentReporter: Reporter = {
  line() {},
  warn() {},
  note() {},
  info() {},
};

/**
 * `reporter` without its output lines, for work one command does inside another (a snapshot's
 * export, a rollback's import): its lines would pass for the outer command's result, while its
 * warnings and messages about the run still concern the user.
 */
export function withoutLines(reporter: Reporter): Reporter {
  return { ...reporter, line() {} };
}
