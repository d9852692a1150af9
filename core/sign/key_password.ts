// The password of a secret key: from OSIMG_KEY_PASSWORD (CI, scripts) or typed on the terminal without echo.

import type { Context } from "../context.ts";
import { InvalidInputError, UsageError } from "../errors.ts";

/** The environment variable a non-interactive run gives the password in. */
export const PASSWORD_VARIABLE = "OSIMG_KEY_PASSWORD";

/**
 * The password for `what` (a key file): OSIMG_KEY_PASSWORD when it is set, else typed on the
 * terminal (stdin and stderr both terminals) (asked twice for a new key); without either, one line saying how to give it. A new
 * key's password may not be empty (`keygen --no-password` makes a key without one).
 */
export async function keyPassword(
  ctx: Pick<Context, "env" | "io">,
  what: string,
  options: { confirm?: boolean } = {},
): Promise<string> {
  const fromEnvironment = ctx.env[PASSWORD_VARIABLE];
  let password: string;
  if (fromEnvironment !== undefined) {
    password = fromEnvironment;
  } else if (Deno.stdin.isTerminal() && ctx.io.stderrIsTerminal) {
    // The prompt goes to stderr: asked only when someone can see it.
    password = await readHidden(ctx, "Password: ");
    if (options.confirm && await readHidden(ctx, "Password (one more time): ") !== password) {
      throw new InvalidInputError(`${what}: the passwords do not match`);
    }
  } else {
    throw new UsageError(
      `${what} needs a password: set ${PASSWORD_VARIABLE}, or run osimg on a terminal` +
        (options.confirm ? " (or use --no-password for a key without one)" : ""),
    );
  }
  if (options.confirm && password === "") {
    throw new InvalidInputError(
      `${what}: the password is empty; use --no-password for a key without one`,
    );
  }
  return password;
}

/** One line from the terminal, not echoed (raw mode; backspace edits, Ctrl-C or Ctrl-D stops). */
async function readHidden(ctx: Pick<Context, "io">, prompt: string): Promise<string> {
  ctx.io.err(prompt);
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  Deno.stdin.setRaw(true);
  try {
    reading: while (true) {
      const count = await Deno.stdin.read(buffer);
      if (count === null) break;
      for (const byte of buffer.subarray(0, count)) {
        if (byte === 0x0d || byte === 0x0a) break reading;
        if (byte === 0x03 || byte === 0x04) {
          throw new InvalidInputError("No password was given (interrupted)");
        }
        if (byte === 0x7f || byte === 0x08) bytes.pop();
        else bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    ctx.io.err("\n");
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
