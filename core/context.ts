// What every command receives: paths, the store, I/O and reporter, the process runner, the clock.

import type { Store } from "./store/store.ts";
import type { ProcessRunner } from "./process.ts";
import type { Progress, ProgressUnit } from "./progress.ts";
import type { Reporter } from "./reporter.ts";
import { hostPath } from "./paths.ts";
import { siteDirectory } from "./image/osimage.ts";
import { SITE_DEFAULTS } from "./store/schema.ts";

/** The standard streams, as a command sees them. */
export interface Io {
  /** Write text to stdout (buffered; flushed before stderr writes and at exit). */
  out(text: string): void;
  /** Write text to stderr. */
  err(text: string): void;
  /** All of stdin as text (mkdef -z, tabrestore -). */
  readStdin(): Promise<string>;
  stdoutIsTerminal: boolean;
  stderrIsTerminal: boolean;
}

/** The environment of one invocation. Core functions take the parts they need from it. */
export interface Context {
  /** Absolute directory every management-node path lives under ("/" on a real node). */
  root: string;
  /** The SQLite file (or, for a store that is not a file, its --db URL). */
  dbPath: string;
  /** The directory the user's own relative file names are taken from. */
  cwd: string;
  env: Readonly<Record<string, string>>;
  io: Io;
  /** Where core reports output lines, warnings and notes (main.ts renders them on `io`). */
  reporter: Reporter;
  debug: boolean;
  /** Colour allowed: stderr is a terminal and NO_COLOR is not set. */
  color: boolean;
  runner: ProcessRunner;
  now(): Date;
  /** The table store, opened (and migrated) on first use. */
  store(): Promise<Store>;
  /** A progress reporter on stderr: visible only on a terminal. */
  progress(title: string, total?: number, unit?: ProgressUnit): Progress;
  /**
   * Runs another osimg command line in-process with the same streams and environment
   * (global options such as --root must be given in `args`); returns its exit status.
   * Only the `demo` verb uses it.
   */
  invoke?(args: string[]): Promise<number>;
}

/** `path` (a management-node path) as it lies on this machine, under the context's root. */
export function hostPathOf(ctx: Pick<Context, "root">, path: string): string {
  return hostPath(ctx.root, path);
}

/** The site table's value for `key`, or xCAT's default, or undefined. */
export async function siteValue(store: Store, key: string): Promise<string | undefined> {
  const rows = await store.read((reader) => reader.rows("site", { key }));
  return rows[0]?.value ?? SITE_DEFAULTS[key];
}

/** site.installdir as a management-node path (default /install). */
export async function installDir(store: Store): Promise<string> {
  return siteDirectory("installdir", (await siteValue(store, "installdir"))!);
}

/** site.tftpdir as a management-node path (default /tftpboot). */
export async function tftpDir(store: Store): Promise<string> {
  return siteDirectory("tftpdir", (await siteValue(store, "tftpdir"))!);
}
