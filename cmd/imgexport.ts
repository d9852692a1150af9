// imgexport: write an osimage as an xCAT-compatible, checksummed, reproducible bundle.

import { booleanFlag, type Command, parseFlags, stringFlag, stringsFlag } from "../core/command.ts";
import { exportImage } from "../core/bundle/bundle_export.ts";
import { type Compression, COMPRESSIONS } from "../core/compress/compress.ts";
import { UsageError } from "../core/errors.ts";
import { sourceDateEpoch } from "./source_date_epoch.ts";
import { openSigningKey } from "../core/sign/sign_files.ts";

export const imgexport: Command = {
  name: "imgexport",
  usage: `Usage:
  imgexport [-h|--help]
  imgexport image_name [destination] [[-e|--extra file:dir] ... ] [-p|--postscripts node_name]
            [-v|--verbose] [--compress gzip|zstd|xz|bzip2|none] [--sign <secret key file>]

    destination       The bundle file (relative to the current directory), or a directory to
                      write <image_name>.tgz into. Default: ./<image_name>.tgz.
    -e, --extra       Also bundle file or directory src (a management-node path); imgimport puts
                      it into dir (default: src for a directory, its parent for a file).
    -p, --postscripts Add node_name's postscripts and postbootscripts (with xcatdefaults).
    -v, --verbose     List the files being bundled.
    --compress        Compression of the bundle (default gzip, which xCAT's imgimport requires).
    --sign            Also write <bundle>.minisig: minisign's signature of the bundle, hashed as
                      it is written, with a trusted comment naming the image, osimg's version,
                      the size and the SHA-256. An encrypted key's password comes from
                      OSIMG_KEY_PASSWORD or the terminal. Without --sign, an older
                      <bundle>.minisig is removed (it would not match the new bundle).

  The bundle holds <image_name>/manifest.xml and <image_name>/SHA256SUMS first, then the image's
  files. Members are sorted, owned by root, and their times are clamped to SOURCE_DATE_EPOCH when
  it is set (else to the newest input), so the same image gives the same bytes.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("imgexport", args, {
      extra: { type: "string", short: "e", multiple: true },
      postscripts: { type: "string", short: "p" },
      verbose: { type: "boolean", short: "v" },
      compress: { type: "string" },
      sign: { type: "string" },
    }, { minPositionals: 1, maxPositionals: 2 });
    const compression = stringFlag(flags, "compress") ?? "gzip";
    if (!(COMPRESSIONS as readonly string[]).includes(compression)) {
      throw new UsageError(
        `imgexport: unknown compression '${compression}' (use ${COMPRESSIONS.join(", ")}).`,
      );
    }
    // The key is opened (and its password checked) before anything is written.
    const keyPath = stringFlag(flags, "sign");
    const signingKey = keyPath === undefined ? undefined : await openSigningKey(ctx, keyPath);
    const result = await exportImage(ctx, {
      image: positionals[0]!,
      destination: positionals[1],
      extras: stringsFlag(flags, "extra"),
      postscriptsNode: stringFlag(flags, "postscripts"),
      verbose: booleanFlag(flags, "verbose"),
      compression: compression as Compression,
      sourceDateEpoch: sourceDateEpoch(ctx.env),
      signingKey,
    });
    if (result.signaturePath) ctx.reporter.line(`Signed: ${result.signaturePath}`);
  },
};
