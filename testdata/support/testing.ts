// Test support: a temporary management-node root and an in-process osimg runner.

import { strictEqual } from "node:assert/strict";
import { createHash } from "node:crypto";
import { runCli } from "../../main.ts";
import type { ProcessRunner } from "../../core/process.ts";

/** What one in-process run printed and returned. */
export interface RunOutput {
  status: number;
  stdout: string;
  stderr: string;
}

/** A temporary root with helpers to run osimg against it. */
export interface TestRoot {
  /** The temporary directory used as --root. */
  root: string;
  /** Its database: the --db given to every run, or the SQLite file under the root. */
  db: string;
  /** Runs `osimg <args>` in-process with --root set; stdin text optional. */
  run(args: string[], options?: { stdin?: string; env?: Record<string, string> }): Promise<
    RunOutput
  >;
  /** Like `run`, but throws with the output when the status is not 0. */
  ok(args: string[], options?: { stdin?: string; env?: Record<string, string> }): Promise<
    RunOutput
  >;
  /** Removes the root. */
  cleanup(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates a fresh root for one test. Use with `await using`.
 *
 * @example
 * ```ts
 * await using t = await testRoot();
 * await t.ok(["mkdef", "-t", "osimage", "-o", "img", "provmethod=netboot"]);
 * ```
 */
export async function testRoot(
  options: {
    runner?: ProcessRunner;
    now?: () => Date;
    /** A --db for every run (a PostgreSQL URL: testdata/support/store_testing.ts). */
    db?: string;
  } = {},
): Promise<TestRoot> {
  const root = await Deno.makeTempDir({ prefix: "osimg-test-" });
  const db = options.db ?? `${root}/etc/xcat/osimg.sqlite`;
  const run = async (
    args: string[],
    runOptions: { stdin?: string; env?: Record<string, string> } = {},
  ): Promise<RunOutput> => {
    let stdout = "";
    let stderr = "";
    const status = await runCli([
      "--root",
      root,
      ...(options.db === undefined ? [] : ["--db", options.db]),
      ...args,
    ], {
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...runOptions.env },
      cwd: root,
      runner: options.runner,
      now: options.now,
      io: {
        out: (text) => void (stdout += text),
        err: (text) => void (stderr += text),
        readStdin: () => Promise.resolve(runOptions.stdin ?? ""),
        stdoutIsTerminal: false,
        stderrIsTerminal: false,
      },
    });
    return { status, stdout, stderr };
  };
  const cleanup = () => Deno.remove(root, { recursive: true }).catch(() => {});
  return {
    root,
    db,
    run,
    async ok(args, runOptions) {
      const output = await run(args, runOptions);
      if (output.status !== 0) {
        throw new Error(
          `osimg ${
            args.join(" ")
          } exited ${output.status}\nstdout:\n${output.stdout}\nstderr:\n${output.stderr}`,
        );
      }
      return output;
    },
    cleanup,
    [Symbol.asyncDispose]: cleanup,
  };
}

/** A listing of every file under `dir` with its type, mode and content digest, for "nothing changed" checks. */
export async function snapshotTree(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (path: string, rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(path)];
    } catch {
      return;
    }
    entries.sort((a, b) => a.name < b.name ? -1 : 1);
    for (const entry of entries) {
      const full = `${path}/${entry.name}`;
      const relative = rel ? `${rel}/${entry.name}` : entry.name;
      const info = await Deno.lstat(full);
      const mode = ((info.mode ?? 0) & 0o7777).toString(8);
      if (entry.isSymlink) lines.push(`l ${relative} -> ${await Deno.readLink(full)}`);
      else if (entry.isDirectory) {
        lines.push(`d ${relative} ${mode}`);
        await walk(full, relative);
      } else if (entry.isFile) {
        const digest = createHash("sha256").update(await Deno.readFile(full)).digest("hex");
        lines.push(`f ${relative} ${mode} ${info.size} ${digest}`);
      } else lines.push(`? ${relative} ${mode}`);
    }
  };
  await walk(dir, "");
  return lines;
}

/**
 * Compares `actual` with the golden file `testdata/golden/<name>`; with UPDATE_GOLDEN=1 in the
 * environment it rewrites the file instead (`deno task golden`), for review like code.
 */
export async function assertGolden(name: string, actual: string): Promise<void> {
  const path = new URL(`../golden/${name}`, import.meta.url);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.mkdir(new URL(".", path), { recursive: true });
    await Deno.writeTextFile(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(path);
  } catch {
    throw new Error(`golden file testdata/golden/${name} is missing: run 'deno task golden'`);
  }
  strictEqual(actual, expected, `output differs from testdata/golden/${name}`);
}
