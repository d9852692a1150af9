// xCAT's exlist syntax (packimage's file selection): parse lines, and match paths as find -path does.

/**
 * One meaningful line of an exlist file.
 * - `exclude`: a `find -path` pattern (an optional leading `-` already stripped);
 * - `include`: a `+pattern` line, which puts matching paths back into the archive;
 * - `include-file`: an `#INCLUDE:file#` directive, expanded by the caller (it reads files).
 */
export type ExlistLine =
  | { kind: "exclude"; pattern: string; line: number }
  | { kind: "include"; pattern: string; line: number }
  | { kind: "include-file"; file: string; line: number };

/** The exclude and include patterns of a whole exlist, includes expanded, in file order. */
export interface ExlistRules {
  excludes: string[];
  includes: string[];
}

/**
 * Patterns xCAT's packimage always excludes, whatever the exlist says: statelite's working
 * directories and backups must never reach a node's RAM root (packimage.pm).
 */
export const ALWAYS_EXCLUDED: readonly string[] = [
  "./etc/init.d/statelite",
  "./etc/rc.sysinit.backup",
  "./.statelite*",
  "./.default*",
  "./.statebackup*",
];

const INCLUDE_DIRECTIVE = /^#INCLUDE:([^#]+)#$/;

/**
 * Parses the text of one exlist file into its lines, as packimage.pm reads them: an
 * `#INCLUDE:file#` line names another exlist; otherwise a trailing `#…` comment is cut, blank
 * lines are skipped, a `+` starts an include pattern, and a leading `-` is dropped.
 *
 * @example
 * ```ts
 * parseExlist("./usr/share/man*\n+./usr/share/man/man1*  # keep section 1\n");
 * // [{kind:"exclude",pattern:"./usr/share/man*",line:1},{kind:"include",pattern:"./usr/share/man/man1*",line:2}]
 * ```
 */
export function parseExlist(text: string): ExlistLine[] {
  const lines: ExlistLine[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.replace(/\r$/, "").trim();
    const directive = INCLUDE_DIRECTIVE.exec(trimmed);
    if (directive) {
      lines.push({ kind: "include-file", file: directive[1]!.trim(), line });
      return;
    }
    // xCAT cuts everything from the first '#': a pattern cannot contain one.
    const content = trimmed.replace(/#.*$/, "").trim();
    if (content === "") return;
    if (content.startsWith("+")) {
      const pattern = content.slice(1).trim();
      if (pattern !== "") lines.push({ kind: "include", pattern, line });
      return;
    }
    const pattern = content.startsWith("-") ? content.slice(1).trim() : content;
    if (pattern !== "") lines.push({ kind: "exclude", pattern, line });
  });
  return lines;
}

/**
 * Translates a `find -path` glob into a regular expression source (without anchors). As in
 * find, `*` and `?` also match `/`; `[...]` is a bracket expression (`!` or `^` negates); a
 * backslash quotes the next character.
 */
export function globSource(pattern: string): string {
  let source = "";
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === "*") source += "[\\s\\S]*";
    else if (char === "?") source += "[\\s\\S]";
    else if (char === "\\" && index + 1 < pattern.length) {
      source += escapeRegExp(pattern[++index]!);
    } else if (char === "[") {
      const close = bracketEnd(pattern, index);
      if (close < 0) {
        source += "\\[";
        continue;
      }
      let body = pattern.slice(index + 1, close);
      let negate = false;
      if (body.startsWith("!") || body.startsWith("^")) {
        negate = true;
        body = body.slice(1);
      }
      const escaped = body.replace(/[\\\]]/g, (c) => "\\" + c).replace(/^\^/, "\\^");
      source += negate ? `[^${escaped}]` : `[${escaped}]`;
      index = close;
    } else source += escapeRegExp(char);
  }
  return source;
}

/** The index of the `]` closing the bracket expression opened at `open`, or -1. */
function bracketEnd(pattern: string, open: number): number {
  let index = open + 1;
  if (pattern[index] === "!" || pattern[index] === "^") index++;
  // A ']' right after the opening (or its negation) is a literal member, as in fnmatch.
  if (pattern[index] === "]") index++;
  for (; index < pattern.length; index++) if (pattern[index] === "]") return index;
  return -1;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The literal text a glob starts with, up to its first wildcard. */
function literalPrefix(pattern: string): { prefix: string; whole: boolean } {
  let prefix = "";
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === "*" || char === "?" || char === "[") return { prefix, whole: false };
    if (char === "\\" && index + 1 < pattern.length) prefix += pattern[++index]!;
    else prefix += char;
  }
  return { prefix, whole: true };
}

/** What an exlist decides about one path. */
export interface ExlistMatcher {
  /** True when the path goes into the archive: not excluded, or re-included by a `+` line. */
  keeps(findPath: string): boolean;
  /**
   * True when nothing below the directory `findPath` can be kept: every descendant is
   * excluded and no include pattern can reach one. The walker may then skip the subtree.
   */
  prunes(findPath: string): boolean;
}

/**
 * Compiles exlist rules into a matcher over paths as `find .` prints them (`.`, `./usr/bin`).
 * A path is kept when no exclude pattern matches it, or when an include pattern does; this is
 * what xCAT's two find commands produce together (without the duplicates).
 *
 * @example
 * ```ts
 * const matcher = compileExlist({ excludes: ["./usr/share/man*"], includes: [] });
 * matcher.keeps("./usr/share/man/man1/ls.1.gz"); // false
 * ```
 */
export function compileExlist(rules: ExlistRules): ExlistMatcher {
  const whole = (patterns: string[]) =>
    patterns.length === 0 ? undefined : new RegExp(`^(?:${patterns.map(globSource).join("|")})$`);
  const excluded = whole(rules.excludes);
  const included = whole(rules.includes);
  // A pattern P = A* covers a whole subtree D/... when A matches a prefix of "D/": the final
  // `*` then swallows any rest. `^A` without `$` tests exactly "A matches some prefix".
  const subtreeCovers = rules.excludes
    .filter((pattern) => pattern.endsWith("*") && !pattern.endsWith("\\*"))
    .map((pattern) => new RegExp(`^${globSource(pattern.slice(0, -1))}`));
  const includePrefixes = rules.includes.map(literalPrefix);
  const isExcluded = (path: string) => excluded?.test(path) ?? false;
  const isIncluded = (path: string) => included?.test(path) ?? false;
  return {
    keeps: (path) => !isExcluded(path) || isIncluded(path),
    prunes(path) {
      if (!isExcluded(path) || isIncluded(path)) return false;
      const below = path + "/";
      if (!subtreeCovers.some((cover) => cover.test(below))) return false;
      // Could an include pattern match something under this directory? Compare literal
      // prefixes; when in doubt, do not prune (pruning is only a speed-up).
      return !includePrefixes.some(({ prefix, whole }) =>
        whole ? prefix.startsWith(below) : prefix.startsWith(below) || below.startsWith(prefix)
      );
    },
  };
}
