// sign: sign existing files (bundles, snapshot blobs, anything) with a minisign-compatible secret key.

import { type Command, parseFlags, stringFlag } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import { signFiles } from "../core/sign/sign_files.ts";

export const sign: Command = {
  name: "sign",
  usage: `Usage:
  sign [-h|--help]
  sign <file>... -s|--key <secret key file>

    -s, --key  The secret key (made by 'osimg keygen' or 'minisign -G'). An encrypted key's
               password is read from OSIMG_KEY_PASSWORD when it is set, else from the terminal.

  Writes <file>.minisig beside each file: minisign's prehashed signature (Ed25519 over the
  BLAKE2b-512 of the file), which 'minisign -V' verifies, with a trusted comment giving the file
  name, the image (for a bundle), osimg's version, the size and the SHA-256. Verify with
  'osimg verify <bundle> --pubkey <key>' or 'minisign -Vm <file> -p <key>.pub'.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("sign", args, {
      key: { type: "string", short: "s" },
    }, { minPositionals: 1 });
    const key = stringFlag(flags, "key");
    if (key === undefined) {
      throw new UsageError("sign: missing --key <secret key file>. Run 'sign --help' for usage.");
    }
    for (const signed of await signFiles(ctx, positionals, key)) {
      ctx.io.out(`Signed ${signed.file}: ${signed.signaturePath}\n`);
      ctx.io.out(`  trusted comment: ${signed.trustedComment}\n`);
    }
  },
};
