// The rpm database of an image root, shared by dnf, yum and zypper: where it lives, how to query it.

import type { CommandStep, ConfigFile, PackageManagerTarget } from "./package_manager.ts";

/** The environment of rpm-based steps: rpm's macros from our HOME (see rpmMacros). */
export function rpmEnvironment(target: PackageManagerTarget): Record<string, string> {
  // LC_ALL=C: the output is parsed (counts, "No match for argument").
  return { HOME: `${target.workDir}/home`, LC_ALL: "C.UTF-8" };
}

/**
 * `~/.rpmmacros` for the steps: the image's rpm database path. rpm reads this file last, and
 * HOME points at the work directory, so the host's macros (Debian's rpm keeps its database in
 * ~/.rpmdb, not where the image's own rpm looks) do not decide where the image's database goes.
 */
export function rpmMacros(target: PackageManagerTarget): ConfigFile {
  return {
    path: `${target.workDir}/home/.rpmmacros`,
    text: `%_dbpath ${target.release.rpmDatabase ?? "/var/lib/rpm"}\n`,
  };
}

/** `rpm -q` of `packages` in the root: prints the installed names, one a line. */
export function rpmQueryInstalled(
  target: PackageManagerTarget,
  packages: readonly string[],
): CommandStep {
  return {
    argv: ["rpm", "--root", target.root, "-q", "--qf", "%{NAME}\\n", ...packages],
    env: rpmEnvironment(target),
  };
}

/** The names `rpm -q --qf '%{NAME}\n'` printed (it says "package x is not installed" for others). */
export function parseRpmInstalled(stdout: string): string[] {
  return stdout.split("\n").map((line) => line.trim()).filter((line) =>
    line !== "" && !/^package .* is not installed$/.test(line)
  );
}
