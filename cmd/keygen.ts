// keygen: make a minisign-compatible Ed25519 key pair for signing bundles and snapshots.

import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { makeKeyPair } from "../core/sign/keygen.ts";

export const keygen: Command = {
  name: "keygen",
  usage: `Usage:
  keygen [-h|--help]
  keygen [-o|--output name] [--no-password] [-f|--force]

    -o, --output   Write the secret key to <name>.key (mode 0600) and the public key to
                   <name>.pub, relative to the current directory. Default: minisign (so
                   'minisign -V' finds ./minisign.pub by itself).
    --no-password  Store the secret key unencrypted (as 'minisign -G -W'), for CI.
    -f, --force    Replace existing key files (refused otherwise).

  The files are in minisign's formats: minisign signs and verifies with them, and osimg uses
  keys minisign made. The secret key is encrypted with a password as minisign does (scrypt,
  1 GiB, a few seconds): the password is read from OSIMG_KEY_PASSWORD when it is set, else
  typed twice on the terminal.
`,
  async run(ctx, args) {
    const { flags } = parseFlags("keygen", args, {
      output: { type: "string", short: "o" },
      "no-password": { type: "boolean" },
      force: { type: "boolean", short: "f" },
    }, { maxPositionals: 0 });
    const result = await makeKeyPair(ctx, {
      base: stringFlag(flags, "output") ?? "minisign",
      force: booleanFlag(flags, "force"),
      noPassword: booleanFlag(flags, "no-password"),
    });
    ctx.io.out(
      `The secret key was saved as ${result.secretKeyPath} (${
        result.encrypted ? "encrypted" : "not encrypted"
      }) - keep it secret.\n` +
        `The public key was saved as ${result.publicKeyPath} - that one can be public.\n` +
        `Key ID ${result.keyId}. Bundles signed with this key pair can be verified with:\n` +
        `  osimg verify <bundle> --pubkey ${result.publicKey}\n` +
        `  minisign -Vm <bundle> -P ${result.publicKey}\n`,
    );
  },
};
