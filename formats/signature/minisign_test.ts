import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import {
  keyIdText,
  parsePublicKey,
  parseSecretKey,
  parseSignature,
  parseTrustedComment,
  serializePublicKey,
  serializeSecretKey,
  serializeSignature,
} from "./minisign.ts";

// Files made by minisign 0.11 (minisign -G -W -p u.pub -s u.key; minisign -S -s u.key -m f).
const PUB = "untrusted comment: minisign public key 5BD4104A4D8901B\n" +
  "RWQbkNikBEG9BboQBkBPK0Z1rzkSGH8TphomZ2XTqXHHmovJ1+qr9hvj\n";
const KEY = "untrusted comment: minisign encrypted secret key\n" +
  "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAG5DYpARBvQXGrpG/hA6Htl3oKAuahTvYixzvY2bbzVQw9OCA8L+pvroQBkBPK0Z1rzkSGH8TphomZ2XTqXHHmovJ1+qr9hvjAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
const SIG = "untrusted comment: signature from minisign secret key\n" +
  "RUQbkNikBEG9BU6gAPSEqsFztGVf5dn9sEbzVyqEL/iGJgkYY7bwwkTXlQZKknCwrae/hsYvmBUU427Y8iqJ2p8mxiyaPdZvEAU=\n" +
  "trusted comment: timestamp:1796472229\tfile:f\thashed\n" +
  "3ir5SkgJCFEwMlfAZ/uyoLXMw1DsFVrOgpjnc9Mo8za+8xUS7o7DDjF5Aok7KaiOJ+W3PXGmiy8gTX/5uQn8CA==\n";

Deno.test("minisign public key: a .pub file and the bare base64 key parse alike and serialize back byte for byte", () => {
  const key = parsePublicKey(PUB);
  assertEquals(keyIdText(key.keyId), "5BD4104A4D8901B"); // minisign prints no leading zero
  assertEquals(parsePublicKey(PUB.split("\n")[1]!), key);
  assertEquals(serializePublicKey(key), PUB);
});

Deno.test("minisign secret key: minisign -W's unencrypted key parses and serializes back byte for byte", () => {
  const file = parseSecretKey(KEY);
  assertEquals([file.kdf, file.opsLimit, file.memLimit], ["none", 0, 0]);
  assertEquals(file.keynumSecret.length, 104);
  assertEquals(keyIdText(file.keynumSecret.subarray(0, 8)), "5BD4104A4D8901B");
  assertEquals(serializeSecretKey(file), KEY);
});

Deno.test("minisign signature: a prehashed signature parses and serializes back byte for byte", () => {
  const signature = parseSignature(SIG);
  assertEquals(signature.algorithm, "prehashed");
  assertEquals(signature.trustedComment, "timestamp:1796472229\tfile:f\thashed");
  assertEquals(keyIdText(signature.keyId), "5BD4104A4D8901B");
  assertEquals(serializeSignature(signature), SIG);
  assertEquals(parseTrustedComment(signature.trustedComment).get("file"), "f");
});

Deno.test("minisign formats: malformed keys and signatures are refused with what is wrong", () => {
  assertThrows(() => parsePublicKey("RWQ!notbase64"), /The public key is not valid base64/);
  assertThrows(
    () => parsePublicKey("RWQbkNik"),
    /is not a minisign public key \(6 bytes, not 42\)/,
  );
  assertThrows(
    () => parsePublicKey(btoa("Xx" + "\0".repeat(40))),
    /unsupported signature algorithm/,
  );
  assertThrows(
    () => parseSecretKey(KEY.split("\n")[1]!),
    /does not start with an "untrusted comment: " line/,
  );
  assertThrows(
    () => parseSecretKey(KEY.replace("RWQAAEIy", "RWQAAEIz")),
    /unsupported checksum function/,
  );
  assertThrows(
    () => parseSignature(SIG.replace(/^trusted comment: /m, "comment: ")),
    /has no "trusted comment: " line/,
  );
  assertThrows(
    () => parseSignature(SIG.split("\n").slice(0, 3).join("\n")),
    /has no valid comment signature line/,
  );
});
