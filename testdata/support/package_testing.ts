// Test support for genimage's package side: a local rpm repository built with rpmbuild and
// createrepo_c, and a Context that records progress labels and reported lines.

import type { Context, Io } from "../../core/context.ts";
import type { ProcessRunner } from "../../core/process.ts";
import { systemRunner } from "../../core/process.ts";
import type { Progress } from "../../core/progress.ts";
import type { Store } from "../../core/store/store.ts";
import { run } from "./process.ts";

/** One tiny noarch package: its files hold its name, so a test can find them in a root. */
export interface TestRpm {
  name: string;
  version?: string;
  requires?: string[];
  /** Absolute paths it owns (default /usr/share/osimg-test/<name>). */
  files?: string[];
}

/** The three packages the tests install: alpha needs beta; gamma stands alone. */
export const TEST_RPMS: readonly TestRpm[] = [
  { name: "osimg-alpha", requires: ["osimg-beta"] },
  { name: "osimg-beta" },
  { name: "osimg-gamma" },
];

function specOf(rpm: TestRpm): string {
  const files = rpm.files ?? [`/usr/share/osimg-test/${rpm.name}`];
  return [
    `Name: ${rpm.name}`,
    `Version: ${rpm.version ?? "1.0"}`,
    "Release: 1",
    `Summary: ${rpm.name} (osimg test package)`,
    "License: MIT",
    "BuildArch: noarch",
    ...(rpm.requires ?? []).map((name) => `Requires: ${name}`),
    "%description",
    `${rpm.name}, built by osimg's tests.`,
    "%install",
    ...files.map((file) =>
      `mkdir -p %{buildroot}$(dirname ${file}) && echo ${rpm.name} > %{buildroot}${file}`
    ),
    "%files",
    ...files,
    "",
  ].join("\n");
}

/**
 * Builds `rpms` with rpmbuild into `dir` and makes it an rpm-md repository with createrepo_c.
 * Returns `dir`.
 */
export async function buildRpmRepository(
  dir: string,
  rpms: readonly TestRpm[] = TEST_RPMS,
): Promise<string> {
  const top = await Deno.makeTempDir({ prefix: "osimg-rpmbuild-" });
  try {
    await Deno.mkdir(`${top}/SPECS`, { recursive: true });
    await Deno.mkdir(dir, { recursive: true });
    for (const rpm of rpms) {
      const spec = `${top}/SPECS/${rpm.name}.spec`;
      await Deno.writeTextFile(spec, specOf(rpm));
      await run([
        "rpmbuild",
        "--quiet",
        "--define",
        `_topdir ${top}`,
        "--define",
        `_rpmdir ${dir}`,
        "-bb",
        spec,
      ]);
    }
    await run(["createrepo_c", "--quiet", dir]);
    return dir;
  } finally {
    await Deno.remove(top, { recursive: true });
  }
}

/** What a test Context saw: progress labels, reported lines. */
export interface RecordedOutput {
  progress: string[];
  reported: string[];
}

/** A Context on `root` for core calls, recording progress labels and reporter lines. */
export function packageContext(
  root: string,
  options: { runner?: ProcessRunner } = {},
): Context & { output: RecordedOutput } {
  const output: RecordedOutput = { progress: [], reported: [] };
  const io: Io = {
    out() {},
    err() {},
    readStdin: () => Promise.resolve(""),
    stdoutIsTerminal: false,
    stderrIsTerminal: false,
  };
  const progress = (title: string): Progress => ({
    advance() {},
    label: (text) => void output.progress.push(`${title}: ${text}`),
    done() {},
  });
  return {
    root,
    dbPath: `${root}/etc/xcat/osimg.sqlite`,
    cwd: root,
    env: {},
    io,
    reporter: {
      line: (text) => void output.reported.push(`line ${text}`),
      warn: (text) => void output.reported.push(`warn ${text}`),
      note: (text) => void output.reported.push(`note ${text}`),
      info: (text) => void output.reported.push(`info ${text}`),
    },
    debug: false,
    color: false,
    runner: options.runner ?? systemRunner,
    now: () => new Date(),
    store: (): Promise<Store> => Promise.reject(new Error("no store in package tests")),
    progress,
    output,
  };
}
