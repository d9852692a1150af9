// Checking a file's minisign signature before it is used, each way it can fail with its own message, and which keys a node accepts (--pubkey, site.osimgtrustedkeys).

import { createPublicKey, type KeyObject, timingSafeEqual, verify } from "node:crypto";
import { Buffer } from "node:buffer";
import { existsSync } from "node:fs";
import { basename, posix, resolve } from "node:path";
import {
  globalSignatureInput,
  keyIdText,
  type MinisignPublicKey,
  type MinisignSignature,
  parseSignature,
  parseTrustedComment,
  publicKeyBase64,
} from "../../formats/signature/minisign.ts";
import { type Context, hostPathOf } from "../context.ts";
import { IntegrityError, InvalidInputError, OsimgError } from "../errors.ts";
import { fileChunks } from "../tree/files.ts";
import type { Store } from "../store/store.ts";
import { signaturePathOf, StreamHasher } from "./file_signature.ts";
import { loadPublicKey } from "./minisign_keys.ts";

/** The site attribute that makes a signature mandatory for every import on the node. */
export const TRUSTED_KEYS_ATTRIBUTE = "osimgtrustedkeys";

/** The keys a signature must be made by, and where that requirement comes from. */
export interface AcceptedKeys {
  keys: MinisignPublicKey[];
  /** Completes "a signature by ... is required": "the key given with --pubkey", "a key in site.osimgtrustedkeys". */
  source: string;
}

/** A signature that verified. */
export interface VerifiedSignature {
  /** The signing key's id as minisign prints it. */
  keyId: string;
  trustedComment: string;
}

/** Whether two public keys are the same key (id and key bytes). */
function sameKey(a: MinisignPublicKey, b: MinisignPublicKey): boolean {
  return publicKeyBase64(a) === publicKeyBase64(b);
}

/**
 * The keys an import or a verify accepts: those given with `--pubkey` (a `.pub` file or the
 * base64 key, as `minisign -P`), and on a node whose site.osimgtrustedkeys is set, those listed
 * there (comma-separated base64 keys or absolute management-node paths of `.pub` files), which
 * every import must then be signed by; `--pubkey` can only narrow that list. Undefined when no
 * signature is required.
 */
export async function acceptedKeys(
  ctx: Pick<Context, "cwd" | "root">,
  pubkeys: readonly string[],
  trustedKeysSetting: string | undefined,
): Promise<AcceptedKeys | undefined> {
  const given: MinisignPublicKey[] = [];
  for (const value of pubkeys) {
    given.push(await loadPublicKey(value, (path) => resolve(ctx.cwd, path), "The --pubkey"));
  }
  const entries = (trustedKeysSetting ?? "").split(",").map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) {
    if (given.length === 0) return undefined;
    return {
      keys: given,
      source: given.length === 1
        ? "the key given with --pubkey"
        : "one of the keys given with --pubkey",
    };
  }
  const trusted: MinisignPublicKey[] = [];
  for (const entry of entries) {
    if (!entry.startsWith("RW") && !posix.isAbsolute(entry)) {
      throw new InvalidInputError(
        `site.${TRUSTED_KEYS_ATTRIBUTE}: '${entry}' is neither a minisign public key (RW...) nor an absolute path of a .pub file`,
      );
    }
    trusted.push(
      await loadPublicKey(
        entry,
        (path) => hostPathOf(ctx, path),
        `The site.${TRUSTED_KEYS_ATTRIBUTE} entry`,
      ),
    );
  }
  for (const key of given) {
    if (!trusted.some((other) => sameKey(key, other))) {
      throw new InvalidInputError(
        `The --pubkey key ${
          keyIdText(key.keyId)
        } is not in site.${TRUSTED_KEYS_ATTRIBUTE}, and every import on this node must be signed by one of those keys`,
      );
    }
  }
  return given.length > 0
    ? { keys: given, source: `a --pubkey key (within site.${TRUSTED_KEYS_ATTRIBUTE})` }
    : { keys: trusted, source: `a key in site.${TRUSTED_KEYS_ATTRIBUTE}` };
}

/** site.osimgtrustedkeys of this node, or undefined. */
export async function trustedKeysSetting(store: Store): Promise<string | undefined> {
  const rows = await store.read((reader) => reader.rows("site", { key: TRUSTED_KEYS_ATTRIBUTE }));
  return rows[0]?.value;
}

/**
 * site.osimgtrustedkeys when the node has a database, without creating one (verify reads
 * bundles on machines that are not management nodes).
 */
export async function trustedKeysIfAny(ctx: Context): Promise<string | undefined> {
  if (!existsSync(ctx.dbPath) && !/^postgres(ql)?:/.test(ctx.dbPath)) return undefined;
  return await trustedKeysSetting(await ctx.store());
}

function edPublicKey(key: MinisignPublicKey): KeyObject {
  return createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(key.publicKey).toString("base64url") },
    format: "jwk",
  });
}

/**
 * Checks `<file>.minisig` against `accepted` before the file is used: the key id, the trusted
 * comment's signature, then the file's BLAKE2b-512 in one streaming pass. Each failure is an
 * IntegrityError of its own, starting with `prefix`: not signed, signed by another key, a
 * forged trusted comment, a truncated file, the signature of another file, an altered file. The
 * signed size and file name that tell the last three apart come from the trusted comment osimg
 * writes, and are used only once its signature has verified.
 */
export async function checkSignature(
  path: string,
  shownName: string,
  accepted: AcceptedKeys,
  prefix: string,
): Promise<VerifiedSignature> {
  const signaturePath = signaturePathOf(path);
  const signatureName = `${basename(shownName)}.minisig`;
  let text: string;
  try {
    text = await Deno.readTextFile(signaturePath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new IntegrityError(
        `${prefix}: it is not signed (there is no ${signatureName} beside it), and a signature by ${accepted.source} is required`,
      );
    }
    throw new OsimgError(`${prefix}: cannot read ${signatureName}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let signature: MinisignSignature;
  try {
    signature = parseSignature(text, signatureName);
  } catch (error) {
    throw new IntegrityError(
      `${prefix}: ${signatureName} is not a minisign signature (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (signature.algorithm === "legacy") {
    throw new IntegrityError(
      `${prefix}: ${signatureName} is a legacy minisign signature (minisign -l), which osimg does not accept: it covers the whole file in memory; sign it with 'minisign -S' without -l or with 'osimg sign'`,
    );
  }
  const key = accepted.keys.find((candidate) => timingSafeEqual(candidate.keyId, signature.keyId));
  const signer = keyIdText(signature.keyId);
  if (!key) {
    const known = accepted.keys.map((candidate) => keyIdText(candidate.keyId)).join(", ");
    throw new IntegrityError(
      `${prefix}: it is signed by key ${signer}, not by ${accepted.source} (${known})`,
    );
  }
  const publicKey = edPublicKey(key);
  if (
    !verify(
      null,
      globalSignatureInput(signature.signature, signature.trustedComment),
      publicKey,
      signature.globalSignature,
    )
  ) {
    throw new IntegrityError(
      `${prefix}: the trusted comment in ${signatureName} is forged or damaged (its signature by key ${signer} does not verify)`,
    );
  }
  const hasher = new StreamHasher();
  try {
    for await (const chunk of fileChunks(path)) hasher.update(chunk);
  } catch (error) {
    throw new OsimgError(`${prefix}: ${(error as Error).message}`, { cause: error });
  }
  const digests = hasher.digests();
  if (verify(null, digests.blake2b512, publicKey, signature.signature)) {
    return { keyId: signer, trustedComment: signature.trustedComment };
  }
  // The comment is authentic now: what it says about the signed file explains the mismatch.
  const fields = parseTrustedComment(signature.trustedComment);
  const signedSize = Number(fields.get("size") ?? NaN);
  const signedFile = fields.get("file");
  if (Number.isSafeInteger(signedSize) && digests.size < signedSize) {
    throw new IntegrityError(
      `${prefix}: it is truncated: ${digests.size} bytes, but ${signedSize} were signed`,
    );
  }
  if (signedFile !== undefined && signedFile !== "" && signedFile !== basename(shownName)) {
    throw new IntegrityError(
      `${prefix}: ${signatureName} is the signature of another file ('${signedFile}'), not of this one`,
    );
  }
  const signedSha = fields.get("sha256");
  throw new IntegrityError(
    `${prefix}: it was altered after it was signed (the signature by key ${signer} does not match its contents${
      signedSha ? `: SHA-256 ${digests.sha256}, signed ${signedSha}` : ""
    })`,
  );
}
