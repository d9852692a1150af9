// osimg diff: what differs between two images, bundles or snapshots — definition attributes, then files, down into packed roots and root trees.

import type { Context } from "../context.ts";
import { compareUtf8 } from "../tree/walk.ts";
import {
  type Carries,
  compareSummaries,
  type FieldChange,
  type PathSummary,
  type PathType,
} from "./path_summary.ts";
import {
  resolveSide,
  type RootArea,
  type SideKind,
  type SideSummary,
  summarizeSide,
  TOP_LEVEL_CARRIES,
} from "./diff_side.ts";

/** One definition attribute that differs; null when unset on that side. */
export interface AttributeChange {
  attribute: string;
  old: string | null;
  new: string | null;
}

/**
 * One path that was added, removed or changed. `path` is its full name: a top-level file as the
 * image directory names it (`kernel`, `compute.pkglist`), a path inside a packed root as
 * `<member>:/<path>` (`rootimg.cpio.gz:/etc/hostname`), inside the root tree as
 * `rootimg:/<path>`; the root itself is `<area>:/`.
 */
export interface PathDifference {
  path: string;
  /** "files" for the top-level files, else the packed root's member name or "rootimg". */
  area: string;
  status: "added" | "removed" | "changed";
  /** The path's type (on side b when changed or added, on side a when removed). */
  type: PathType;
  /** A packed root added or removed whole: how many paths it holds. */
  paths?: number;
  /** What changed (status "changed" only). */
  changes?: (FieldChange | PackingChange)[];
}

/** The two sides' packed roots are in different formats: compared by what they hold. */
export interface PackingChange {
  field: "packing";
  old: string;
  new: string;
}

/** Counts per area, for --stat. */
export interface AreaCount {
  area: string;
  added: number;
  removed: number;
  changed: number;
}

/** Everything diff found. */
export interface DiffResult {
  a: { argument: string; kind: SideKind };
  b: { argument: string; kind: SideKind };
  equal: boolean;
  /** In lsdef's attribute order (by name). */
  definition: AttributeChange[];
  /** Top-level files, then each packed root, then the root tree; by path within each. */
  files: PathDifference[];
  /** Areas with differences, in the order of `files`. */
  stat: AreaCount[];
  /** What was not compared, and why (a root tree on one side only, fields a format lacks). */
  notes: string[];
}

/**
 * Compares `a` and `b` (each an osimage, a bundle file or `<image>@<snapshot>`), reading both at
 * once, each in one streaming pass: nothing is extracted, memory holds one summary per path.
 *
 * @example
 * ```ts
 * const result = await diffImages(ctx, "compute@1", "compute");
 * result.equal; // false after a chdef
 * ```
 */
export async function diffImages(ctx: Context, a: string, b: string): Promise<DiffResult> {
  const sources = [await resolveSide(ctx, a), await resolveSide(ctx, b)] as const;
  // Both are read at once; when one fails, the other is let finish (its Worker closed, its
  // temporary files removed) before the first failure, side a's if both, is reported.
  const [left, right] = await Promise.allSettled(
    sources.map((source) => summarizeSide(ctx, source)),
  );
  if (left!.status === "rejected") throw left!.reason;
  if (right!.status === "rejected") throw right!.reason;
  return compareSides(left!.value, right!.value);
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The definition attributes that differ, sorted by name as lsdef lists them. */
function compareAttributes(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): AttributeChange[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(byName);
  return names.filter((name) => a[name] !== b[name])
    .map((name) => ({ attribute: name, old: a[name] ?? null, new: b[name] ?? null }));
}

/** A path as printed: `<area>:/<path>`, or the bare name for a top-level file. */
function shownPath(area: string | undefined, path: string): string {
  if (area === undefined) return path;
  return `${area}:/${path === "." ? "" : path}`;
}

/** The differences between two path maps of one area. */
function comparePaths(
  area: string,
  label: string | undefined,
  a: ReadonlyMap<string, PathSummary>,
  b: ReadonlyMap<string, PathSummary>,
  carries: Carries,
): PathDifference[] {
  const differences: PathDifference[] = [];
  const names = [...new Set([...a.keys(), ...b.keys()])].sort(compareUtf8);
  for (const path of names) {
    const left = a.get(path);
    const right = b.get(path);
    // Some archives list their root directory and others do not: its absence is no change.
    if (path === "." && (!left || !right)) continue;
    const shown = shownPath(label, path);
    if (!left) differences.push({ path: shown, area, status: "added", type: right!.type });
    else if (!right) differences.push({ path: shown, area, status: "removed", type: left.type });
    else {
      const changes = compareSummaries(left, right, carries);
      if (changes.length > 0) {
        differences.push({ path: shown, area, status: "changed", type: right.type, changes });
      }
    }
  }
  return differences;
}

function both(a: Carries, b: Carries): Carries {
  return {
    owner: a.owner && b.owner,
    xattrs: a.xattrs && b.xattrs,
    hardlinks: a.hardlinks && b.hardlinks,
  };
}

/** Pairs the packed roots: by name, or the only one of each side whatever its format. */
function pairPacked(
  a: readonly RootArea[],
  b: readonly RootArea[],
): { pairs: [RootArea, RootArea][]; onlyA: RootArea[]; onlyB: RootArea[] } {
  if (a.length === 1 && b.length === 1) return { pairs: [[a[0]!, b[0]!]], onlyA: [], onlyB: [] };
  const pairs: [RootArea, RootArea][] = [];
  const onlyA: RootArea[] = [];
  for (const area of a) {
    const match = b.find((other) => other.name === area.name);
    if (match) pairs.push([area, match]);
    else onlyA.push(area);
  }
  const onlyB = b.filter((area) => !a.some((other) => other.name === area.name));
  return { pairs, onlyA, onlyB };
}

/** A note when one side's format cannot hold xattrs and the other's can: they were not compared. */
function xattrNote(
  label: string,
  [sideA, areaA]: [SideSummary, RootArea],
  [sideB, areaB]: [SideSummary, RootArea],
): string[] {
  if (areaA.carries.xattrs === areaB.carries.xattrs) return [];
  const [lacking, area] = areaA.carries.xattrs ? [sideB, areaB] : [sideA, areaA];
  const form = area.name === "rootimg" && lacking.kind !== "image" ? "rootimgtree.gz" : area.name;
  return [
    `xattrs in ${label} are not compared: ${lacking.argument} keeps it as ${form}, which does not record them`,
  ];
}

/** Compares two summaries (see {@linkcode diffImages}). */
export function compareSides(a: SideSummary, b: SideSummary): DiffResult {
  const notes: string[] = [];
  const files = comparePaths(
    "files",
    undefined,
    a.files,
    b.files,
    TOP_LEVEL_CARRIES,
  );
  const { pairs, onlyA, onlyB } = pairPacked(a.packed, b.packed);
  const wholeMembers: PathDifference[] = [
    ...onlyA.map((area): PathDifference => ({
      path: area.name,
      area: "files",
      status: "removed",
      type: "file",
      paths: area.paths.size,
    })),
    ...onlyB.map((area): PathDifference => ({
      path: area.name,
      area: "files",
      status: "added",
      type: "file",
      paths: area.paths.size,
    })),
  ];
  const inside: PathDifference[] = [];
  for (const [left, right] of pairs) {
    // Paths inside are named by side b's member: what the image holds now.
    const label = right.name;
    if (left.name !== right.name) {
      wholeMembers.push({
        path: right.name,
        area: "files",
        status: "changed",
        type: "file",
        changes: [{ field: "packing", old: left.name, new: right.name }],
      });
    }
    notes.push(...xattrNote(label, [a, left], [b, right]));
    inside.push(
      ...comparePaths(label, label, left.paths, right.paths, both(left.carries, right.carries)),
    );
  }
  const topLevel = [...files, ...wholeMembers].sort((x, y) => compareUtf8(x.path, y.path));
  if (a.tree && b.tree) {
    notes.push(...xattrNote("rootimg", [a, a.tree], [b, b.tree]));
    inside.push(
      ...comparePaths(
        "rootimg",
        "rootimg",
        a.tree.paths,
        b.tree.paths,
        both(a.tree.carries, b.tree.carries),
      ),
    );
  } else if (a.tree || b.tree) {
    const [has, lacks] = a.tree ? [a, b] : [b, a];
    notes.push(
      `the root tree (rootimg/) is not compared: only ${has.argument} has one (${lacks.argument} has its packed root only)`,
    );
  }
  const all = [...topLevel, ...inside];
  const definition = compareAttributes(a.attributes, b.attributes);
  const stat: AreaCount[] = [];
  for (const difference of all) {
    let count = stat.find((item) => item.area === difference.area);
    if (!count) {
      count = { area: difference.area, added: 0, removed: 0, changed: 0 };
      stat.push(count);
    }
    count[difference.status]++;
  }
  return {
    a: { argument: a.argument, kind: a.kind },
    b: { argument: b.argument, kind: b.kind },
    equal: definition.length === 0 && all.length === 0,
    definition,
    files: all,
    stat,
    notes,
  };
}
