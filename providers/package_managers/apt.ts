// debootstrap for the first stage, then apt-get inside the chroot (Debian, Ubuntu): xCAT's ubuntu genimage.

import type {
  CommandStep,
  ConfigFile,
  PackageManager,
  PackageManagerTarget,
  ProgressParser,
} from "./package_manager.ts";
import { uniqueWords } from "./package_manager.ts";
import { missingWhat } from "./dnf.ts";

/** Debian's name of an osarch (`dpkg --print-architecture`). */
export function debianArchitecture(osarch: string): string {
  const names: Record<string, string> = {
    x86_64: "amd64",
    aarch64: "arm64",
    ppc64le: "ppc64el",
    x86: "i386",
    i686: "i386",
  };
  return names[osarch] ?? osarch;
}

/** The environment of apt inside the chroot: no questions, parseable output, a sane PATH. */
function aptEnvironment(): Record<string, string> {
  return {
    DEBIAN_FRONTEND: "noninteractive",
    LC_ALL: "C.UTF-8",
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
  };
}

function suiteOf(target: PackageManagerTarget, index: number): string {
  return target.repositories[index]?.suite ?? target.release.codename ?? "";
}

function componentsOf(target: PackageManagerTarget, index: number): readonly string[] {
  return target.repositories[index]?.components ?? ["main"];
}

/**
 * The image's sources.list: one `deb` line per pkgdir/otherpkgdir mirror (xCAT writes the same
 * file, with its own media tree first). debootstrap's one-line file is replaced by it.
 */
export function aptSourcesList(target: PackageManagerTarget): string {
  return target.repositories.map((repository, index) =>
    `deb ${repository.url} ${suiteOf(target, index)} ${componentsOf(target, index).join(" ")}\n`
  ).join("");
}

function chrootApt(target: PackageManagerTarget, words: readonly string[]): CommandStep {
  return { argv: ["chroot", target.root, "apt-get", ...words], env: aptEnvironment() };
}

export const APT: PackageManager = {
  name: "apt",
  programs: ["debootstrap", "chroot"],
  repositoryIndex: ["dists"],
  repositoryHint: (dir) =>
    `${dir} is a local directory: apt runs inside the image and cannot read it; give an http mirror ("<url> <suite> <components>") in pkgdir`,
  localRepositories: false,
  databaseMarker: () => "var/lib/dpkg/status",
  configFiles: (target): ConfigFile[] => [
    { path: `${target.root}/etc/apt/sources.list`, text: aptSourcesList(target) },
    // xCAT's fake_policy_rc_d: maintainer scripts must not start services in the chroot.
    {
      path: `${target.root}/usr/sbin/policy-rc.d`,
      text:
        "#!/bin/sh\n# osimg genimage: no service starts while packages are installed\nexit 101\n",
      mode: 0o755,
      temporary: true,
    },
  ],
  createDatabase(target, packages) {
    const mirror = target.repositories[0];
    const argv = [
      "debootstrap",
      "--verbose",
      "--variant=minbase",
      `--arch=${debianArchitecture(target.arch)}`,
    ];
    const components = componentsOf(target, 0);
    if (components.join(",") !== "main") argv.push(`--components=${components.join(",")}`);
    if (packages.length > 0) argv.push(`--include=${uniqueWords(packages).join(",")}`);
    argv.push(suiteOf(target, 0), target.root, mirror?.url ?? "");
    return [{ argv, env: { LC_ALL: "C.UTF-8" } }];
  },
  refresh: (target) => [chrootApt(target, ["update"])],
  install: (target, packages) => chrootApt(target, ["-y", "install", ...uniqueWords(packages)]),
  remove: (target, packages) => chrootApt(target, ["-y", "remove", ...uniqueWords(packages)]),
  queryInstalled: (target, packages) => ({
    argv: [
      "chroot",
      target.root,
      "dpkg-query",
      "-W",
      "-f=${db:Status-Abbrev} ${Package}\\n",
      ...uniqueWords(packages),
    ],
    env: aptEnvironment(),
  }),
  parseInstalled: (stdout) =>
    stdout.split("\n").flatMap((line) => {
      // "ii  bash": the second letter is the current state, i = installed.
      const match = /^[a-z]i.\s+(\S+)$/.exec(line.trim());
      return match ? [match[1]!] : [];
    }),
  // xCAT: apt-get upgrade; held packages (kernel with -k) stay as they are.
  update: (target, exclude) => {
    const upgrade = chrootApt(target, ["-y", "upgrade"]);
    if (exclude.length === 0) return [upgrade];
    const mark = (action: string) => ({
      argv: ["chroot", target.root, "apt-mark", action, ...exclude],
      env: aptEnvironment(),
    });
    return [mark("hold"), upgrade, mark("unhold")];
  },
  progress: (): ProgressParser => {
    let total: number | undefined;
    let done = 0;
    return {
      line(text) {
        const summary = /^(\d+) upgraded, (\d+) newly installed/.exec(text);
        if (summary) total = Number(summary[1]) + Number(summary[2]);
        // apt-get: "Setting up bash (5.2-1) ..."; debootstrap: "I: Configuring bash..."
        const configured = /^(?:Setting up (\S+) \(|I: Configuring (\S+?)\.\.\.)/.exec(text);
        if (!configured) return undefined;
        done++;
        const name = (configured[1] ?? configured[2])!;
        return total === undefined ? { done, name } : { done, total, name };
      },
    };
  },
  diagnose(lines) {
    const missing: string[] = [];
    for (const line of lines) {
      const text = line.trim();
      const match = /^E: Unable to locate package (.+)$/.exec(text) ??
        /^E: Package '(.+)' has no installation candidate$/.exec(text);
      if (match) missing.push(match[1]!);
      const debs = /^E: Couldn't find these debs: (.+)$/.exec(text);
      if (debs) missing.push(...debs[1]!.trim().split(/\s+/));
      const release = /^E: Failed getting release file (.+)$/.exec(text);
      if (release) {
        return `the mirror has no such suite (${release[1]}): check the pkgdir mirror and suite`;
      }
    }
    if (missing.length === 0) return undefined;
    return `${
      missingWhat(uniqueWords(missing))
    } in the mirrors of pkgdir: fix the package list or add the mirror or component that has ${
      missing.length > 1 ? "them" : "it"
    }`;
  },
};
