// diff's output forms: the full text report, --stat counts, --name-only paths and the versioned --json document.

import type { FieldChange } from "./path_summary.ts";
import type { DiffResult, PackingChange, PathDifference } from "./image_diff.ts";

/** The version of the --json document; bumped when a field changes meaning or goes away. */
export const DIFF_JSON_VERSION = 1;

function shown(value: string | null): string {
  return value === null ? "(unset)" : value;
}

/** One field change as the text report words it. */
function describeChange(change: FieldChange | PackingChange): string {
  switch (change.field) {
    case "type":
      return `type ${change.old} → ${change.new}`;
    case "content":
      return "content";
    case "size":
      return `size ${change.old} → ${change.new}`;
    case "mode":
      return `mode ${change.old} → ${change.new}`;
    case "owner":
      return `owner ${change.old} → ${change.new}`;
    case "target":
      return `link target ${change.old} → ${change.new}`;
    case "device":
      return `device ${change.old} → ${change.new}`;
    case "xattrs":
      return `xattrs (${change.names.join(", ")})`;
    case "hardlink":
      return `hard link ${change.old ?? "(none)"} → ${change.new ?? "(none)"}`;
    case "packing":
      return `packing ${change.old} → ${change.new}`;
  }
}

function describePath(difference: PathDifference): string {
  const what = difference.paths === undefined
    ? difference.type
    : `packed root, ${difference.paths} path${difference.paths === 1 ? "" : "s"}`;
  switch (difference.status) {
    case "added":
      return `+ ${difference.path} (${what})`;
    case "removed":
      return `- ${difference.path} (${what})`;
    case "changed":
      return `~ ${difference.path}: ${difference.changes!.map(describeChange).join(", ")}`;
  }
}

/**
 * The full report: a header naming both sides, the definition's attributes that differ
 * (`attr: old → new`), then every path added (+), removed (-) or changed (~) with what changed.
 * Empty when the sides are equal.
 */
export function formatDiffText(result: DiffResult): string {
  if (result.equal) return "";
  const lines = [
    `--- ${result.a.argument} (${result.a.kind})`,
    `+++ ${result.b.argument} (${result.b.kind})`,
  ];
  if (result.definition.length > 0) {
    lines.push("Definition:");
    for (const change of result.definition) {
      lines.push(`    ${change.attribute}: ${shown(change.old)} → ${shown(change.new)}`);
    }
  }
  if (result.files.length > 0) {
    lines.push("Files:");
    for (const difference of result.files) lines.push(`    ${describePath(difference)}`);
  }
  return lines.join("\n") + "\n";
}

/** --stat: one line per area with differences (the definition first). Empty when equal. */
export function formatDiffStat(result: DiffResult): string {
  const lines: string[] = [];
  const count = result.definition.length;
  if (count > 0) lines.push(`definition: ${count} attribute${count === 1 ? "" : "s"} changed`);
  for (const area of result.stat) {
    lines.push(
      `${area.area}: ${area.added} added, ${area.removed} removed, ${area.changed} changed`,
    );
  }
  return lines.length > 0 ? lines.join("\n") + "\n" : "";
}

/** --name-only: `definition:<attribute>` for attributes, then each path. Empty when equal. */
export function formatDiffNames(result: DiffResult): string {
  const lines = [
    ...result.definition.map((change) => `definition:${change.attribute}`),
    ...result.files.map((difference) => difference.path),
  ];
  return lines.length > 0 ? lines.join("\n") + "\n" : "";
}

/** --json: the whole result with its schema version, two-space indented. */
export function formatDiffJson(result: DiffResult): string {
  return JSON.stringify({ version: DIFF_JSON_VERSION, ...result }, null, 2) + "\n";
}
