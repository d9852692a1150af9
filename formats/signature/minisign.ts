// minisign's file formats: public key, secret key and signature files, parsed and serialized (no crypto here).
//
// Layouts (https://jedisct1.github.io/minisign/, checked against minisign 0.11):
//   public key  "untrusted comment: ..." line, then base64 of "Ed" || key id (8) || Ed25519 pk (32)
//   secret key  comment line, then base64 of "Ed" || kdf ("Sc" scrypt or "\0\0" none) || "B2" ||
//               salt (32) || opslimit (u64 le) || memlimit (u64 le) || [key id (8) || Ed25519 sk
//               (64) || checksum (32)], the bracket XORed with the scrypt stream when kdf is "Sc";
//               checksum = BLAKE2b-256("Ed" || key id || sk)
//   signature   comment line; base64 of "ED" (Ed25519 over BLAKE2b-512 of the file; "Ed" is the
//               legacy form over the file itself) || key id || signature (64); "trusted comment: "
//               line; base64 of the global signature, Ed25519 over signature || trusted comment.

import { InvalidInputError } from "../../core/errors.ts";

export const KEY_ID_BYTES = 8;
const PUBLIC_KEY_BYTES = 32;
const SECRET_KEY_BYTES = 64;
const SALT_BYTES = 32;
const CHECKSUM_BYTES = 32;
const SIGNATURE_BYTES = 64;
/** The encrypted part of a secret key: key id, secret key, checksum. */
export const KEYNUM_SECRET_BYTES = KEY_ID_BYTES + SECRET_KEY_BYTES + CHECKSUM_BYTES;
const UNTRUSTED_PREFIX = "untrusted comment: ";
const TRUSTED_PREFIX = "trusted comment: ";
/** minisign's limits (minisign.h): a longer line is cut by its fgets. */
const COMMENT_MAX_BYTES = 1024;
const TRUSTED_COMMENT_MAX_BYTES = 8192;

/** A public key: what verifies a signature. */
export interface MinisignPublicKey {
  keyId: Uint8Array;
  publicKey: Uint8Array;
}

/** A secret key file as stored: the key part still encrypted when `kdf` is "scrypt". */
export interface MinisignSecretKeyFile {
  kdf: "scrypt" | "none";
  salt: Uint8Array;
  /** scrypt's opslimit and memlimit as libsodium takes them (0 when kdf is "none"). */
  opsLimit: number;
  memLimit: number;
  /** key id || secret key || checksum, XORed with the scrypt stream when kdf is "scrypt". */
  keynumSecret: Uint8Array;
}

/** A signature file. */
export interface MinisignSignature {
  untrustedComment: string;
  /** "prehashed" ("ED", over BLAKE2b-512 of the file) or "legacy" ("Ed", over the file). */
  algorithm: "prehashed" | "legacy";
  keyId: Uint8Array;
  signature: Uint8Array;
  trustedComment: string;
  /** Ed25519 over `signature || trustedComment`. */
  globalSignature: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * A key id as minisign prints it: the 8 bytes as a little-endian integer in upper-case hex,
 * without leading zeros (minisign's "%" PRIX64).
 *
 * @example
 * ```ts
 * keyIdText(new Uint8Array([0x1b, 0x90, 0xd8, 0xa4, 0x04, 0x41, 0xbd, 0x05])); // "5BD4104A4D8901B"
 * ```
 */
export function keyIdText(keyId: Uint8Array): string {
  let value = 0n;
  for (let index = keyId.length - 1; index >= 0; index--) {
    value = (value << 8n) | BigInt(keyId[index]!);
  }
  return value.toString(16).toUpperCase();
}

function fromBase64(text: string, what: string): Uint8Array {
  // libsodium's sodium_base642bin with VARIANT_ORIGINAL: standard alphabet, padding required.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new InvalidInputError(`${what} is not valid base64`);
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function ascii(bytes: Uint8Array, from: number): string {
  return String.fromCharCode(bytes[from]!, bytes[from + 1]!);
}

function readU64(bytes: Uint8Array, offset: number): number {
  const value = new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InvalidInputError(`scrypt limit ${value} is out of range`);
  }
  return Number(value);
}

function writeU64(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  return bytes;
}

/** The lines of a key or signature file (CR LF tolerated: minisign's trim() removes CR too). */
function lines(text: string): string[] {
  return text.split("\n").map((line) => line.replace(/\r$/, ""));
}

function untrustedComment(line: string | undefined, what: string): string {
  if (line === undefined || !line.startsWith(UNTRUSTED_PREFIX)) {
    throw new InvalidInputError(`${what} does not start with an "${UNTRUSTED_PREFIX}" line`);
  }
  if (encoder.encode(line).length >= COMMENT_MAX_BYTES) {
    throw new InvalidInputError(`${what} has an untrusted comment longer than minisign reads`);
  }
  return line.slice(UNTRUSTED_PREFIX.length);
}

/**
 * A public key from a minisign `.pub` file's text, or from the bare base64 key (what
 * `minisign -P` takes).
 *
 * @example
 * ```ts
 * const key = parsePublicKey("RWQbkNikBEG9BboQBkBPK0Z1rzkSGH8TphomZ2XTqXHHmovJ1+qr9hvj");
 * keyIdText(key.keyId); // "5BD4104A4D8901B"
 * ```
 */
export function parsePublicKey(text: string, what = "The public key"): MinisignPublicKey {
  const trimmed = text.trim();
  let encoded = trimmed;
  if (trimmed.startsWith(UNTRUSTED_PREFIX)) {
    const [, second] = lines(trimmed);
    encoded = (second ?? "").trim();
  }
  const bytes = fromBase64(encoded, what);
  if (bytes.length !== 2 + KEY_ID_BYTES + PUBLIC_KEY_BYTES) {
    throw new InvalidInputError(
      `${what} is not a minisign public key (${bytes.length} bytes, not ${
        2 + KEY_ID_BYTES + PUBLIC_KEY_BYTES
      })`,
    );
  }
  if (ascii(bytes, 0) !== "Ed") {
    throw new InvalidInputError(`${what} uses an unsupported signature algorithm`);
  }
  return {
    keyId: bytes.slice(2, 2 + KEY_ID_BYTES),
    publicKey: bytes.slice(2 + KEY_ID_BYTES),
  };
}

/** The base64 line of a public key (what `minisign -P` takes). */
export function publicKeyBase64(key: MinisignPublicKey): string {
  return toBase64(concat(encoder.encode("Ed"), key.keyId, key.publicKey));
}

/** A `.pub` file as minisign writes it. */
export function serializePublicKey(key: MinisignPublicKey): string {
  return `${UNTRUSTED_PREFIX}minisign public key ${keyIdText(key.keyId)}\n${
    publicKeyBase64(key)
  }\n`;
}

/** A secret key file's fields; decrypting the key part is core's (it needs scrypt). */
export function parseSecretKey(text: string, what = "The secret key"): MinisignSecretKeyFile {
  const [first, second] = lines(text);
  untrustedComment(first, what);
  const bytes = fromBase64((second ?? "").trim(), what);
  const expected = 6 + SALT_BYTES + 16 + KEYNUM_SECRET_BYTES;
  if (bytes.length !== expected) {
    throw new InvalidInputError(
      `${what} is not a minisign secret key (${bytes.length} bytes, not ${expected})`,
    );
  }
  if (ascii(bytes, 0) !== "Ed") {
    throw new InvalidInputError(`${what} uses an unsupported signature algorithm`);
  }
  const kdf = ascii(bytes, 2);
  if (kdf !== "Sc" && kdf !== "\0\0") {
    throw new InvalidInputError(`${what} uses an unsupported key derivation function`);
  }
  if (ascii(bytes, 4) !== "B2") {
    throw new InvalidInputError(`${what} uses an unsupported checksum function`);
  }
  let offset = 6;
  const salt = bytes.slice(offset, offset += SALT_BYTES);
  const opsLimit = readU64(bytes, offset);
  const memLimit = readU64(bytes, offset + 8);
  offset += 16;
  return {
    kdf: kdf === "Sc" ? "scrypt" : "none",
    salt,
    opsLimit,
    memLimit,
    keynumSecret: bytes.slice(offset),
  };
}

/** A secret key file as minisign writes it (its comment says "encrypted" even when it is not). */
export function serializeSecretKey(file: MinisignSecretKeyFile): string {
  const bytes = concat(
    encoder.encode("Ed"),
    file.kdf === "scrypt" ? encoder.encode("Sc") : new Uint8Array(2),
    encoder.encode("B2"),
    file.salt,
    writeU64(file.opsLimit),
    writeU64(file.memLimit),
    file.keynumSecret,
  );
  return `${UNTRUSTED_PREFIX}minisign encrypted secret key\n${toBase64(bytes)}\n`;
}

/** The bytes minisign's key checksum covers: "Ed" || key id || secret key. */
export function secretKeyChecksumInput(keyId: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return concat(encoder.encode("Ed"), keyId, secretKey);
}

/** The decrypted key part split into key id, 64-byte secret key (seed || pk) and checksum. */
export function splitKeynumSecret(
  keynumSecret: Uint8Array,
): { keyId: Uint8Array; secretKey: Uint8Array; checksum: Uint8Array } {
  return {
    keyId: keynumSecret.slice(0, KEY_ID_BYTES),
    secretKey: keynumSecret.slice(KEY_ID_BYTES, KEY_ID_BYTES + SECRET_KEY_BYTES),
    checksum: keynumSecret.slice(KEY_ID_BYTES + SECRET_KEY_BYTES),
  };
}

/** A signature file's fields. */
export function parseSignature(text: string, what = "The signature"): MinisignSignature {
  const all = lines(text);
  const comment = untrustedComment(all[0], what);
  const signatureBytes = fromBase64((all[1] ?? "").trim(), `${what}'s signature line`);
  if (signatureBytes.length !== 2 + KEY_ID_BYTES + SIGNATURE_BYTES) {
    throw new InvalidInputError(`${what} has no valid signature line`);
  }
  const algorithm = ascii(signatureBytes, 0);
  if (algorithm !== "ED" && algorithm !== "Ed") {
    throw new InvalidInputError(`${what} uses an unsupported signature algorithm`);
  }
  const trustedLine = all[2];
  if (trustedLine === undefined || !trustedLine.startsWith(TRUSTED_PREFIX)) {
    throw new InvalidInputError(`${what} has no "${TRUSTED_PREFIX}" line`);
  }
  if (encoder.encode(trustedLine).length >= TRUSTED_COMMENT_MAX_BYTES) {
    throw new InvalidInputError(`${what} has a trusted comment longer than minisign reads`);
  }
  const globalSignature = fromBase64((all[3] ?? "").trim(), `${what}'s comment signature line`);
  if (globalSignature.length !== SIGNATURE_BYTES) {
    throw new InvalidInputError(`${what} has no valid comment signature line`);
  }
  return {
    untrustedComment: comment,
    algorithm: algorithm === "ED" ? "prehashed" : "legacy",
    keyId: signatureBytes.slice(2, 2 + KEY_ID_BYTES),
    signature: signatureBytes.slice(2 + KEY_ID_BYTES),
    // minisign's trim() removes only CR and LF (lines() did), so spaces stay part of it.
    trustedComment: trustedLine.slice(TRUSTED_PREFIX.length),
    globalSignature,
  };
}

/** A `.minisig` file as minisign writes it. */
export function serializeSignature(signature: MinisignSignature): string {
  const algorithm = signature.algorithm === "prehashed" ? "ED" : "Ed";
  const line = toBase64(concat(encoder.encode(algorithm), signature.keyId, signature.signature));
  return `${UNTRUSTED_PREFIX}${signature.untrustedComment}\n${line}\n` +
    `${TRUSTED_PREFIX}${signature.trustedComment}\n${toBase64(signature.globalSignature)}\n`;
}

/** What the comment signature covers: signature || trusted comment (UTF-8). */
export function globalSignatureInput(signature: Uint8Array, trustedComment: string): Uint8Array {
  return concat(signature, encoder.encode(trustedComment));
}

/**
 * A trusted comment's tab-separated `name:value` fields (minisign's own default is
 * `timestamp:<t>\tfile:<name>\thashed`); a field without ':' maps to "".
 *
 * @example
 * ```ts
 * parseTrustedComment("file:a.tgz\tsha256:ab12").get("file"); // "a.tgz"
 * ```
 */
export function parseTrustedComment(comment: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const field of comment.split("\t")) {
    const colon = field.indexOf(":");
    if (colon < 0) fields.set(field, "");
    else fields.set(field.slice(0, colon), field.slice(colon + 1));
  }
  return fields;
}

/** Trusted comment fields as `name:value`, tab-separated; tabs and newlines in values become spaces. */
export function serializeTrustedComment(fields: ReadonlyArray<[string, string]>): string {
  return fields.map(([name, value]) => `${name}:${value.replace(/[\t\r\n]/g, " ")}`).join("\t");
}
