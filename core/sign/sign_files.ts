// osimg sign: signing existing files (bundles, snapshots, anything) with a secret key, and opening that key.

import { resolve } from "node:path";
import type { Context } from "../context.ts";
import { decompress } from "../compress/compress.ts";
import { fileChunks } from "../tree/files.ts";
import { readTar } from "../../formats/archive/tar.ts";
import { collectBytes } from "../../formats/bytes.ts";
import { parseManifest } from "../../formats/xcat/manifest_xml.ts";
import { MANIFEST_COLUMNS } from "../store/schema.ts";
import { signFile } from "./file_signature.ts";
import { keyPassword } from "./key_password.ts";
import { loadSecretKey, type SigningKey } from "./minisign_keys.ts";

/** Opens the secret key file `path`, asking for its password only when it is encrypted. */
export async function openSigningKey(
  ctx: Pick<Context, "cwd" | "env" | "io">,
  path: string,
): Promise<SigningKey> {
  return await loadSecretKey(
    ctx.cwd,
    path,
    () => keyPassword(ctx, `The secret key ${path}`),
  );
}

/** One signed file. */
export interface SignedFile {
  file: string;
  signaturePath: string;
  trustedComment: string;
}

/**
 * Signs each file with the key in `keyPath` (opened once): `<file>.minisig`, prehashed, with
 * osimg's trusted comment (the image too when the file is a bundle whose manifest says it).
 */
export async function signFiles(
  ctx: Pick<Context, "cwd" | "env" | "io" | "runner">,
  files: readonly string[],
  keyPath: string,
): Promise<SignedFile[]> {
  const key = await openSigningKey(ctx, keyPath);
  const signed: SignedFile[] = [];
  for (const file of files) {
    const path = resolve(ctx.cwd, file);
    const image = await bundleImageName(ctx, path);
    signed.push({ file, ...await signFile(path, key, { image }) });
  }
  return signed;
}

/**
 * The image a bundle holds, from its first member (manifest.xml), or undefined for a file that
 * is not a bundle: only the start of the file is read.
 */
async function bundleImageName(
  ctx: Pick<Context, "runner">,
  path: string,
): Promise<string | undefined> {
  try {
    for await (const entry of readTar(decompress(ctx.runner, fileChunks(path)))) {
      // Bundles start with the image directory, manifest.xml and SHA256SUMS, in some order.
      if (entry.kind === "dir" || entry.path.endsWith("/SHA256SUMS")) continue;
      if (entry.kind !== "file" || !entry.path.endsWith("/manifest.xml")) return undefined;
      const text = new TextDecoder().decode(await collectBytes(entry.content.open()));
      return parseManifest(text, MANIFEST_COLUMNS).osimage.imagename;
    }
  } catch {
    // Not a bundle (or not one osimg reads): signed all the same, without an image name.
  }
  return undefined;
}
