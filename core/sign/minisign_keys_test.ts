import { deepStrictEqual as assertEquals, rejects as assertRejects } from "node:assert/strict";
import {
  generateKeyPair,
  openSecretKey,
  scryptParameters,
  SENSITIVE_LIMITS,
} from "./minisign_keys.ts";
import { keyIdText, parsePublicKey } from "../../formats/signature/minisign.ts";
import { run } from "../../testdata/support/process.ts";

Deno.test("scryptParameters maps libsodium's opslimit/memlimit to N, r, p as its pickparams does", () => {
  // SENSITIVE (what minisign -G stores): 1 GiB.
  assertEquals(scryptParameters(SENSITIVE_LIMITS.opsLimit, SENSITIVE_LIMITS.memLimit), {
    N: 2 ** 20,
    r: 8,
    p: 1,
  });
  // INTERACTIVE (524288, 16 MiB) and minisign's halving when memory is short.
  assertEquals(scryptParameters(524288, 16777216), { N: 2 ** 14, r: 8, p: 1 });
  assertEquals(scryptParameters(33554432 / 2, 1073741824 / 2), { N: 2 ** 19, r: 8, p: 1 });
  // opslimit below memlimit/32: N from opslimit, p 1; opslimit clamped to 32768.
  assertEquals(scryptParameters(1 << 20, 1 << 30), { N: 2 ** 15, r: 8, p: 1 });
  assertEquals(scryptParameters(0, 1 << 30), { N: 2 ** 10, r: 8, p: 1 });
});

Deno.test("an encrypted key made with small limits opens with its password and refuses another", async () => {
  const limits = { opsLimit: 524288, memLimit: 16777216 };
  const pair = generateKeyPair({ password: "pw", limits });
  const key = await openSecretKey(pair.secretKeyText, "k", () => Promise.resolve("pw"));
  assertEquals(keyIdText(key.keyId), pair.keyId);
  assertEquals(key.publicKey, parsePublicKey(pair.publicKeyText));
  await assertRejects(
    openSecretKey(pair.secretKeyText, "k", () => Promise.resolve("nope")),
    /k: wrong password for that key/,
  );
});

Deno.test("an unencrypted key whose secret half was damaged is refused", async () => {
  const pair = generateKeyPair();
  const lines = pair.secretKeyText.split("\n");
  const bytes = Uint8Array.from(atob(lines[1]!), (c) => c.charCodeAt(0));
  bytes[54 + 8 + 3]! ^= 1; // a seed byte
  const damaged = `${lines[0]}\n${btoa(String.fromCharCode(...bytes))}\n`;
  await assertRejects(
    openSecretKey(damaged, "k", () => Promise.reject(new Error("no password needed"))),
    /k is damaged: its checksum does not match/,
  );
});

Deno.test("a key file asking for absurd scrypt limits is refused before running scrypt", async () => {
  const pair = generateKeyPair({
    password: "pw",
    limits: { opsLimit: 524288, memLimit: 16777216 },
  });
  const lines = pair.secretKeyText.split("\n");
  const bytes = Uint8Array.from(atob(lines[1]!), (c) => c.charCodeAt(0));
  new DataView(bytes.buffer).setBigUint64(6 + 32, 2n ** 50n, true);
  new DataView(bytes.buffer).setBigUint64(6 + 40, 2n ** 50n, true);
  const hostile = `${lines[0]}\n${btoa(String.fromCharCode(...bytes))}\n`;
  await assertRejects(
    openSecretKey(hostile, "k", () => Promise.resolve("pw")),
    /k asks for scrypt parameters osimg will not run/,
  );
});

Deno.test("minisign decrypts keys osimg encrypted with other limits (both pickparams branches)", async () => {
  const directory = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${directory}/file`, "data\n");
    // memlimit/32 above opslimit (N from opslimit) and below it (N from memlimit, p from ops).
    for (
      const limits of [{ opsLimit: 524288, memLimit: 1 << 28 }, {
        opsLimit: 1 << 22,
        memLimit: 1 << 24,
      }]
    ) {
      const pair = generateKeyPair({ password: "pw", limits });
      await Deno.writeTextFile(`${directory}/k.key`, pair.secretKeyText);
      await Deno.writeTextFile(`${directory}/k.pub`, pair.publicKeyText);
      await run(["minisign", "-S", "-s", "k.key", "-m", "file"], {
        cwd: directory,
        stdin: new TextEncoder().encode("pw\n"),
      });
      await run(["minisign", "-Vm", "file", "-p", "k.pub"], { cwd: directory });
    }
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
