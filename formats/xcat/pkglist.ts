// xCAT's pkglist and otherpkglist syntax: includes, install passes, groups, removals, per-pass environment.

import { posix } from "node:path";
import { InvalidInputError, NotFoundError } from "../../core/errors.ts";

/** One package to install, as a pkglist names it. */
export interface PackageRequest {
  /** What the package manager is given: `vim-minimal`, `@core`, `@^minimal-environment`. */
  name: string;
  /**
   * The otherpkglist sub-directory the package comes from (`mellanox/mlnx-ofed` →
   * `mellanox`): xCAT makes `<otherpkgdir>/<directory>` a repository. "" for a bare name.
   */
  directory: string;
}

/** One install transaction: xCAT's "pass", started by `#NEW_INSTALL_LIST#`. */
export interface InstallPass {
  /** 1-based, in the order the passes run. */
  number: number;
  /** `#ENV:VAR=value#` assignments, set in the package manager's environment for this pass. */
  env: Record<string, string>;
  install: PackageRequest[];
  /** `-name` entries: erased before this pass installs. */
  removeBefore: string[];
  /** `--name` entries: erased after this pass installed. */
  removeAfter: string[];
}

/** A whole pkglist (one or several files), includes expanded. */
export interface PackageList {
  /** The passes that do something, in order. */
  passes: InstallPass[];
  /** Every file read, top-level and included, in reading order (for IMG_PKGLIST and reports). */
  files: string[];
}

/**
 * Reads one list file: its text, or undefined when it cannot be read. Paths are absolute
 * management-node paths; the caller maps them to where they lie.
 */
export type ListFileReader = (path: string) => Promise<string | undefined>;

/** Options of {@linkcode readPackageList}. */
export interface ReadPackageListOptions {
  read: ListFileReader;
  /** Variables `$VAR` / `${VAR}` in `#INCLUDE:` paths are taken from (xCAT: the environment). */
  env?: Readonly<Record<string, string>>;
  /** The linuximage attribute the files come from, for messages ("pkglist", "otherpkglist"). */
  attribute?: string;
}

/** One meaningful line of a list file, before includes are expanded. */
export type PackageListLine =
  | { kind: "names"; words: string[]; line: number }
  | { kind: "include"; file: string; line: number }
  | { kind: "new-pass"; line: number }
  | { kind: "env"; name: string; value: string; line: number };

const DIRECTIVE = /^#(INCLUDE|NEW_INSTALL_LIST|ENV)(?::([^#]*))?#(.*)$/;
const ENV_ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

/**
 * Splits the text of one list file into its meaningful lines, as imgutils.pm reads them: blank
 * lines and `#` comments are dropped except the directives `#INCLUDE:file#`,
 * `#NEW_INSTALL_LIST#` and `#ENV:VAR=value#`; names are separated by commas (xCAT joins and
 * re-splits the lines on commas) and white space (xCAT hands them to a shell), and a word that
 * starts with `#` ends the line (the shell's comment). `where` names the file in messages.
 *
 * @example
 * ```ts
 * parsePackageListText("bash, vim  # editors\n#NEW_INSTALL_LIST#\n", "/x.pkglist");
 * // [{kind:"names",words:["bash","vim"],line:1},{kind:"new-pass",line:2}]
 * ```
 */
export function parsePackageListText(text: string, where: string): PackageListLine[] {
  const lines: PackageListLine[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.replace(/\r$/, "").trim();
    if (trimmed === "") return;
    if (trimmed.startsWith("#")) {
      const directive = DIRECTIVE.exec(trimmed);
      // Any other comment line, as xCAT's filter drops it (`#INCLUDE` without its closing `#`
      // included: xCAT's pattern needs both).
      if (!directive) return;
      const [, keyword, argument, rest] = directive;
      if (rest!.trim() !== "" && !rest!.trim().startsWith("#")) {
        // xCAT pastes the included text in front of it, with no separator: never what was meant.
        throw new InvalidInputError(
          `${where}:${line}: text after #${keyword}...#; put it on a line of its own`,
        );
      }
      if (keyword === "NEW_INSTALL_LIST") {
        if (argument !== undefined) return; // "#NEW_INSTALL_LIST:x#" is no directive, a comment
        lines.push({ kind: "new-pass", line });
      } else if (keyword === "INCLUDE") {
        const file = argument?.trim() ?? "";
        if (file === "") throw new InvalidInputError(`${where}:${line}: #INCLUDE:# names no file`);
        lines.push({ kind: "include", file, line });
      } else {
        const assignment = ENV_ASSIGNMENT.exec(argument?.trim() ?? "");
        if (!assignment) {
          throw new InvalidInputError(
            `${where}:${line}: '${trimmed}' is not #ENV:VARIABLE=value#`,
          );
        }
        lines.push({ kind: "env", name: assignment[1]!, value: assignment[2]!, line });
      }
      return;
    }
    const words: string[] = [];
    for (const word of trimmed.split(/[\s,]+/)) {
      if (word.startsWith("#")) break;
      if (word !== "") words.push(word);
    }
    if (words.length > 0) lines.push({ kind: "names", words, line });
  });
  return lines;
}

/**
 * `$VAR` and `${VAR}` replaced from `env`; an unknown variable stays as written (imgutils.pm's
 * varsubinline).
 */
export function expandVariables(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (whole, braced: string | undefined, bare: string | undefined) =>
      env[(braced ?? bare)!] ?? whole,
  );
}

/**
 * Reads a pkglist or otherpkglist value (one path or a comma-separated list of them) into its
 * install passes, as xCAT's imgutils::get_package_names does:
 * - `#INCLUDE:file#` is replaced by that file's lines, recursively; a relative path is taken from
 *   the directory of the top-level list (xCAT expands includes in the top file's text, so nested
 *   ones resolve there too), after `$VAR` expansion. A file that includes itself, directly or
 *   not, is an error (xCAT loops forever); the same file included twice side by side is not.
 * - `#NEW_INSTALL_LIST#` starts the next pass. Pass numbers start at 1 in each top-level file
 *   and the same number of several files is one pass, as in xCAT.
 * - `#ENV:VAR=value#` sets VAR for the pass it appears in.
 * - `-name` is erased before the pass installs and `--name` after it. xCAT honours these only in
 *   an otherpkglist and silently ignores them in a pkglist; here they mean the same in both, so
 *   a list gives the same package set whichever list it is and whichever provider runs it.
 * - `dir/name` installs `name` from the sub-directory `dir` (otherpkglist repositories).
 * - `@group` and `@^environment` are passed on as named.
 * A name is installed once per pass (its first mention); passes with nothing to do are left out.
 *
 * @example
 * ```ts
 * const list = await readPackageList("/install/custom/compute.pkglist", {
 *   read: (path) => Deno.readTextFile(path).catch(() => undefined),
 * });
 * list.passes[0]?.install.map((request) => request.name); // ["bash", "@core", ...]
 * ```
 */
export async function readPackageList(
  value: string | readonly string[],
  options: ReadPackageListOptions,
): Promise<PackageList> {
  const attribute = options.attribute ?? "pkglist";
  const env = options.env ?? {};
  const topFiles = typeof value === "string"
    ? value.split(",").map((item) => item.trim()).filter((item) => item !== "")
    : [...value];
  const files: string[] = [];
  const passes = new Map<number, PassBuilder>();
  for (const top of topFiles) {
    if (!top.startsWith("/")) {
      throw new InvalidInputError(
        `The ${attribute} '${top}' is not an absolute path; linuximage.${attribute} takes full paths.`,
      );
    }
    const text = await options.read(top);
    if (text === undefined) {
      throw new NotFoundError(`The ${attribute} specified '${top}' does not exist!`);
    }
    const includeDir = posix.dirname(top);
    let pass = 1;
    const expand = async (file: string, body: string, chain: string[]) => {
      files.push(file);
      for (const line of parsePackageListText(body, file)) {
        switch (line.kind) {
          case "new-pass":
            pass++;
            break;
          case "env":
            passOf(passes, pass).env[line.name] = line.value;
            break;
          case "names":
            for (const word of line.words) passOf(passes, pass).add(word, `${file}:${line.line}`);
            break;
          case "include": {
            const named = expandVariables(line.file, env);
            const target = posix.normalize(
              named.startsWith("/") ? named : posix.join(includeDir, named),
            );
            if (chain.includes(target)) {
              throw new InvalidInputError(
                `The ${attribute} ${top} includes itself: ${[...chain, target].join(" -> ")}`,
              );
            }
            const included = await options.read(target);
            if (included === undefined) {
              throw new NotFoundError(
                `Unable to open the following pkglist files: ${target} (#INCLUDE:${line.file}# at ${file}:${line.line})`,
              );
            }
            await expand(target, included, [...chain, target]);
            break;
          }
        }
      }
    };
    await expand(top, text, [top]);
  }
  return {
    passes: [...passes.values()]
      .sort((a, b) => a.number - b.number)
      .map((builder) => builder.build())
      .filter((built) =>
        built.install.length + built.removeBefore.length + built.removeAfter.length > 0
      ),
    files,
  };
}

/** The names of every package a list installs, across passes, in order, each once. */
export function installedNames(list: PackageList): string[] {
  return [...new Set(list.passes.flatMap((pass) => pass.install.map((request) => request.name)))];
}

function passOf(passes: Map<number, PassBuilder>, number: number): PassBuilder {
  let builder = passes.get(number);
  if (!builder) passes.set(number, builder = new PassBuilder(number));
  return builder;
}

class PassBuilder {
  readonly env: Record<string, string> = {};
  readonly #install = new Map<string, PackageRequest>();
  readonly #removeBefore = new Set<string>();
  readonly #removeAfter = new Set<string>();

  constructor(readonly number: number) {}

  add(word: string, where: string): void {
    let entry = word;
    let removal: Set<string> | undefined;
    if (entry.startsWith("--")) {
      removal = this.#removeAfter;
      entry = entry.slice(2);
    } else if (entry.startsWith("-")) {
      removal = this.#removeBefore;
      entry = entry.slice(1);
    }
    // What is left goes to the package manager as an argument: one starting with '-' would be
    // taken as an option ("---setopt=..." must not reach dnf as "-setopt=...").
    const slash = entry.lastIndexOf("/");
    const name = entry.slice(slash + 1);
    if (name === "" || name.startsWith("-") || entry.startsWith("-")) {
      throw new InvalidInputError(`${where}: '${word}' is not a package name`);
    }
    if (removal) {
      removal.add(name);
      return;
    }
    if (!this.#install.has(name)) {
      const directory = slash < 0 ? "" : posix.normalize(entry.slice(0, slash));
      if (directory.startsWith("/") || directory === ".." || directory.startsWith("../")) {
        throw new InvalidInputError(
          `${where}: '${word}' leaves the package directory; name a sub-directory of otherpkgdir`,
        );
      }
      this.#install.set(name, { name, directory: directory === "." ? "" : directory });
    }
  }

  build(): InstallPass {
    return {
      number: this.number,
      env: { ...this.env },
      install: [...this.#install.values()],
      removeBefore: [...this.#removeBefore],
      removeAfter: [...this.#removeAfter],
    };
  }
}
