// verify: check a bundle without importing it and print the report (text or --json).

import { booleanFlag, type Command, parseFlags, stringsFlag } from "../core/command.ts";
import { verifyBundle } from "../core/bundle/bundle_verify.ts";
import { AggregateProblemsError } from "../core/errors.ts";

export const verify: Command = {
  name: "verify",
  usage: `Usage:
  verify [-h|--help]
  verify <bundle_file_name> [--json] [--allow-expansion] [--pubkey <key>]...

    --json             Print the report as JSON.
    --allow-expansion  Read on when the bundle unpacks to more than 200 times its compressed
                       size (reported as a problem by default: a decompression bomb).
    --pubkey KEY       First check <bundle_file_name>.minisig, a minisign signature by this key
                       (a .pub file or the base64 key, as 'minisign -P'; repeatable: any one of
                       them); site.osimgtrustedkeys, when this root has it, requires one too. A
                       bundle whose signature fails is not read further.

  Reads the bundle once: every member against the safety rules, every file against the
  image's SHA256SUMS, every file named for its format (rootimg.cpio.gz, rootimg.sfs,
  initrd-*.gz...) against that format, every manifest against what imgimport requires. Reports
  every problem
  found and exits 0 only when there is none.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("verify", args, {
      json: { type: "boolean" },
      "allow-expansion": { type: "boolean" },
      pubkey: { type: "string", multiple: true },
    }, { minPositionals: 1, maxPositionals: 1 });
    const report = await verifyBundle(ctx, positionals[0]!, {
      maxExpansion: booleanFlag(flags, "allow-expansion") ? Infinity : undefined,
      pubkeys: stringsFlag(flags, "pubkey"),
    });
    if (booleanFlag(flags, "json")) {
      ctx.io.out(JSON.stringify(report, null, 2) + "\n");
    } else {
      for (const warning of report.warnings) ctx.reporter.warn(warning);
      if (report.signature) {
        ctx.io.out(
          `Signature verified: key ${report.signature.keyId}, trusted comment "${report.signature.trustedComment}"\n`,
        );
      }
      for (const image of report.images) {
        const what = [image.imagename ?? "(no readable manifest)", image.provmethod]
          .filter(Boolean).join(", ");
        const checked = image.checksummed ? "all checksums verified" : "not checksummed";
        ctx.io.out(`${image.dir}: ${what}; ${image.files} files, ${checked}\n`);
      }
    }
    if (!report.ok) {
      const count = report.problems.length;
      throw new AggregateProblemsError(
        `Bundle "${report.bundle}" failed verification: ${count} problem${count === 1 ? "" : "s"}`,
        report.problems.map((problem) => `  ${problem}`),
      );
    }
    if (!booleanFlag(flags, "json")) ctx.io.out(`Bundle "${report.bundle}" is sound.\n`);
  },
};
