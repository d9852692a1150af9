// minisign-compatible Ed25519 keys: generating a pair, scrypt-encrypting the secret key as minisign does, and loading keys named on the command line or in site.osimgtrustedkeys.

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  scryptSync,
  timingSafeEqual,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { resolve } from "node:path";
import { blake2b } from "../../formats/signature/blake2b.ts";
import {
  keyIdText,
  KEYNUM_SECRET_BYTES,
  type MinisignPublicKey,
  type MinisignSecretKeyFile,
  parsePublicKey,
  parseSecretKey,
  secretKeyChecksumInput,
  serializePublicKey,
  serializeSecretKey,
  splitKeynumSecret,
} from "../../formats/signature/minisign.ts";
import { InvalidInputError, NotFoundError, OsimgError } from "../errors.ts";

/** A secret key, decrypted and ready to sign. */
export interface SigningKey {
  keyId: Uint8Array;
  privateKey: KeyObject;
  publicKey: MinisignPublicKey;
}

/**
 * libsodium's crypto_pwhash_scryptsalsa208sha256 OPSLIMIT_SENSITIVE and MEMLIMIT_SENSITIVE, what
 * `minisign -G` stores: scrypt with N = 2^20, r = 8, p = 1 (1 GiB, a few seconds), so a stolen
 * key file resists guessing as well as one minisign made.
 */
export const SENSITIVE_LIMITS = { opsLimit: 33_554_432, memLimit: 1_073_741_824 } as const;

/** scrypt's N, r, p for libsodium's opslimit and memlimit (its pickparams). */
export function scryptParameters(
  opsLimit: number,
  memLimit: number,
): { N: number; r: number; p: number } {
  const ops = Math.max(opsLimit, 32768);
  const r = 8;
  let logN = 1;
  if (ops < memLimit / 32) {
    const maxN = Math.floor(ops / (r * 4));
    while (logN < 63 && 2 ** logN <= Math.floor(maxN / 2)) logN++;
    return { N: 2 ** logN, r, p: 1 };
  }
  const maxN = Math.floor(memLimit / (r * 128));
  while (logN < 63 && 2 ** logN <= Math.floor(maxN / 2)) logN++;
  const maxrp = Math.min(Math.floor(Math.floor(ops / 4) / 2 ** logN), 0x3fffffff);
  return { N: 2 ** logN, r, p: Math.floor(maxrp / r) };
}

/** The scrypt stream minisign XORs the key id, secret key and checksum with. */
function keyStream(
  password: string,
  file: Pick<MinisignSecretKeyFile, "salt" | "opsLimit" | "memLimit">,
  what: string,
): Uint8Array {
  const { N, r, p } = scryptParameters(file.opsLimit, file.memLimit);
  // Real minisign keys need 1 GiB; anything far past that is a hostile file, not a key.
  if (p < 1 || N > 2 ** 24 || r * p > 64) {
    throw new InvalidInputError(
      `${what} asks for scrypt parameters osimg will not run (N=${N}, r=${r}, p=${p})`,
    );
  }
  try {
    return new Uint8Array(
      scryptSync(password, file.salt, KEYNUM_SECRET_BYTES, {
        N,
        r,
        p,
        maxmem: 129 * N * r + 128 * r * p + (1 << 20),
      }),
    );
  } catch (error) {
    throw new OsimgError(`${what}: scrypt failed: ${(error as Error).message}`, { cause: error });
  }
}

function xorInto(target: Uint8Array, stream: Uint8Array): void {
  for (let index = 0; index < target.length; index++) {
    target[index] = target[index]! ^ stream[index]!;
  }
}

const base64url = (text: string) => new Uint8Array(Buffer.from(text, "base64url"));

/** An Ed25519 private key from its 32-byte seed (PKCS#8: the fixed prefix, then the seed). */
function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  const prefix = Buffer.from("302e020100300506032b657004220420", "hex");
  return createPrivateKey({ key: Buffer.concat([prefix, seed]), format: "der", type: "pkcs8" });
}

/** The raw 32-byte Ed25519 public key of a key object. */
function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = createPublicKey(key).export({ format: "jwk" });
  return base64url(jwk.x!);
}

/** A new key pair, as the texts of its `.pub` and `.key` files. */
export interface GeneratedKeyPair {
  publicKeyText: string;
  secretKeyText: string;
  keyId: string;
}

/**
 * A new Ed25519 key pair in minisign's formats. With a password the secret key is encrypted as
 * `minisign -G` does (scrypt with `limits`, XOR, BLAKE2b-256 checksum inside); without one it is
 * stored as `minisign -G -W` stores it (kdf "\0\0", salt and limits zero), except that the
 * checksum is filled in (minisign leaves it zero and ignores it).
 *
 * @example
 * ```ts
 * const pair = generateKeyPair({ password: "correct horse" });
 * await Deno.writeTextFile("osimg.pub", pair.publicKeyText);
 * ```
 */
export function generateKeyPair(
  options: { password?: string; limits?: { opsLimit: number; memLimit: number } } = {},
): GeneratedKeyPair {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const seed = base64url(jwk.d!);
  const publicKey = base64url(jwk.x!);
  const keyId = new Uint8Array(randomBytes(8));
  const secretKey = new Uint8Array(64);
  secretKey.set(seed);
  secretKey.set(publicKey, 32);
  const checksum = blake2b(secretKeyChecksumInput(keyId, secretKey), 32);
  const keynumSecret = new Uint8Array(KEYNUM_SECRET_BYTES);
  keynumSecret.set(keyId);
  keynumSecret.set(secretKey, 8);
  keynumSecret.set(checksum, 72);
  let file: MinisignSecretKeyFile;
  if (options.password === undefined) {
    file = { kdf: "none", salt: new Uint8Array(32), opsLimit: 0, memLimit: 0, keynumSecret };
  } else {
    const limits = options.limits ?? SENSITIVE_LIMITS;
    file = { kdf: "scrypt", salt: new Uint8Array(randomBytes(32)), ...limits, keynumSecret };
    xorInto(keynumSecret, keyStream(options.password, file, "The new secret key"));
  }
  return {
    publicKeyText: serializePublicKey({ keyId, publicKey }),
    secretKeyText: serializeSecretKey(file),
    keyId: keyIdText(keyId),
  };
}

/**
 * Decrypts a secret key file. `password` is asked for only when the key is encrypted; a wrong
 * password (the checksum does not match) is refused, as minisign refuses it.
 */
export async function openSecretKey(
  text: string,
  what: string,
  password: () => Promise<string>,
): Promise<SigningKey> {
  const file = parseSecretKey(text, what);
  const keynumSecret = file.keynumSecret.slice();
  if (file.kdf === "scrypt") xorInto(keynumSecret, keyStream(await password(), file, what));
  const { keyId, secretKey, checksum } = splitKeynumSecret(keynumSecret);
  const expected = blake2b(secretKeyChecksumInput(keyId, secretKey), 32);
  // `minisign -G -W` leaves an unencrypted key's checksum zero and never checks it; osimg
  // writes the real one, and checks it when there is one.
  const unchecked = file.kdf === "none" && checksum.every((byte) => byte === 0);
  if (!unchecked && !timingSafeEqual(expected, checksum)) {
    throw new InvalidInputError(
      file.kdf === "scrypt"
        ? `${what}: wrong password for that key`
        : `${what} is damaged: its checksum does not match`,
    );
  }
  const privateKey = privateKeyFromSeed(secretKey.subarray(0, 32));
  const publicKey = rawPublicKey(privateKey);
  // libsodium keeps the public key in the secret key's second half; a mismatch is a damaged file.
  if (!timingSafeEqual(publicKey, secretKey.subarray(32))) {
    throw new InvalidInputError(`${what} is damaged: its public half does not match its seed`);
  }
  return { keyId, privateKey, publicKey: { keyId, publicKey } };
}

/** Reads a secret key file (a path relative to `cwd`) and decrypts it. */
export async function loadSecretKey(
  cwd: string,
  path: string,
  password: () => Promise<string>,
): Promise<SigningKey> {
  let text: string;
  try {
    text = await Deno.readTextFile(resolve(cwd, path));
  } catch (error) {
    throw new NotFoundError(`Cannot read the secret key ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return await openSecretKey(text, `The secret key ${path}`, password);
}

/** What a bare base64 public key (minisign -P) looks like: "Ed" || id || key, 42 bytes. */
const BASE64_PUBLIC_KEY = /^RW[A-Za-z0-9+/]{54}$/;

/**
 * A public key given as minisign's base64 string (`minisign -P`) or as a `.pub` file (a path
 * resolved by `hostPath`: relative to the current directory on the command line, under the root
 * in site.osimgtrustedkeys).
 */
export async function loadPublicKey(
  value: string,
  hostPath: (path: string) => string,
  where: string,
): Promise<MinisignPublicKey> {
  const trimmed = value.trim();
  if (BASE64_PUBLIC_KEY.test(trimmed)) return parsePublicKey(trimmed, `${where} '${trimmed}'`);
  let text: string;
  try {
    text = await Deno.readTextFile(hostPath(trimmed));
  } catch (error) {
    throw new NotFoundError(
      `${where} '${trimmed}' is neither a minisign public key (RW...) nor a readable file: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  return parsePublicKey(text, `${where} file '${trimmed}'`);
}
