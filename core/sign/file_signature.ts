// Making minisign signatures: the prehash taken while a file streams by, the trusted comment, and the .minisig written atomically beside the file.

import { createHash, sign } from "node:crypto";
import { basename } from "node:path";
import {
  globalSignatureInput,
  serializeSignature,
  serializeTrustedComment,
} from "../../formats/signature/minisign.ts";
import { fileChunks } from "../tree/files.ts";
import { OSIMG_VERSION } from "../version.ts";
import { OsimgError } from "../errors.ts";
import type { SigningKey } from "./minisign_keys.ts";

/** Where a file's signature lives: beside it, `<file>.minisig` (minisign's default). */
export function signaturePathOf(file: string): string {
  return `${file}.minisig`;
}

/** What a stream hashed to: BLAKE2b-512 (what minisign signs), SHA-256 and size. */
export interface StreamDigests {
  blake2b512: Uint8Array;
  sha256: string;
  size: number;
}

/**
 * BLAKE2b-512, SHA-256 and byte count of a stream, fed chunk by chunk as it is written or read,
 * so a signature never costs a second pass over the file.
 */
export class StreamHasher {
  readonly #blake2b = createHash("blake2b512");
  readonly #sha256 = createHash("sha256");
  #size = 0;

  update(chunk: Uint8Array): void {
    this.#blake2b.update(chunk);
    this.#sha256.update(chunk);
    this.#size += chunk.byteLength;
  }

  digests(): StreamDigests {
    return {
      blake2b512: new Uint8Array(this.#blake2b.digest()),
      sha256: this.#sha256.digest("hex"),
      size: this.#size,
    };
  }
}

/** What a signature's trusted comment says about the signed file. */
export interface SignedFacts {
  /** The file's base name when it was signed. */
  file: string;
  /** The osimage a bundle holds, when known. */
  image?: string;
  size: number;
  sha256: string;
}

/**
 * The trusted comment osimg writes: tab-separated `name:value` fields as minisign's own
 * (`file:`), plus the image, osimg's version, the size and the SHA-256. No timestamp: the
 * signature is then as reproducible as the bundle (Ed25519 is deterministic).
 *
 * @example
 * ```ts
 * trustedCommentFor({ file: "img.tgz", image: "img", size: 10, sha256: "ab..." });
 * // "file:img.tgz\timage:img\tosimg:0.1.0\tsize:10\tsha256:ab..."
 * ```
 */
export function trustedCommentFor(facts: SignedFacts): string {
  return serializeTrustedComment([
    ["file", facts.file],
    ...(facts.image === undefined ? [] : [["image", facts.image] as [string, string]]),
    ["osimg", OSIMG_VERSION],
    ["size", String(facts.size)],
    ["sha256", facts.sha256],
  ]);
}

/** The `.minisig` text of a prehashed ("ED") signature of a file whose BLAKE2b-512 is given. */
export function signPrehashed(
  key: SigningKey,
  blake2b512: Uint8Array,
  trustedComment: string,
): string {
  const signature = new Uint8Array(sign(null, blake2b512, key.privateKey));
  const globalSignature = new Uint8Array(
    sign(null, globalSignatureInput(signature, trustedComment), key.privateKey),
  );
  return serializeSignature({
    untrustedComment: "signature from osimg secret key",
    algorithm: "prehashed",
    keyId: key.keyId,
    signature,
    trustedComment,
    globalSignature,
  });
}

/** A signature written to a temporary file beside its final path, to be put in place or dropped. */
export interface PreparedSignature {
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/**
 * Writes `text` to a temporary file beside `path` (synced), so that putting it in place is one
 * rename: the bundle and its signature appear together, never half a signature.
 */
export async function prepareSignatureFile(
  path: string,
  text: string,
): Promise<PreparedSignature> {
  const temporary = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const fail = (error: unknown): never => {
    throw new OsimgError(`Cannot write the signature ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  };
  try {
    const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o644 });
    try {
      await file.write(new TextEncoder().encode(text));
      await file.sync();
    } finally {
      file.close();
    }
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    fail(error);
  }
  return {
    async commit() {
      await Deno.rename(temporary, path).catch(fail);
    },
    async discard() {
      await Deno.remove(temporary).catch(() => {});
    },
  };
}

/**
 * Signs an existing file (`osimg sign`): one streaming pass, then `<file>.minisig`. Returns the
 * signature's path and trusted comment.
 */
export async function signFile(
  path: string,
  key: SigningKey,
  options: { image?: string } = {},
): Promise<{ signaturePath: string; trustedComment: string }> {
  const hasher = new StreamHasher();
  try {
    for await (const chunk of fileChunks(path)) hasher.update(chunk);
  } catch (error) {
    throw new OsimgError(`Cannot sign ${path}: ${(error as Error).message}`, { cause: error });
  }
  const digests = hasher.digests();
  const trustedComment = trustedCommentFor({
    file: basename(path),
    image: options.image,
    size: digests.size,
    sha256: digests.sha256,
  });
  const signaturePath = signaturePathOf(path);
  const prepared = await prepareSignatureFile(
    signaturePath,
    signPrehashed(key, digests.blake2b512, trustedComment),
  );
  await prepared.commit();
  return { signaturePath, trustedComment };
}
