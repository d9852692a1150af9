// The osimg entry point: global flags, verb dispatch, and the one place errors become exit codes.

import process from "node:process";
import { basename, resolve } from "node:path";
import { type Verb, VERBS } from "./cmd/mod.ts";
import type { Command } from "./core/command.ts";
import type { Context, Io } from "./core/context.ts";
import { causeChain, OsimgError, UsageError } from "./core/errors.ts";
import { type ProcessRunner, systemRunner } from "./core/process.ts";
import { terminalProgress } from "./core/progress.ts";
import { describeStoreLocation, openStore, resolveStoreLocation } from "./core/store/open_store.ts";
import { textReporter } from "./core/reporter.ts";
import type { Store } from "./core/store/store.ts";
import { OSIMG_VERSION } from "./core/version.ts";

export const VERSION = OSIMG_VERSION;

/** The management-node path of the default database, under the root. */
export const DEFAULT_DB = "/etc/xcat/osimg.sqlite";

const BY_NAME = new Map<string, Verb>(VERBS.map((verb) => [verb.name, verb]));

function toolUsage(): string {
  const width = Math.max(...VERBS.map((verb) => verb.name.length));
  const verbs = [...VERBS]
    .sort((a, b) => a.name < b.name ? -1 : 1)
    .map((verb) => `  ${verb.name.padEnd(width)}  ${verb.summary}`)
    .join("\n");
  return `osimg ${VERSION}: xCAT's OS image verbs in one executable.

Usage: osimg [global options] <verb> [verb options]
       <verb> [verb options]            (when invoked through a link named after a verb)

Global options (accepted anywhere before '--'):
  --root DIR     management-node root every path lives under (env OSIMG_ROOT, default /)
  --db DB        the database: a SQLite file, or postgresql://user@host[:port]/dbname
                 (env OSIMG_DB; default: <root>/etc/xcat/cfgloc's Pg: database if there is
                 one, else the SQLite file <root>${DEFAULT_DB})
  --debug        print the cause chain of an error
  -h, --help     this help; '<verb> --help' for a verb's usage
  -v, --version  print the version

Verbs:
${verbs}
`;
}

/** What `runCli` needs from the outside world; tests pass their own. */
export interface CliEnvironment {
  env: Record<string, string>;
  io: Io;
  cwd: string;
  /** The name the program was invoked by (argv[0]); a verb name selects that verb. */
  invokedAs?: string;
  runner?: ProcessRunner;
  now?: () => Date;
}

interface GlobalOptions {
  root?: string;
  db?: string;
  debug: boolean;
  rest: string[];
}

function takeGlobalOptions(argv: string[]): GlobalOptions {
  const options: GlobalOptions = { debug: false, rest: [] };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === "--") {
      options.rest.push(...argv.slice(index));
      break;
    }
    const match = /^--(root|db)(?:=(.*))?$/.exec(arg);
    if (match) {
      const value = match[2] ?? argv[++index];
      if (value === undefined || value === "") {
        throw new UsageError(`Option '--${match[1]}' needs a value.`);
      }
      if (match[1] === "root") options.root = value;
      else options.db = value;
    } else if (arg === "--debug") {
      options.debug = true;
    } else {
      options.rest.push(arg);
    }
  }
  return options;
}

function wantsHelp(args: string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (arg === "-h" || arg === "--help" || arg === "-?") return true;
  }
  return false;
}

/**
 * Runs one osimg command line and returns its exit status: 0 success, 1 failure, 2 usage.
 *
 * @example
 * ```ts
 * const status = await runCli(["--root", "/tmp/r", "lsdef", "-t", "osimage"], environment);
 * ```
 */
export async function runCli(argv: string[], environment: CliEnvironment): Promise<number> {
  const { io, env } = environment;
  let store: Store | undefined;
  let debug = argv.includes("--debug");
  let command: Command | undefined;
  try {
    const options = takeGlobalOptions(argv);
    debug = options.debug;
    let args = options.rest;
    let verb = environment.invokedAs ? BY_NAME.get(basename(environment.invokedAs)) : undefined;
    if (!verb) {
      const [first, ...others] = args;
      if (first === undefined) {
        io.err(toolUsage());
        return 2;
      }
      if (first === "-h" || first === "--help" || first === "help") {
        io.out(toolUsage());
        return 0;
      }
      if (first === "-v" || first === "--version") {
        io.out(`osimg ${VERSION}\n`);
        return 0;
      }
      verb = BY_NAME.get(first);
      if (!verb) {
        throw new UsageError(
          first.startsWith("-")
            ? `Unknown option '${first}'. Run 'osimg --help' for usage.`
            : `Unknown verb '${first}'. Run 'osimg --help' for the list of verbs.`,
        );
      }
      args = others;
    }
    command = await verb.load();
    if (wantsHelp(args)) {
      io.out(command.usage);
      return 0;
    }
    const root = resolve(environment.cwd, options.root ?? env.OSIMG_ROOT ?? "/");
    const location = resolveStoreLocation({
      db: options.db ?? env.OSIMG_DB,
      root,
      cwd: environment.cwd,
      defaultPath: DEFAULT_DB,
    });
    const dbPath = describeStoreLocation(location, env);
    const ctx: Context = {
      root,
      dbPath,
      cwd: environment.cwd,
      env,
      io,
      reporter: textReporter(io),
      debug,
      color: io.stderrIsTerminal && env.NO_COLOR === undefined,
      runner: environment.runner ?? systemRunner,
      now: environment.now ?? (() => new Date()),
      store() {
        store ??= openStore(location, { cwd: environment.cwd, env });
        return Promise.resolve(store);
      },
      progress: (title, total, unit) =>
        terminalProgress(io.err, io.stderrIsTerminal, title, total, unit),
      invoke: (nested) => runCli(nested, { ...environment, invokedAs: undefined }),
    };
    return await command.run(ctx, args) ?? 0;
  } catch (error) {
    const colour = io.stderrIsTerminal && env.NO_COLOR === undefined;
    const prefix = colour ? "\x1b[31mError:\x1b[0m" : "Error:";
    if (error instanceof OsimgError) {
      io.err(`${prefix} ${error.message}\n`);
      for (const detail of error.details) io.err(`${detail}\n`);
    } else {
      io.err(`${prefix} ${(error as Error)?.message ?? String(error)}\n`);
    }
    if (debug) {
      for (const line of causeChain(error)) io.err(`  ${line}\n`);
      if (error instanceof Error && error.stack) io.err(`${error.stack}\n`);
    }
    return command?.failureStatus ?? (error instanceof OsimgError ? error.exitCode : 1);
  } finally {
    await store?.close();
  }
}

/** The real process's streams, with stdout buffered in large writes. */
export function processIo(): Io & { flush(): void } {
  const encoder = new TextEncoder();
  let pending: string[] = [];
  let pendingLength = 0;
  const writeAll = (fd: typeof Deno.stdout, bytes: Uint8Array) => {
    let offset = 0;
    while (offset < bytes.length) offset += fd.writeSync(bytes.subarray(offset));
  };
  const flush = () => {
    if (pending.length === 0) return;
    try {
      writeAll(Deno.stdout, encoder.encode(pending.join("")));
    } catch (error) {
      // A closed pipe (`osimg lsdef | head`) is not an error of ours.
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    }
    pending = [];
    pendingLength = 0;
  };
  return {
    out(text) {
      pending.push(text);
      pendingLength += text.length;
      if (pendingLength >= 1 << 16) flush();
    },
    err(text) {
      flush();
      writeAll(Deno.stderr, encoder.encode(text));
    },
    async readStdin() {
      const chunks: Uint8Array[] = [];
      for await (const chunk of Deno.stdin.readable) chunks.push(chunk);
      return new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
    },
    stdoutIsTerminal: Deno.stdout.isTerminal(),
    stderrIsTerminal: Deno.stderr.isTerminal(),
    flush,
  };
}

if (import.meta.main) {
  const io = processIo();
  const status = await runCli(Deno.args, {
    env: Deno.env.toObject(),
    io,
    cwd: Deno.cwd(),
    invokedAs: Deno.env.get("OSIMG_INVOKED_AS") ?? process.argv0,
  });
  io.flush();
  Deno.exit(status);
}
