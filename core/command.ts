// The command interface every verb in cmd/ implements, and strict flag parsing for them.

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import type { Context } from "./context.ts";
import { UsageError } from "./errors.ts";

/**
 * One verb. `run` parses its flags, calls core, prints; it throws OsimgError on failure. It may
 * return an exit status for an outcome that is not an error yet not a plain success (diff's
 * "the sides differ": 1, printed as the result, with no `Error:` line).
 */
export interface Command {
  name: string;
  /** The full usage text printed by `<verb> --help` (ends with a newline). */
  usage: string;
  /**
   * The exit status of every failure of this verb, usage errors included, when the verb's own
   * statuses already give 1 a meaning (diff and cmp exit 1 for "different", 2 for trouble).
   */
  failureStatus?: number;
  run(ctx: Context, args: string[]): Promise<void | number>;
}

/** Flags parsed strictly: values are strings, booleans or string arrays. */
export type ParsedFlags = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Parses `args` with node:util's parseArgs in strict mode; an unknown flag, a missing value or
 * a stray positional becomes one UsageError line naming the verb.
 *
 * @example
 * ```ts
 * const { flags, positionals } = parseFlags("lsdef", ["-t", "osimage"], { t: { type: "string" } });
 * ```
 */
export function parseFlags(
  verb: string,
  args: string[],
  options: ParseArgsOptionsConfig,
  limits: { minPositionals?: number; maxPositionals?: number } = {},
): { flags: ParsedFlags; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    const message = (error as Error).message.split("\n")[0]!.replace(/\. To specify.*$/, "");
    throw new UsageError(`${verb}: ${message}. Run '${verb} --help' for usage.`, { cause: error });
  }
  const positionals = parsed.positionals;
  if (limits.minPositionals !== undefined && positionals.length < limits.minPositionals) {
    throw new UsageError(`${verb}: missing argument. Run '${verb} --help' for usage.`);
  }
  if (limits.maxPositionals !== undefined && positionals.length > limits.maxPositionals) {
    throw new UsageError(
      `${verb}: unexpected argument '${
        positionals[limits.maxPositionals]
      }'. Run '${verb} --help' for usage.`,
    );
  }
  return { flags: parsed.values as ParsedFlags, positionals };
}

/** A string flag's value (the last one when repeated). */
export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const value = flags[name];
  if (Array.isArray(value)) {
    const last = value[value.length - 1];
    return typeof last === "string" ? last : undefined;
  }
  return typeof value === "string" ? value : undefined;
}

/** A repeatable string flag's values, in order. */
export function stringsFlag(flags: ParsedFlags, name: string): string[] {
  const value = flags[name];
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  return values.filter((item): item is string => typeof item === "string");
}

/** A boolean flag. */
export function booleanFlag(flags: ParsedFlags, name: string): boolean {
  const value = flags[name];
  return Array.isArray(value) ? value.length > 0 : value === true;
}
