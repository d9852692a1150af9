// zypper with --root (SLES, openSUSE): xCAT's sles genimage commands, repositories as .repo files.

import type {
  CommandStep,
  ConfigFile,
  PackageManager,
  PackageManagerTarget,
  ProgressParser,
} from "./package_manager.ts";
import { uniqueWords } from "./package_manager.ts";
import { missingWhat } from "./dnf.ts";
import { parseRpmInstalled, rpmEnvironment, rpmMacros, rpmQueryInstalled } from "./rpm_database.ts";

/** The repository definitions of the run, outside the image (`--reposd-dir` is the host's). */
export function zypperReposDir(target: PackageManagerTarget): string {
  return `${target.workDir}/zypp/repos.d`;
}

/**
 * One `.repo` file per repository, as `zypper ar` writes them. xCAT adds them to the image's
 * own repos.d with `zypper ar`, where they stay after the build and point a node at the
 * management node's paths; here they live in the run's directory (`--reposd-dir`).
 */
export function zypperRepoFiles(target: PackageManagerTarget): ConfigFile[] {
  return target.repositories.map((repository) => ({
    path: `${zypperReposDir(target)}/${repository.id}.repo`,
    text: [
      `[${repository.id}]`,
      `name=${repository.id}`,
      "enabled=1",
      // zypper re-reads the metadata on every run: a re-run sees packages added since.
      "autorefresh=1",
      `baseurl=${repository.url}`,
      "type=rpm-md",
      "gpgcheck=0",
      "",
    ].join("\n"),
  }));
}

/** The global options of every run (xCAT: `zypper -R <root> --non-interactive --no-gpg-checks`). */
function baseArgv(target: PackageManagerTarget): string[] {
  return [
    "zypper",
    "--non-interactive",
    "--no-gpg-checks",
    "--gpg-auto-import-keys",
    "--root",
    target.root,
    "--reposd-dir",
    zypperReposDir(target),
    // $releasever in a repository URL; the image has no baseproduct to read it from yet.
    "--releasever",
    target.release.releasever,
  ];
}

const TRANSACTION_LINE = /^\((\d+)\/(\d+)\) (?:Installing|Removing): (\S+)/;

export const ZYPPER: PackageManager = {
  name: "zypper",
  programs: ["zypper", "rpm"],
  repositoryIndex: ["repodata/repomd.xml"],
  repositoryHint: (dir) =>
    `The repository for ${dir} should be created before running genimage. Try to run [createrepo ${dir}].`,
  localRepositories: true,
  databaseMarker: (target) => (target.release.rpmDatabase ?? "/var/lib/rpm").slice(1),
  configFiles: (target) => [...zypperRepoFiles(target), rpmMacros(target)],
  createDatabase: (target) => [
    { argv: ["rpm", "--root", target.root, "--initdb"], env: rpmEnvironment(target) },
  ],
  refresh: () => [],
  install: (target, packages): CommandStep => ({
    argv: [...baseArgv(target), "install", "-l", "--no-recommends", ...uniqueWords(packages)],
    env: rpmEnvironment(target),
  }),
  remove: (target, packages): CommandStep => ({
    argv: [...baseArgv(target), "remove", ...uniqueWords(packages)],
    env: rpmEnvironment(target),
  }),
  queryInstalled: rpmQueryInstalled,
  parseInstalled: parseRpmInstalled,
  // zypper has no --exclude: a lock keeps the excluded packages (kernel* with -k) as they are
  // for the update, and goes again after it.
  update: (target, exclude): CommandStep[] => {
    const env = rpmEnvironment(target);
    if (exclude.length === 0) return [{ argv: [...baseArgv(target), "update", "-l"], env }];
    return [
      { argv: [...baseArgv(target), "addlock", ...exclude], env },
      { argv: [...baseArgv(target), "update", "-l"], env },
      { argv: [...baseArgv(target), "removelock", ...exclude], env },
    ];
  },
  progress: (): ProgressParser => ({
    line(text) {
      const match = TRANSACTION_LINE.exec(text.trim());
      if (!match) return undefined;
      return { done: Number(match[1]), total: Number(match[2]), name: match[3]! };
    },
  }),
  diagnose(lines) {
    const missing = lines.flatMap((line) => {
      const match = /^No provider of '(.+)' found\.$/.exec(line.trim()) ??
        /^Package '(.+)' not found\.$/.exec(line.trim());
      return match ? [match[1]!] : [];
    });
    if (missing.length === 0) return undefined;
    return `${
      missingWhat(uniqueWords(missing))
    } in the repositories of pkgdir and otherpkgdir: fix the package list or add the repository that has ${
      missing.length > 1 ? "them" : "it"
    }`;
  },
};
