// keygen: a new minisign-compatible key pair written as <name>.key (secret, mode 0600) and <name>.pub, never over existing keys unless forced.

import { resolve } from "node:path";
import type { Context } from "../context.ts";
import { ConflictError, OsimgError } from "../errors.ts";
import { generateKeyPair } from "./minisign_keys.ts";
import { keyPassword } from "./key_password.ts";

/** What keygen wrote. */
export interface KeygenResult {
  secretKeyPath: string;
  publicKeyPath: string;
  keyId: string;
  /** The public key as one base64 line (`--pubkey`, `minisign -P`, site.osimgtrustedkeys). */
  publicKey: string;
  encrypted: boolean;
}

/**
 * Makes a key pair: `<base>.key` and `<base>.pub` (base relative to the current directory).
 * The secret key is encrypted with a password (OSIMG_KEY_PASSWORD, or typed twice on the
 * terminal) unless `noPassword`. Existing key files are refused before any password is asked,
 * unless `force`; the files appear whole (written aside, then linked or renamed into place).
 */
export async function makeKeyPair(
  ctx: Pick<Context, "cwd" | "env" | "io">,
  options: { base: string; force?: boolean; noPassword?: boolean },
): Promise<KeygenResult> {
  const secretKeyPath = resolve(ctx.cwd, `${options.base}.key`);
  const publicKeyPath = resolve(ctx.cwd, `${options.base}.pub`);
  const refuse = (path: string) =>
    new ConflictError(`The key file ${path} already exists; use -f to replace it`);
  if (!options.force) {
    for (const path of [secretKeyPath, publicKeyPath]) {
      if (await Deno.lstat(path).then(() => true, () => false)) throw refuse(path);
    }
  }
  const password = options.noPassword
    ? undefined
    : await keyPassword(ctx, `The new secret key ${secretKeyPath}`, { confirm: true });
  const pair = generateKeyPair({ password });
  const suffix = crypto.randomUUID().slice(0, 8);
  const pending = [
    { path: secretKeyPath, text: pair.secretKeyText, mode: 0o600 },
    { path: publicKeyPath, text: pair.publicKeyText, mode: 0o644 },
  ].map((file) => ({ ...file, temporary: `${file.path}.tmp-${suffix}` }));
  const placed: string[] = [];
  try {
    for (const file of pending) {
      await Deno.writeTextFile(file.temporary, file.text, { createNew: true, mode: file.mode });
    }
    for (const file of pending) {
      if (options.force) {
        await Deno.rename(file.temporary, file.path);
      } else {
        // link() fails on an existing name: a key made meanwhile by someone else is kept.
        try {
          await Deno.link(file.temporary, file.path);
        } catch (error) {
          if (error instanceof Deno.errors.AlreadyExists) throw refuse(file.path);
          throw error;
        }
      }
      placed.push(file.path);
    }
  } catch (error) {
    if (!options.force) { for (const path of placed) await Deno.remove(path).catch(() => {}); }
    if (error instanceof OsimgError) throw error;
    throw new OsimgError(`Cannot write the key pair: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    for (const file of pending) await Deno.remove(file.temporary).catch(() => {});
  }
  return {
    secretKeyPath,
    publicKeyPath,
    keyId: pair.keyId,
    publicKey: pair.publicKeyText.split("\n")[1]!,
    encrypted: password !== undefined,
  };
}
