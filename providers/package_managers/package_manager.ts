// What a package manager provider is: argv and configuration files for each step, as pure functions.

import type { DistroRelease } from "../distros/distros.ts";

export type PackageManagerName = "dnf" | "yum" | "zypper" | "apt";

/** One package repository, as the osimage's pkgdir or otherpkgdir gives it. */
export interface Repository {
  /** The repository's name in the configuration (xCAT's `<osver>-<arch>-<N>`, `otherpkgs<N>`). */
  id: string;
  /** `file:///dir` for a local directory, or the http(s)/ftp URL as given. */
  url: string;
  /** apt: the suite, from a `"<url> <suite> <components>"` pkgdir entry or the release's. */
  suite?: string;
  /** apt: the components (default `main`). */
  components?: readonly string[];
}

/** Everything a package manager's commands depend on: pure data, so argv can be golden-tested. */
export interface PackageManagerTarget {
  /** The image root on this machine (the rootimg directory). */
  root: string;
  /** A directory of this run outside the image, for configuration the image must not keep. */
  workDir: string;
  /** osimage.osarch of the image. */
  arch: string;
  /** The architecture of this machine (`uname -m`); another target arch is a foreign build. */
  hostArch: string;
  release: DistroRelease;
  /** pkgdir's repositories first (the first is the base OS), then otherpkgdir's. */
  repositories: readonly Repository[];
}

/** One program run: its argv and what it adds to the environment. */
export interface CommandStep {
  argv: string[];
  env: Record<string, string>;
}

/** A configuration file a package manager reads, at an absolute path on this machine. */
export interface ConfigFile {
  path: string;
  text: string;
  mode?: number;
  /** Removed again when the package work ends (a policy-rc.d must not stay in the image). */
  temporary?: boolean;
}

/** Turns a package manager's output lines into package counts for the progress line. */
export interface ProgressParser {
  /** Reads one output line; returns the count so far when the line moved it. */
  line(text: string): { done: number; total?: number; name: string } | undefined;
}

/**
 * A package manager: argv and configuration files for each step of building a root, as pure
 * functions of the target, and how to read its output. core/genimage runs the steps.
 */
export interface PackageManager {
  name: PackageManagerName;
  /** The program this machine must have (checked before anything is changed). */
  programs: readonly string[];
  /** A member to use instead when this one's program is missing (yum → dnf on Debian hosts). */
  fallback?: PackageManagerName;
  /** What a local directory must hold to be a repository, relative to it. */
  repositoryIndex: readonly string[];
  /** The message that tells the admin how to make a local directory a repository. */
  repositoryHint(dir: string): string;
  /** Whether a local directory can be used as a repository (apt in a chroot cannot see one). */
  localRepositories: boolean;
  /** The file in the root (relative) whose presence says the package database exists. */
  databaseMarker(target: PackageManagerTarget): string;
  /** Configuration to write before the steps run (after the database is created). */
  configFiles(target: PackageManagerTarget): ConfigFile[];
  /** Creates the root's package database; `packages`: the first pass, where a bootstrap takes it. */
  createDatabase(target: PackageManagerTarget, packages: readonly string[]): CommandStep[];
  /** Refreshes repository metadata before installing (apt-get update), if the manager needs it. */
  refresh(target: PackageManagerTarget): CommandStep[];
  install(target: PackageManagerTarget, packages: readonly string[]): CommandStep;
  remove(target: PackageManagerTarget, packages: readonly string[]): CommandStep;
  /** Lists which of `packages` are installed; its stdout goes to {@linkcode parseInstalled}. */
  queryInstalled(target: PackageManagerTarget, packages: readonly string[]): CommandStep;
  parseInstalled(stdout: string): string[];
  /** Updates what is installed; `exclude`: name globs kept as they are (kernel* with -k). */
  update(target: PackageManagerTarget, exclude: readonly string[]): CommandStep[];
  /** A fresh reader of one step's output lines. */
  progress(): ProgressParser;
  /** The admin's fix read from a failed step's last lines (a package that does not exist). */
  diagnose(lines: readonly string[]): string | undefined;
}

/** `words` without duplicates, in first-seen order (argv stays stable). */
export function uniqueWords(words: readonly string[]): string[] {
  return [...new Set(words)];
}
