// Test support: the one way a test runs a real program (GNU tar and cpio, bsdtar, sha256sum,
// the compressors) and reads what it printed. Everything goes through the system runner.

import { systemRunner } from "../../core/process.ts";

/** Where a program runs and what it reads. */
export interface ProgramOptions {
  cwd?: string;
  stdin?: Uint8Array;
}

/** Runs `argv` to the end; a failure throws with the argv and its stderr. Returns stdout. */
export async function run(argv: string[], options: ProgramOptions = {}): Promise<Uint8Array> {
  return (await systemRunner.run(argv, options)).stdout;
}

/** Like {@linkcode run}, with stdout as text. */
export async function sh(argv: string[], options: ProgramOptions = {}): Promise<string> {
  return new TextDecoder().decode(await run(argv, options));
}

/** Runs a shell pipeline (bash -o pipefail), returning stdout as text. */
export function pipeline(script: string, cwd?: string): Promise<string> {
  return sh(["bash", "-o", "pipefail", "-c", script], cwd === undefined ? {} : { cwd });
}

/** Runs a program whatever its exit status, for tests that assert the status itself. */
export async function runTool(
  program: string,
  args: string[],
  options: ProgramOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await systemRunner.run([program, ...args], { ...options, allowFailure: true });
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: output.stderr,
  };
}
