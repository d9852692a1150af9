// genimage's package side: repositories from pkgdir/otherpkgdir, then the provider's steps run in order.

import { dirname } from "node:path";
import { ExternalCommandError, InvalidInputError, NotFoundError, OsimgError } from "../errors.ts";
import { type Context, hostPathOf } from "../context.ts";
import { hasProgram } from "../process.ts";
import type { InstallPass, PackageList } from "../../formats/xcat/pkglist.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";
import type { DistroRelease } from "../../providers/distros/distros.ts";
import {
  type CommandStep,
  type PackageManager,
  type PackageManagerName,
  packageManagerNamed,
  type PackageManagerTarget,
  type Repository,
} from "../../providers/package_managers/package_managers.ts";

/** How many of a failed step's last output lines its error carries. */
export const FAILURE_TAIL_LINES = 15;

/** What the package side of one genimage run is given. */
export interface PackageBuild {
  /** The image root on this machine (`<rootimgdir>/rootimg`, under --root). */
  root: string;
  /** osimage.osvers and osarch. */
  osvers: string;
  arch: string;
  release: DistroRelease;
  /** The package manager the distro names (a fallback member is used if its program is missing). */
  packageManager: PackageManagerName;
  pkglist: PackageList;
  otherpkglist?: PackageList;
  /** linuximage.pkgdir and otherpkgdir, comma-separated: management-node paths or URLs. */
  pkgdir: string;
  otherpkgdir?: string;
  /** --noupdate: installed packages are not updated. */
  noupdate?: boolean;
  /** Name globs the update leaves alone (`kernel*` when -k names a kernel). */
  updateExclude?: readonly string[];
  /** -v: every line the package manager prints goes to the user. */
  verbose?: boolean;
  /** This machine's arch (default: Deno's). */
  hostArch?: string;
  /**
   * Runs the steps inside whatever they need around them: the caller mounts /proc, /sys and
   * /dev in the root for the install and unmounts them whatever happens. The package database
   * is created before, outside it: the root does not exist yet, and debootstrap mounts what it
   * needs itself (a /dev already mounted in its target would break its device setup).
   */
  around?: <T>(work: () => Promise<T>) => Promise<T>;
  /** Aborting (Ctrl-C, SIGTERM) kills the running step; the install then throws the reason. */
  signal?: AbortSignal;
}

/** What the package side did. */
export interface PackageBuildResult {
  /** The package manager that ran (the fallback when the distro's was missing). */
  packageManager: PackageManagerName;
  repositories: Repository[];
  /** Whether the root's package database was created by this run (a first build). */
  created: boolean;
}

/**
 * Installs the pkglist and otherpkglist into `build.root`, xCAT's way: repositories from pkgdir
 * (every directory with repository data under each local entry, so a RHEL 8/9 media tree gives
 * BaseOS and AppStream; URLs as given) and otherpkgdir (one repository per sub-directory the
 * otherpkglist names); the root's package database created when it has none; then each pass of
 * the pkglist and of the otherpkglist (`-name` erased before, `--name` after), then an update
 * unless `noupdate`. A re-run installs only what the lists gained (installing what is there is
 * a no-op for every manager) and updates the rest.
 *
 * Everything that can be checked is checked before the root is touched: the package manager
 * is installed, every pkgdir is a repository. A failing step throws an ExternalCommandError
 * naming what to fix, with the manager's last lines as its details.
 *
 * @example
 * ```ts
 * await installPackages(ctx, { root, osvers: "rocky9.3", arch: "x86_64", release,
 *   packageManager: "dnf", pkglist, pkgdir: "/install/rocky9.3/x86_64" });
 * ```
 */
export async function installPackages(
  ctx: Context,
  build: PackageBuild,
): Promise<PackageBuildResult> {
  const manager = await availableManager(packageManagerNamed(build.packageManager), build.osvers);
  const otherDirectories = [
    ...new Set(
      (build.otherpkglist?.passes ?? []).flatMap((pass) =>
        pass.install.map((request) => request.directory)
      ),
    ),
  ];
  const repositories = await resolveRepositories(ctx, manager, build, otherDirectories);
  const workDir = `${dirname(build.root)}/.genimage-work-${Deno.pid}-${
    crypto.randomUUID().slice(0, 8)
  }`;
  const target: PackageManagerTarget = {
    root: build.root,
    workDir,
    arch: build.arch,
    hostArch: build.hostArch ?? Deno.build.arch,
    release: build.release,
    repositories,
  };
  const around = build.around ?? (<T>(work: () => Promise<T>) => work());
  const temporary: string[] = [];
  let created = false;
  await Deno.mkdir(workDir, { recursive: true });
  try {
    if (!await exists(`${build.root}/${manager.databaseMarker(target)}`)) {
      created = true;
      await Deno.mkdir(build.root, { recursive: true });
      const first = build.pkglist.passes[0];
      for (const step of manager.createDatabase(target, first ? namesOf(first) : [])) {
        await runStep(ctx, manager, step, "create the package database", build);
      }
    }
    await around(async () => {
      for (const file of manager.configFiles(target)) {
        await Deno.mkdir(dirname(file.path), { recursive: true });
        await Deno.writeTextFile(file.path, file.text, { mode: file.mode ?? 0o644 });
        if (file.mode !== undefined) await Deno.chmod(file.path, file.mode);
        if (file.temporary) temporary.push(file.path);
      }
      for (const step of manager.refresh(target)) {
        await runStep(ctx, manager, step, "read the repositories", build);
      }
      const lists = [["pkglist", build.pkglist], ["otherpkglist", build.otherpkglist]] as const;
      for (const [attribute, list] of lists) {
        for (const pass of list?.passes ?? []) {
          await runPass(ctx, manager, target, pass, `${attribute} pass ${pass.number}`, build);
        }
      }
      if (!build.noupdate) {
        for (const step of manager.update(target, build.updateExclude ?? [])) {
          await runStep(ctx, manager, step, "update the installed packages", build);
        }
      }
    });
  } finally {
    for (const path of temporary) await Deno.remove(path).catch(() => {});
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  return { packageManager: manager.name, repositories, created };
}

function namesOf(pass: InstallPass): string[] {
  return pass.install.map((request) => request.name);
}

async function runPass(
  ctx: Context,
  manager: PackageManager,
  target: PackageManagerTarget,
  pass: InstallPass,
  what: string,
  build: PackageBuild,
): Promise<void> {
  const withEnv = (step: CommandStep): CommandStep => ({
    argv: step.argv,
    env: { ...step.env, ...pass.env },
  });
  const removeInstalled = async (names: readonly string[], when: string) => {
    if (names.length === 0) return;
    // Erasing what is not installed fails with zypper and apt: ask first.
    const query = manager.queryInstalled(target, names);
    const answer = await ctx.runner.run(query.argv, { env: query.env, allowFailure: true });
    const installed = manager.parseInstalled(new TextDecoder().decode(answer.stdout));
    if (installed.length === 0) return;
    await runStep(
      ctx,
      manager,
      withEnv(manager.remove(target, installed)),
      `remove packages ${when} ${what}`,
      build,
    );
  };
  await removeInstalled(pass.removeBefore, "before");
  if (pass.install.length > 0) {
    await runStep(
      ctx,
      manager,
      withEnv(manager.install(target, namesOf(pass))),
      `install the ${what} packages`,
      build,
    );
  }
  await removeInstalled(pass.removeAfter, "after");
}

/**
 * Runs one step with its output read as it comes: counts on the progress line, every line
 * with -v, the last lines kept for the error.
 */
async function runStep(
  ctx: Context,
  manager: PackageManager,
  step: CommandStep,
  action: string,
  build: PackageBuild,
): Promise<void> {
  const tail: string[] = [];
  const parser = manager.progress();
  const progress = ctx.progress(`${manager.name}: ${action}`, undefined, "items");
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 200) tail.splice(0, tail.length - 200);
    if (build.verbose) ctx.reporter.info(line);
    const count = parser.line(line);
    if (count) {
      progress.label(`${count.done}${count.total ? `/${count.total}` : ""} ${count.name}`);
    }
  };
  try {
    await ctx.runner.stream(step.argv, {
      env: step.env,
      onStdoutLine: onLine,
      onStderrLine: onLine,
      ...(build.signal ? { signal: build.signal } : {}),
    });
  } catch (error) {
    if (!(error instanceof ExternalCommandError) || error.code === 127) throw error;
    const last = tail.filter((line) => line.trim() !== "").slice(-FAILURE_TAIL_LINES);
    const reason = manager.diagnose(tail) ?? last.at(-1)?.trim() ?? "no output";
    // A step run in the image (`chroot <root> apt-get ...`) is named by the program it runs.
    const program = (step.argv[0] === "chroot" ? step.argv[2] : step.argv[0]) ?? "";
    throw new ExternalCommandError(
      step.argv,
      error.code,
      last.join("\n"),
      `${program} could not ${action} in ${build.root} (exit code ${error.code}): ${reason}`,
      [`The last lines of ${program}:`, ...last.map((line) => `  ${line}`)],
    );
  } finally {
    progress.done();
  }
}

/** The manager, or its fallback when its program is missing; neither: what to install. */
async function availableManager(manager: PackageManager, osvers: string): Promise<PackageManager> {
  const missing = async (candidate: PackageManager) => {
    for (const program of candidate.programs) if (!await hasProgram(program)) return program;
    return undefined;
  };
  const absent = await missing(manager);
  if (absent === undefined) return manager;
  if (manager.fallback) {
    const fallback = packageManagerNamed(manager.fallback);
    if (await missing(fallback) === undefined) return fallback;
  }
  throw new NotFoundError(
    `genimage needs '${absent}' to build ${osvers} images with ${manager.name}, and it is not installed on this machine: install it`,
  );
}

/** A pkgdir entry that is a URL (used as given), not a local directory. */
function isUrl(entry: string): boolean {
  return /^(?:https?|ftp):\/\//.test(entry);
}

/**
 * The repositories of pkgdir and otherpkgdir, in xCAT's order and with its names
 * (`<osvers>-<arch>-<N>`, `otherpkgs<N>`); a local directory that holds no repository is an
 * error naming the command that makes one.
 */
export async function resolveRepositories(
  ctx: Pick<Context, "root">,
  manager: PackageManager,
  build: Pick<PackageBuild, "osvers" | "arch" | "pkgdir" | "otherpkgdir">,
  otherDirectories: readonly string[],
): Promise<Repository[]> {
  const repositories: Repository[] = [];
  const pkgdir = commaList(build.pkgdir);
  if (pkgdir.length === 0) {
    throw new InvalidInputError(
      `The osimage has no pkgdir: set linuximage.pkgdir to the ${build.osvers} ${build.arch} media directory or mirror`,
    );
  }
  for (const entry of pkgdir) {
    for (const repository of await repositoriesOf(ctx, manager, entry, "pkgdir")) {
      repositories.push({
        ...repository,
        id: `${build.osvers}-${build.arch}-${repositories.length}`,
      });
    }
  }
  let other = 0;
  const otherpkgdir = commaList(build.otherpkgdir);
  const urls = otherpkgdir.filter(isUrl);
  const locals = otherpkgdir.filter((entry) => !isUrl(entry));
  for (const entry of urls) {
    for (const repository of await repositoriesOf(ctx, manager, entry, "otherpkgdir")) {
      repositories.push({ ...repository, id: `otherpkgs${++other}` });
    }
  }
  for (const directory of otherDirectories) {
    let found = false;
    for (const base of locals) {
      const path = directory === "" ? base : `${base.replace(/\/$/, "")}/${directory}`;
      const host = hostPathOf(ctx, path);
      if (!manager.localRepositories) {
        throw new InvalidInputError(`otherpkgdir: ${manager.repositoryHint(path)}`);
      }
      if (await isRepository(manager, host)) {
        repositories.push({ id: `otherpkgs${++other}`, url: `file://${host}` });
        found = true;
      }
    }
    if (!found && urls.length === 0) {
      const where = locals.length === 0
        ? "linuximage.otherpkgdir is not set"
        : locals.map((base) => directory === "" ? base : `${base}/${directory}`).join(", ") +
          " holds no repository";
      throw new InvalidInputError(
        `The otherpkglist installs from ${
          directory === "" ? "otherpkgdir" : `'${directory}'`
        }, but ${where}${
          locals[0]
            ? `. ${
              manager.repositoryHint(directory === "" ? locals[0] : `${locals[0]}/${directory}`)
            }`
            : ""
        }`,
      );
    }
  }
  return repositories;
}

/** The repositories one pkgdir/otherpkgdir entry gives (without ids). */
async function repositoriesOf(
  ctx: Pick<Context, "root">,
  manager: PackageManager,
  entry: string,
  attribute: string,
): Promise<Repository[]> {
  if (isUrl(entry)) {
    // apt: "<url> <suite> <components...>" (xCAT's ubuntu pkgdir); others take the URL alone.
    const [url, suite, ...components] = entry.split(/\s+/);
    return [{
      id: "",
      url: url!,
      ...(suite ? { suite } : {}),
      ...(components.length > 0 ? { components } : {}),
    }];
  }
  if (!entry.startsWith("/")) {
    throw new InvalidInputError(
      `${attribute} entry '${entry}' is neither an absolute path nor a URL`,
    );
  }
  if (!manager.localRepositories) {
    throw new InvalidInputError(`${attribute}: ${manager.repositoryHint(entry)}`);
  }
  const host = hostPathOf(ctx, entry);
  try {
    if (!(await Deno.stat(host)).isDirectory) throw new Deno.errors.NotFound();
  } catch {
    throw new NotFoundError(`${attribute} directory ${entry} does not exist`);
  }
  const found = await findRepositories(manager, host);
  if (found.length === 0) {
    throw new InvalidInputError(
      `${attribute} ${entry} holds no repository data. ${manager.repositoryHint(entry)}`,
    );
  }
  return found.map((dir) => ({ id: "", url: `file://${dir}` }));
}

async function isRepository(manager: PackageManager, dir: string): Promise<boolean> {
  for (const index of manager.repositoryIndex) if (await exists(`${dir}/${index}`)) return true;
  return false;
}

/**
 * Every directory under `top` (itself included) that is a repository, sorted: xCAT's
 * find(\&isyumdir). A repository's own sub-directories are not searched (its Packages tree is
 * large and holds none), nor are symbolic links followed.
 */
async function findRepositories(manager: PackageManager, top: string): Promise<string[]> {
  if (await isRepository(manager, top)) return [top];
  const found: string[] = [];
  const walk = async (dir: string, depth: number) => {
    if (depth > 6) return;
    let entries: Deno.DirEntry[];
    try {
      entries = [];
      for await (const entry of Deno.readDir(dir)) entries.push(entry);
    } catch {
      return;
    }
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const entry of entries) {
      if (!entry.isDirectory) continue;
      const path = `${dir}/${entry.name}`;
      if (await isRepository(manager, path)) found.push(path);
      else await walk(path, depth + 1);
    }
  };
  await walk(top, 1);
  return found;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new OsimgError(`Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}
