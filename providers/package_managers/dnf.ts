// dnf and yum with --installroot: xCAT's rpm_installroot_command, and the yum.conf it writes.

import type {
  CommandStep,
  ConfigFile,
  PackageManager,
  PackageManagerName,
  PackageManagerTarget,
  ProgressParser,
} from "./package_manager.ts";
import { uniqueWords } from "./package_manager.ts";
import { parseRpmInstalled, rpmEnvironment, rpmMacros, rpmQueryInstalled } from "./rpm_database.ts";

/** The configuration file of the run, outside the image (`-c` paths are the host's). */
export function yumConfigPath(target: PackageManagerTarget): string {
  return `${target.workDir}/yum.conf`;
}

/**
 * The yum.conf of a run, xCAT's layout (`[<osver>-<arch>-<N>]` sections, gpgcheck=0), with
 * three differences: `reposdir=` so the repo files the image's release package ships (which
 * point at the internet) are not even read; `skip_if_unavailable=False` so a repository that
 * cannot be read fails the run instead of yielding a root without its packages; and
 * `metadata_expire=0` so a re-run sees packages added to a repository since.
 */
export function yumConf(target: PackageManagerTarget, name: PackageManagerName): string {
  const main = ["[main]", "reposdir=", "gpgcheck=0", "keepcache=0", "metadata_expire=0"];
  // dnf takes --forcearch; yum only the configuration (xCAT: "arch=<arch>\nignorearch=True").
  if (name === "yum" && foreign(target)) main.push(`arch=${target.arch}`, "ignorearch=True");
  const sections = target.repositories.map((repository) =>
    [
      `[${repository.id}]`,
      `name=${repository.id}`,
      `baseurl=${repository.url}`,
      "gpgcheck=0",
      "skip_if_unavailable=False",
    ].join("\n")
  );
  return [main.join("\n"), ...sections].join("\n\n") + "\n";
}

function foreign(target: PackageManagerTarget): boolean {
  return target.arch !== target.hostArch;
}

/** The words every dnf/yum run starts with (imgutils.pm rpm_installroot_command). */
function baseArgv(target: PackageManagerTarget, name: PackageManagerName): string[] {
  const argv = [
    name,
    "-y",
    "-c",
    yumConfigPath(target),
    `--installroot=${target.root}/`,
    "--disablerepo=*",
    // xCAT gives --releasever only from EL 8 on; the image has no release package to read it
    // from on a first run, and a Debian host has none to fall back on, so it is always given.
    `--releasever=${target.release.releasever}`,
  ];
  if (name === "dnf" && target.release.modulePlatformId) {
    argv.push(`--setopt=module_platform_id=${target.release.modulePlatformId}`);
  }
  if (name === "dnf" && foreign(target)) argv.push(`--forcearch=${target.arch}`);
  for (const repository of target.repositories) argv.push(`--enablerepo=${repository.id}`);
  return argv;
}

const TRANSACTION_LINE =
  /^\s*(Installing|Upgrading|Reinstalling|Downgrading|Erasing|Removing|Obsoleting)\s*:\s*(\S+)\s+(\d+)\/(\d+)\s*$/;

function rpmFamily(name: "dnf" | "yum", fallback?: PackageManagerName): PackageManager {
  return {
    name,
    programs: [name, "rpm"],
    ...(fallback ? { fallback } : {}),
    repositoryIndex: ["repodata/repomd.xml"],
    repositoryHint: (dir) =>
      `The repository for ${dir} should be created before running genimage. Try to run [createrepo ${dir}].`,
    localRepositories: true,
    databaseMarker: (target) => (target.release.rpmDatabase ?? "/var/lib/rpm").slice(1),
    configFiles: (target): ConfigFile[] => [
      { path: yumConfigPath(target), text: yumConf(target, name) },
      rpmMacros(target),
    ],
    createDatabase: (target) => [
      { argv: ["rpm", "--root", target.root, "--initdb"], env: rpmEnvironment(target) },
    ],
    refresh: () => [],
    install: (target, packages): CommandStep => ({
      argv: [...baseArgv(target, name), "install", ...uniqueWords(packages)],
      env: rpmEnvironment(target),
    }),
    remove: (target, packages): CommandStep => ({
      argv: [...baseArgv(target, name), "erase", ...uniqueWords(packages)],
      env: rpmEnvironment(target),
    }),
    queryInstalled: rpmQueryInstalled,
    parseInstalled: parseRpmInstalled,
    update: (target, exclude): CommandStep[] => [{
      argv: [
        ...baseArgv(target, name),
        ...exclude.map((pattern) => `--exclude=${pattern}`),
        "update",
      ],
      env: rpmEnvironment(target),
    }],
    progress: (): ProgressParser => ({
      line(text) {
        const match = TRANSACTION_LINE.exec(text);
        if (!match) return undefined;
        return { done: Number(match[3]), total: Number(match[4]), name: match[2]! };
      },
    }),
    diagnose(lines) {
      const missing = lines.flatMap((line) => {
        const match = /^No match for argument: (.+)$/.exec(line.trim()) ??
          /^Module or Group '(.+)' does not exist\.$/.exec(line.trim());
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
}

/** "package 'x' is not" / "packages 'x', 'y' are not". */
export function missingWhat(names: readonly string[]): string {
  const quoted = names.map((name) => `'${name}'`).join(", ");
  return names.length > 1 ? `packages ${quoted} are not` : `package ${quoted} is not`;
}

/** dnf: every EL from 8 on, Fedora from 22 on. */
export const DNF: PackageManager = rpmFamily("dnf");

/** yum: EL 7 and older. Debian has no yum, and dnf installs their packages as well. */
export const YUM: PackageManager = rpmFamily("yum", "dnf");
