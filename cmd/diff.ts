// diff: compare two osimages, bundles or snapshots and print what differs; exit 0 equal, 1 different, 2 trouble.

import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import { diffImages } from "../core/diff/image_diff.ts";
import {
  formatDiffJson,
  formatDiffNames,
  formatDiffStat,
  formatDiffText,
} from "../core/diff/diff_report.ts";

export const diff: Command = {
  name: "diff",
  usage: `Usage:
  diff [-h|--help]
  diff <a> <b> [--stat | --name-only | --json]

    --stat       Counts only: attributes changed, then paths added, removed and changed per area.
    --name-only  Only the names: definition:<attribute>, then each path.
    --json       The whole result as JSON (schema version 1, described in the README).

  Each side is, in this order of precedence:
    an existing file            a bundle (imgexport's or xCAT's); a name with a '/' must exist
    <osimage>                   a defined osimage: its definition and the files its snapshot keeps
    <osimage>@<id or digest>    a snapshot (see 'snapshot --list <osimage>')

  Prints the definition's attributes that differ (attr: old → new, in lsdef's order), then each
  path added (+), removed (-) or changed (~) with what changed: content, size, mode, owner,
  link target, device numbers, xattrs, hard link, type. It reads inside packed roots (cpio and
  tar, any compression; squashfs through unsquashfs) and root trees; paths inside are named
  <member>:/<path> (rootimg.cpio.gz:/etc/hostname) and rootimg:/<path> for the root tree.
  Nothing is extracted: both sides are read once, at the same time.

  Exit status: 0 when the sides are equal (and nothing is printed), 1 when they differ, 2 on
  any error.
`,
  failureStatus: 2,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("diff", args, {
      stat: { type: "boolean" },
      "name-only": { type: "boolean" },
      json: { type: "boolean" },
    }, { minPositionals: 2, maxPositionals: 2 });
    const forms = ["stat", "name-only", "json"].filter((name) => booleanFlag(flags, name));
    if (forms.length > 1) {
      throw new UsageError(
        `diff: --${forms[0]} and --${forms[1]} cannot be combined. Run 'diff --help' for usage.`,
      );
    }
    const result = await diffImages(ctx, positionals[0]!, positionals[1]!);
    const form = forms[0];
    ctx.io.out(
      form === "json"
        ? formatDiffJson(result)
        : form === "stat"
        ? formatDiffStat(result)
        : form === "name-only"
        ? formatDiffNames(result)
        : formatDiffText(result),
    );
    if (form !== "json" && !result.equal) {
      for (const note of result.notes) {
        ctx.reporter.note(note);
      }
    }
    return result.equal ? 0 : 1;
  },
};
