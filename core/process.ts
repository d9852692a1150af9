// The process-runner seam: real runs spawn programs, tests record argv.

import { ExternalCommandError } from "./errors.ts";

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
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

/** Runs external programs. Core code gets one as an argument so tests can substitute it. */
export interface ProcessRunner {
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
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
      throw new ExternalCommandError(argv, output.code, stderr.slice(-2000));
    }
    return { code: output.code, stdout: output.stdout, stderr };
  },
};

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

/** Whether `program` is on PATH. */
export async function hasProgram(program: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      const info = await Deno.stat(`${dir}/${program}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
