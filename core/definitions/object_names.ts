// The rules for object names and the other values that become a path component (image names, profiles, snapshot ids), in one place for every entry point.
//
// osimg builds paths from names: `<tftpdir>/xcat/osimage/<image>`, `<installdir>/netboot/<osvers>/
// <osarch>/<profile>`, `<image>/manifest.xml` inside a bundle, `<image>.tgz`. A name of `..`
// turns `rmimage ..` into a removal of `<tftpdir>/xcat`; a name with `/` or a leading `-` is a
// path or an option to whatever reads it next. Every place a name comes in — mkdef/chdef
// (`-o`, a noderange, `-z` stanzas, `-n`), tabrestore, imgimport (manifest and `-f`), rmimage,
// the image verbs, snapshot and rollback — checks it here, before anything is read or written.

import { InvalidInputError } from "../errors.ts";
import { OBJECT_TYPES } from "./object_types.ts";
import type { Reporter } from "../reporter.ts";

/**
 * The longest name accepted. xCAT sets no limit, but a name becomes a file name (at most 255
 * bytes) with suffixes added (`.tgz`, `.ORIG`, `.json.lock`, `.tmp-<random>`) and, for
 * `imgimport -f`, `<osvers>-<osarch>-<provmethod>-` in front of a profile. xCAT's own names are
 * far shorter: `sles15.4-ppc64le-install-compute` is 32 characters.
 */
export const MAX_NAME_LENGTH = 128;

/**
 * Which rule the names of an object type follow:
 * - `node`: xCAT's isobjnamevalid (DBobjectdefs.pm): letters, digits, `-` and `_`, or an IPv4
 *   address; a `.` is refused with xCAT's own message, capitals only warn. Groups share it:
 *   a group name stands in the same `node` column of the node tables.
 * - `file`: the name is (or may become) one path component — an osimage directory and bundle
 *   name, a kit directory, an osdistro's media directory. See {@linkcode fileNameProblem}.
 * - `general`: names that never become a path (networks, keyed by net and mask; xCAT generates
 *   names such as `10_0_0_0-255_255_0_0`): no `/`, `,`, whitespace or control characters.
 */
export type NameRule = "node" | "file" | "general";

const RULE_OF_TYPE: Readonly<Record<string, NameRule>> = {
  node: "node",
  group: "node",
  osimage: "file",
  osdistro: "file",
  osdistroupdate: "file",
  kit: "file",
  kitrepo: "file",
  kitcomponent: "file",
  network: "general",
};

/** The rule names of `type` follow (`general` for a type this table does not list). */
export function nameRuleOf(type: string): NameRule {
  return RULE_OF_TYPE[type] ?? "general";
}

/**
 * `value` as a message shows it: control characters escaped (a name must not rewrite the
 * terminal that prints its error), and a long value cut, with its length, so one line stays one
 * line.
 */
export function shownValue(value: string): string {
  const escaped = value.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x1f\x7f]/g,
    (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  return escaped.length > 60 ? `${escaped.slice(0, 40)}... (${value.length} characters)` : escaped;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Why `value` cannot be one path component, or undefined. The characters allowed are POSIX's
 * portable file name set (letters, digits, `.`, `_`, `-`) plus `+`: that covers every name xCAT
 * generates (`rhels7.9-x86_64-netboot-compute`, `sles15.4-ppc64le-install-compute`, kit names
 * such as `xlc-13.1.6-0-rhels-7-ppc64le`) and leaves out everything a shell, a glob or a quoted
 * context reads specially (`* ? [ ] " ' \ $ ; | & < > ( ) { } ~ #` and spaces), `,` (xCAT's list
 * separator) and `:` (the `-e src:dir` separator). A name may not start with `.` (`.`, `..`,
 * hidden files: the staging and lock directories start with `.`) or `-` (an option to the next
 * program that gets it).
 */
export function fileNameProblem(value: string): string | undefined {
  if (value === "") return "it is empty";
  if (value.length > MAX_NAME_LENGTH) {
    return `it is ${value.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`;
  }
  if (CONTROL.test(value)) return "it contains a control character";
  if (value === "." || value === "..") return "'.' and '..' name directories, not objects";
  if (value.includes("/")) return "it contains '/'";
  if (/\s/.test(value)) return "it contains whitespace";
  if (value.startsWith("-") || value.startsWith(".")) return "it must not start with '-' or '.'";
  const bad = /[^A-Za-z0-9._+-]/.exec(value);
  if (bad) {
    return `it contains '${bad[0]}'; only letters, digits, '.', '_', '+' and '-' are allowed`;
  }
  return undefined;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The error message for an object name of `type`, or undefined when it is valid; capital
 * letters in a node or group name are told to `reporter` as a warning (xCAT only warns).
 */
export function objectNameProblem(
  type: string,
  name: string,
  reporter?: Pick<Reporter, "warn">,
): string | undefined {
  const shown = shownValue(name);
  const rule = nameRuleOf(type);
  if (rule === "node") {
    // xCAT's isobjnamevalid and its messages (scripts grep for them); the length limit is
    // osimg's: a node name becomes a boot file name (`<node>.uefi`, `<node>.elilo`).
    if (name.length > MAX_NAME_LENGTH) {
      return `The object name '${shown}' is invalid, it is longer than ${MAX_NAME_LENGTH} characters.`;
    }
    if (name.includes(".") && !IPV4.test(name)) {
      return `The object name '${shown}' is invalid, Cannot use '.' in node name.`;
    }
    if (!/^[A-Za-z0-9_-]+$/.test(name) && !IPV4.test(name)) {
      return `The object name '${shown}' is invalid, only letters, digits, '-' and '_' are allowed.`;
    }
    if (/[A-Z]/.test(name)) {
      reporter?.warn(
        `The object name '${name}' contains capital letters which may not be resolved correctly by the dns server.`,
      );
    }
    return undefined;
  }
  const reason = rule === "file" ? fileNameProblem(name) : generalNameProblem(name);
  return reason === undefined ? undefined : `The object name '${shown}' is invalid: ${reason}.`;
}

function generalNameProblem(name: string): string | undefined {
  if (name === "") return "it is empty";
  if (name.length > MAX_NAME_LENGTH) {
    return `it is ${name.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`;
  }
  if (CONTROL.test(name)) return "it contains a control character";
  if (name === "." || name === "..") return "'.' and '..' name directories, not objects";
  if (/[\s,/]/.test(name)) return "it must not contain spaces, ',' or '/'";
  return undefined;
}

/**
 * Checks an object name of `type` (see {@linkcode NameRule}); throws InvalidInputError naming
 * the value and the rule.
 *
 * @example
 * ```ts
 * checkObjectName("osimage", "rhels7.9-x86_64-netboot-compute"); // fine
 * checkObjectName("osimage", ".."); // throws: The object name '..' is invalid: '.' and '..' name directories, not objects.
 * ```
 */
export function checkObjectName(
  type: string,
  name: string,
  reporter?: Pick<Reporter, "warn">,
): void {
  const problem = objectNameProblem(type, name, reporter);
  if (problem !== undefined) throw new InvalidInputError(problem);
}

/**
 * The message for a value that becomes a path component (`what` names it: "profile",
 * "osvers"; `of` the object it belongs to), or undefined when it is a safe file name.
 */
export function pathComponentProblem(what: string, value: string, of?: string): string | undefined {
  const reason = fileNameProblem(value);
  if (reason === undefined) return undefined;
  return `The ${what} '${shownValue(value)}'${of ? ` of ${of}` : ""} is invalid: ${reason}.`;
}

/** Like {@linkcode pathComponentProblem}, throwing InvalidInputError. */
export function checkPathComponent(what: string, value: string, of?: string): void {
  const problem = pathComponentProblem(what, value, of);
  if (problem !== undefined) throw new InvalidInputError(problem);
}

/**
 * Attributes whose value is one directory level of a path osimg builds: xCAT's default
 * rootimgdir `<installdir>/netboot/<osvers>/<osarch>/<profile>`, `imgimport -f`'s
 * `<installdir>/<provmethod>/<osvers>/<osarch>/<profile>` and image name. Each is stored in the
 * column of its own name of `table` (core/definitions/object_types.ts), keyed by `nameColumn`.
 */
const PATH_COMPONENT_ATTRIBUTES: Readonly<
  Record<string, { table: string; nameColumn: string; attributes: readonly string[] }>
> = {
  osimage: {
    table: "osimage",
    nameColumn: "imagename",
    attributes: ["profile", "osvers", "osarch", "provmethod"],
  },
};

/**
 * The message for an attribute value of an object of `type` that becomes a path component and
 * is not a safe file name, or undefined. An empty value (an attribute being cleared) is fine.
 */
export function attributeValueProblem(
  type: string,
  name: string,
  attribute: string,
  value: string,
): string | undefined {
  if (value === "" || !PATH_COMPONENT_ATTRIBUTES[type]?.attributes.includes(attribute)) {
    return undefined;
  }
  return pathComponentProblem(attribute, value, `the ${type} '${shownValue(name)}'`);
}

/**
 * Checks a snapshot selector given to rollback: a snapshot id (the per-image sequence number)
 * or 7 to 64 hex digits of a snapshot's digest. Nothing else can name a snapshot, and a
 * selector such as `../x` must not get near the store's file names.
 */
export function checkSnapshotSelector(selector: string): void {
  if (/^[1-9][0-9]{0,15}$/.test(selector) || /^[0-9a-f]{7,64}$/.test(selector)) return;
  throw new InvalidInputError(
    `The snapshot id '${
      shownValue(selector)
    }' is invalid: give a snapshot id (a number, see 'snapshot --list') or 7 to 64 hex digits of its digest.`,
  );
}

/** table -> column -> the object type whose names that column holds (from OBJECT_TYPES). */
const NAME_COLUMNS: ReadonlyMap<string, ReadonlyMap<string, string>> = (() => {
  const byTable = new Map<string, Map<string, string>>();
  for (const spec of OBJECT_TYPES) {
    if (spec.keying.kind !== "column") continue;
    for (const [table, column] of Object.entries(spec.keying.keyColumns)) {
      const columns = byTable.get(table) ?? new Map<string, string>();
      // The node tables are keyed by node and group alike; both follow the node rule, and
      // the first type listed (node) names the column.
      if (!columns.has(column)) columns.set(column, spec.type);
      byTable.set(table, columns);
    }
  }
  return byTable;
})();

/**
 * The first object name in a table row (a tabrestore CSV row) that its type's rule refuses,
 * with the message, or undefined. Empty values are left to the caller's key checks.
 */
export function rowNameProblem(
  table: string,
  row: Readonly<Record<string, string>>,
): { column: string; problem: string } | undefined {
  for (const [column, type] of NAME_COLUMNS.get(table) ?? []) {
    const value = row[column];
    if (value === undefined || value === "") continue;
    const problem = objectNameProblem(type, value);
    if (problem !== undefined) return { column, problem };
  }
  for (const [type, spec] of Object.entries(PATH_COMPONENT_ATTRIBUTES)) {
    if (spec.table !== table) continue;
    for (const column of spec.attributes) {
      const problem = attributeValueProblem(
        type,
        row[spec.nameColumn] ?? "",
        column,
        row[column] ?? "",
      );
      if (problem !== undefined) return { column, problem };
    }
  }
  return undefined;
}
