// Signatures end to end: keygen, sign, imgexport/snapshot --sign, verify and imgimport --pubkey,
// site.osimgtrustedkeys; round trips with Debian's minisign both ways; each refusal with its
// own message and nothing changed.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { makeBundle, netbootFiles, rootState, sha256 } from "../testdata/support/bundle_testing.ts";
import {
  assertGolden,
  snapshotTree,
  type TestRoot,
  testRoot,
} from "../testdata/support/testing.ts";
import { runTool } from "../testdata/support/process.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";
const PASSWORD = "correct horse battery staple";

/** minisign run in the test root; fails the test when it exits non-zero unless `allowFailure`. */
async function minisign(
  t: TestRoot,
  args: string[],
  options: { stdin?: string; allowFailure?: boolean } = {},
) {
  const output = await runTool("minisign", args, {
    cwd: t.root,
    stdin: options.stdin === undefined ? undefined : new TextEncoder().encode(options.stdin),
  });
  if (output.code !== 0 && !options.allowFailure) {
    throw new Error(`minisign ${args.join(" ")} exited ${output.code}: ${output.stderr}`);
  }
  return output;
}

/** A root with an osimg bundle `b.tgz` (SHA256SUMS included) and an unencrypted key pair `k`. */
async function signedSetup(): Promise<TestRoot> {
  const t = await testRoot();
  await makeBundle(`${t.root}/b.tgz`, { files: netbootFiles(), sums: true });
  await t.ok(["keygen", "-o", "k", "--no-password"]);
  // The database exists before the "nothing changed" snapshots (an import opens it).
  await t.ok(["mkdef", "-t", "node", "-o", "cn01", "groups=all"]);
  return t;
}

/** The base64 key line of a .pub file. */
async function publicKeyLine(path: string): Promise<string> {
  return (await Deno.readTextFile(path)).split("\n")[1]!;
}

/** Runs a refused imgimport: the message, exit status 1, and the root (files, rows) unchanged. */
async function assertImportRefused(t: TestRoot, args: string[], message: string): Promise<void> {
  const before = await rootState(t);
  const output = await t.run(["imgimport", ...args]);
  assertEquals({ status: output.status, stderr: output.stderr }, {
    status: 1,
    stderr: `Error: ${message}\n`,
  });
  assertEquals(await rootState(t), before);
}

Deno.test("keygen --no-password: minisign.key (0600) and minisign.pub that minisign signs and verifies with", async () => {
  await using t = await testRoot();
  const output = await t.ok(["keygen", "--no-password"]);
  ok(output.stdout.includes(`The secret key was saved as ${t.root}/minisign.key (not encrypted)`));
  assertEquals((await Deno.stat(`${t.root}/minisign.key`)).mode! & 0o777, 0o600);
  const pub = await Deno.readTextFile(`${t.root}/minisign.pub`);
  ok(
    /^untrusted comment: minisign public key [0-9A-F]{1,16}\nRW[A-Za-z0-9+/]{54}\n$/.test(pub),
    pub,
  );
  await Deno.writeTextFile(`${t.root}/file`, "data\n");
  await minisign(t, ["-S", "-s", "minisign.key", "-m", "file"]);
  const verified = await minisign(t, ["-V", "-m", "file"]); // ./minisign.pub by default
  ok(verified.stdout.includes("Signature and comment signature verified"), verified.stdout);
});

Deno.test("keygen refuses to replace an existing key without -f, and changes nothing", async () => {
  await using t = await testRoot();
  await t.ok(["keygen", "-o", "k", "--no-password"]);
  const before = await snapshotTree(t.root);
  const output = await t.run(["keygen", "-o", "k", "--no-password"]);
  assertEquals(output.status, 1);
  assertEquals(
    output.stderr,
    `Error: The key file ${t.root}/k.key already exists; use -f to replace it\n`,
  );
  assertEquals(await snapshotTree(t.root), before);
  await t.ok(["keygen", "-o", "k", "--no-password", "-f"]);
  ok((await snapshotTree(t.root)).join() !== before.join());
});

Deno.test("keygen without --no-password, OSIMG_KEY_PASSWORD or a terminal says how to give a password", async () => {
  await using t = await testRoot();
  const output = await t.run(["keygen", "-o", "k"]);
  assertEquals(output.status, 2);
  assertEquals(
    output.stderr,
    `Error: The new secret key ${t.root}/k.key needs a password: set OSIMG_KEY_PASSWORD, or run osimg on a terminal (or use --no-password for a key without one)\n`,
  );
  assertEquals(await snapshotTree(t.root), []);
});

Deno.test("keygen with a password: minisign -S decrypts the key and osimg verifies what it signed", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/b.tgz`, { files: netbootFiles(), sums: true });
  await t.ok(["keygen", "-o", "enc"], { env: { OSIMG_KEY_PASSWORD: PASSWORD } });
  ok((await Deno.readTextFile(`${t.root}/enc.key`)).split("\n")[1]!.startsWith("RWRTY0Iy")); // "EdScB2"
  await minisign(t, ["-S", "-s", "enc.key", "-m", "b.tgz"], { stdin: `${PASSWORD}\n` });
  const output = await t.ok(["verify", "b.tgz", "--pubkey", "enc.pub"]);
  ok(output.stdout.startsWith("Signature verified: key "), output.stdout);
  ok(output.stdout.includes('\thashed"\n'), output.stdout); // minisign's own trusted comment
});

Deno.test("a key made by minisign -G (encrypted, password on stdin) signs with osimg; minisign verifies", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/b.tgz`, { files: netbootFiles(), sums: true });
  await minisign(t, ["-G", "-p", "m.pub", "-s", "m.key"], { stdin: `${PASSWORD}\n${PASSWORD}\n` });
  const wrong = await t.run(["sign", "b.tgz", "--key", "m.key"], {
    env: { OSIMG_KEY_PASSWORD: "not it" },
  });
  assertEquals(wrong.stderr, "Error: The secret key m.key: wrong password for that key\n");
  assertEquals((await snapshotTree(t.root)).filter((line) => line.includes("minisig")), []);
  await t.ok(["sign", "b.tgz", "--key", "m.key"], { env: { OSIMG_KEY_PASSWORD: PASSWORD } });
  const verified = await minisign(t, ["-Vm", "b.tgz", "-p", "m.pub"]);
  ok(verified.stdout.includes(`image:${IMAGE}\tosimg:0.1.0\tsize:`), verified.stdout);
});

Deno.test("a key made by minisign -G -W signs with osimg; minisign -S with osimg's -W key is verified by osimg", async () => {
  await using t = await signedSetup();
  await minisign(t, ["-G", "-W", "-p", "m.pub", "-s", "m.key"]);
  await t.ok(["sign", "b.tgz", "--key", "m.key"]);
  await minisign(t, ["-Vm", "b.tgz", "-p", "m.pub"]);
  // And the other way: minisign signs with the key osimg made, osimg verifies (-P style key).
  await minisign(t, ["-S", "-s", "k.key", "-m", "b.tgz"]);
  await t.ok(["verify", "b.tgz", "--pubkey", await publicKeyLine(`${t.root}/k.pub`)]);
});

Deno.test("imgexport --sign: <bundle>.minisig that minisign verifies, in minisign's shape (golden)", async () => {
  await using t = await signedSetup();
  await t.ok(["imgimport", "b.tgz"]);
  const output = await t.ok(["imgexport", IMAGE, "out.tgz", "--sign", "k.key"], {
    env: { SOURCE_DATE_EPOCH: "1700000000" },
  });
  ok(output.stdout.endsWith(`Done!\nSigned: ${t.root}/out.tgz.minisig\n`), output.stdout);
  const verified = await minisign(t, ["-Vm", "out.tgz", "-p", "k.pub"]);
  ok(verified.stdout.includes("Signature and comment signature verified"), verified.stdout);
  const bundle = await Deno.readFile(`${t.root}/out.tgz`);
  const text = await Deno.readTextFile(`${t.root}/out.tgz.minisig`);
  const lines = text.split("\n");
  const decoded = (line: string) => Uint8Array.from(atob(line), (c) => c.charCodeAt(0));
  assertEquals(decoded(lines[1]!).length, 2 + 8 + 64);
  assertEquals(String.fromCharCode(...decoded(lines[1]!).subarray(0, 2)), "ED"); // prehashed
  assertEquals(decoded(lines[3]!).length, 64);
  const shape = text.replace(lines[1]!, "<ED || key id || signature, base64>")
    .replace(lines[3]!, "<comment signature, base64>")
    .replace(sha256(bundle), "<sha256 of out.tgz>")
    .replace(`size:${bundle.length}\t`, "size:<bytes>\t");
  await assertGolden("sign/imgexport_minisig.txt", shape);
});

Deno.test("imgexport --sign with a wrong password writes nothing", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/b.tgz`, { files: netbootFiles(), sums: true });
  await t.ok(["imgimport", "b.tgz"]);
  await minisign(t, ["-G", "-p", "m.pub", "-s", "m.key"], { stdin: `${PASSWORD}\n${PASSWORD}\n` });
  const before = await snapshotTree(t.root);
  const output = await t.run(["imgexport", IMAGE, "out.tgz", "--sign", "m.key"], {
    env: { OSIMG_KEY_PASSWORD: "wrong" },
  });
  assertEquals(output.stderr, "Error: The secret key m.key: wrong password for that key\n");
  assertEquals(await snapshotTree(t.root), before);
});

Deno.test("imgexport without --sign removes the stale signature of the bundle it replaces", async () => {
  await using t = await signedSetup();
  await t.ok(["imgimport", "b.tgz"]);
  await t.ok(["imgexport", IMAGE, "out.tgz", "--sign", "k.key"]);
  await t.ok(["imgexport", IMAGE, "out.tgz"]);
  assertEquals(await Deno.stat(`${t.root}/out.tgz.minisig`).then(() => true, () => false), false);
});

Deno.test("sign: signs an existing bundle; the trusted comment names file, image, version, size, SHA-256", async () => {
  await using t = await signedSetup();
  const output = await t.ok(["sign", "b.tgz", "--key", "k.key"]);
  const bundle = await Deno.readFile(`${t.root}/b.tgz`);
  const comment = `file:b.tgz\timage:${IMAGE}\tosimg:0.1.0\tsize:${bundle.length}\tsha256:${
    sha256(bundle)
  }`;
  assertEquals(
    output.stdout,
    `Signed b.tgz: ${t.root}/b.tgz.minisig\n  trusted comment: ${comment}\n`,
  );
  const verified = await minisign(t, ["-Vm", "b.tgz", "-p", "k.pub", "-Q"]);
  assertEquals(verified.stdout, `${comment}\n`);
});

Deno.test("imgimport --pubkey: a bundle signed by that key imports, saying so", async () => {
  await using t = await signedSetup();
  await t.ok(["sign", "b.tgz", "--key", "k.key"]);
  const output = await t.ok(["imgimport", "b.tgz", "--pubkey", "k.pub"]);
  ok(output.stdout.startsWith("Signature verified: key "), output.stdout);
  ok(output.stdout.includes(`Successfully imported the image ${IMAGE}.`), output.stdout);
});

Deno.test("imgimport --pubkey refuses an unsigned bundle, changing nothing", async () => {
  await using t = await signedSetup();
  await assertImportRefused(
    t,
    ["b.tgz", "--pubkey", "k.pub"],
    'Cannot import bundle "b.tgz": it is not signed (there is no b.tgz.minisig beside it), and a signature by the key given with --pubkey is required',
  );
});

Deno.test("imgimport --pubkey refuses a bundle signed by another key, changing nothing", async () => {
  await using t = await signedSetup();
  await t.ok(["keygen", "-o", "other", "--no-password"]);
  await t.ok(["sign", "b.tgz", "--key", "other.key"]);
  const signer = (await Deno.readTextFile(`${t.root}/other.pub`)).split("\n")[0]!.split(" ").pop();
  const expected = (await Deno.readTextFile(`${t.root}/k.pub`)).split("\n")[0]!.split(" ").pop();
  await assertImportRefused(
    t,
    ["b.tgz", "--pubkey", "k.pub"],
    `Cannot import bundle "b.tgz": it is signed by key ${signer}, not by the key given with --pubkey (${expected})`,
  );
});

Deno.test("imgimport --pubkey refuses a bundle with one flipped byte, changing nothing", async () => {
  await using t = await signedSetup();
  await t.ok(["sign", "b.tgz", "--key", "k.key"]);
  const bytes = await Deno.readFile(`${t.root}/b.tgz`);
  const original = sha256(bytes);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  await Deno.writeFile(`${t.root}/b.tgz`, bytes);
  const keyId = (await Deno.readTextFile(`${t.root}/k.pub`)).split("\n")[0]!.split(" ").pop();
  await assertImportRefused(
    t,
    ["b.tgz", "--pubkey", "k.pub"],
    `Cannot import bundle "b.tgz": it was altered after it was signed (the signature by key ${keyId} does not match its contents: SHA-256 ${
      sha256(bytes)
    }, signed ${original})`,
  );
});

Deno.test("imgimport --pubkey refuses a truncated bundle, changing nothing", async () => {
  await using t = await signedSetup();
  await t.ok(["sign", "b.tgz", "--key", "k.key"]);
  const bytes = await Deno.readFile(`${t.root}/b.tgz`);
  await Deno.writeFile(`${t.root}/b.tgz`, bytes.subarray(0, bytes.length - 100));
  await assertImportRefused(
    t,
    ["b.tgz", "--pubkey", "k.pub"],
    `Cannot import bundle "b.tgz": it is truncated: ${
      bytes.length - 100
    } bytes, but ${bytes.length} were signed`,
  );
});

Deno.test("imgimport --pubkey refuses the signature of another file, changing nothing", async () => {
  await using t = await signedSetup();
  await makeBundle(`${t.root}/other.tgz`, {
    files: { ...netbootFiles(), [`${IMAGE}/kernel`]: "another kernel\n" },
    sums: true,
  });
  await t.ok(["sign", "other.tgz", "--key", "k.key"]);
  await Deno.copyFile(`${t.root}/other.tgz.minisig`, `${t.root}/b.tgz.minisig`);
  await assertImportRefused(
    t,
    ["b.tgz", "--pubkey", "k.pub"],
    `Cannot import bundle "b.tgz": b.tgz.minisig is the signature of another file ('other.tgz'), not of this one`,
  );
});

Deno.test("imgimport --pubkey refuses a forged trusted comment, changing nothing", async () => {
  await using t = await signedSetup();
  await t.ok(["sign", "b.tgz", "--key", "k.key"]);
  const path = `${t.root}/b.tgz.minisig`;
  await Deno.writeTextFile(
    path,
    (await Deno.readTextFile(path)).replace(`image:${IMAGE}`, "image:trusted-golden-image"),
  );
  const keyId = (await Deno.readTextFile(`${t.root}/k.pub`)).split("\n")[0]!.split(" ").pop();
  await assertImportRefused(
    t,
    ["b.tgz", "--pubkey", "k.pub"],
    `Cannot import bundle "b.tgz": the trusted comment in b.tgz.minisig is forged or damaged (its signature by key ${keyId} does not verify)`,
  );
});

Deno.test("imgimport --pubkey refuses a legacy (minisign -l) signature, changing nothing", async () => {
  await using t = await signedSetup();
  await minisign(t, ["-S", "-l", "-s", "k.key", "-m", "b.tgz"]);
  await assertImportRefused(
    t,
    ["b.tgz", "--pubkey", "k.pub"],
    `Cannot import bundle "b.tgz": b.tgz.minisig is a legacy minisign signature (minisign -l), which osimg does not accept: it covers the whole file in memory; sign it with 'minisign -S' without -l or with 'osimg sign'`,
  );
});

Deno.test("site.osimgtrustedkeys: an unsigned import is refused without --pubkey, a signed one imports", async () => {
  await using t = await signedSetup();
  const key = await publicKeyLine(`${t.root}/k.pub`);
  await t.ok(["chdef", "-t", "site", "clustersite", `osimgtrustedkeys=${key}`]);
  await assertImportRefused(
    t,
    ["b.tgz"],
    'Cannot import bundle "b.tgz": it is not signed (there is no b.tgz.minisig beside it), and a signature by a key in site.osimgtrustedkeys is required',
  );
  await t.ok(["sign", "b.tgz", "--key", "k.key"]);
  await t.ok(["imgimport", "b.tgz"]);
});

Deno.test("site.osimgtrustedkeys: a --pubkey outside the list is refused, changing nothing", async () => {
  await using t = await signedSetup();
  await t.ok(["keygen", "-o", "other", "--no-password"]);
  await Deno.mkdir(`${t.root}/etc/osimg`, { recursive: true });
  await Deno.copyFile(`${t.root}/k.pub`, `${t.root}/etc/osimg/k.pub`);
  // A path entry is a management-node path, under --root.
  await t.ok(["chdef", "-t", "site", "clustersite", "osimgtrustedkeys=/etc/osimg/k.pub"]);
  await t.ok(["sign", "b.tgz", "--key", "other.key"]);
  const other = (await Deno.readTextFile(`${t.root}/other.pub`)).split("\n")[0]!.split(" ").pop();
  await assertImportRefused(
    t,
    ["b.tgz", "--pubkey", "other.pub"],
    `The --pubkey key ${other} is not in site.osimgtrustedkeys, and every import on this node must be signed by one of those keys`,
  );
});

Deno.test("verify --pubkey: refuses an altered bundle before reading it, and reports the signature in --json", async () => {
  await using t = await signedSetup();
  await t.ok(["sign", "b.tgz", "--key", "k.key"]);
  const good = JSON.parse((await t.ok(["verify", "b.tgz", "--pubkey", "k.pub", "--json"])).stdout);
  ok(good.signature.trustedComment.startsWith("file:b.tgz\t"), good.signature);
  const bytes = await Deno.readFile(`${t.root}/b.tgz`);
  await Deno.writeFile(`${t.root}/b.tgz`, bytes.subarray(0, 512));
  const output = await t.run(["verify", "b.tgz", "--pubkey", "k.pub"]);
  assertEquals(output.status, 1);
  assertEquals(
    output.stderr,
    `Error: Bundle "b.tgz" failed verification: it is truncated: 512 bytes, but ${bytes.length} were signed\n`,
  );
  assertEquals(output.stdout, "");
});

Deno.test("snapshot --sign: the blob's .minisig verifies with minisign; rollback works under site.osimgtrustedkeys", async () => {
  await using t = await signedSetup();
  await t.ok(["imgimport", "b.tgz"]);
  const output = await t.ok(["snapshot", IMAGE, "--sign", "k.key"]);
  const signature = /^Signed: (.*\.tgz\.minisig)$/m.exec(output.stdout)?.[1];
  ok(signature, output.stdout);
  const blob = signature.slice(0, -".minisig".length);
  const digest = /blobs\/([0-9a-f]{64})\.tgz$/.exec(blob)?.[1];
  const verified = await minisign(t, ["-Vm", blob, "-p", "k.pub", "-Q"]);
  ok(verified.stdout.startsWith(`file:${digest}.tgz\timage:${IMAGE}\t`), verified.stdout);
  ok(verified.stdout.includes(`\tsha256:${digest}\n`), verified.stdout);
  await t.ok([
    "chdef",
    "-t",
    "site",
    "clustersite",
    `osimgtrustedkeys=${await publicKeyLine(`${t.root}/k.pub`)}`,
  ]);
  await t.ok(["chdef", "-t", "osimage", "-o", IMAGE, "profile=changed"]);
  await t.ok(["rollback", IMAGE, "1"]);
  ok(
    (await t.ok(["lsdef", "-t", "osimage", "-o", IMAGE, "-i", "profile"])).stdout.includes(
      "profile=compute",
    ),
  );
});

/** A root whose image has snapshot 1 (signed with k.key when `signed`), then a changed profile. */
async function snapshotSetup(signed: boolean): Promise<TestRoot> {
  const t = await signedSetup();
  await t.ok(["imgimport", "b.tgz"]);
  await t.ok(["snapshot", IMAGE, ...(signed ? ["--sign", "k.key"] : [])]);
  await t.ok(["chdef", "-t", "osimage", "-o", IMAGE, "profile=changed"]);
  return t;
}

/** Runs a refused rollback: the message, exit status 1, and the root (files, rows) unchanged. */
async function assertRollbackRefused(t: TestRoot, args: string[], message: string) {
  const before = await rootState(t);
  const output = await t.run(["rollback", IMAGE, "1", ...args]);
  assertEquals({ status: output.status, stderr: output.stderr }, {
    status: 1,
    stderr: `Error: Cannot roll back '${IMAGE}' to snapshot 1: ${message}\n`,
  });
  assertEquals(await rootState(t), before);
}

Deno.test("rollback --pubkey checks the snapshot's signature first, then restores it", async () => {
  await using t = await snapshotSetup(true);
  const output = await t.ok(["rollback", IMAGE, "1", "--pubkey", "k.pub"]);
  ok(
    /^Signature verified: key [0-9A-F]+, trusted comment "file:[0-9a-f]{64}\.tgz\timage:/.test(
      output.stdout,
    ),
    output.stdout,
  );
  ok(
    (await t.ok(["lsdef", "-t", "osimage", "-o", IMAGE, "-i", "profile"])).stdout.includes(
      "profile=compute",
    ),
  );
});

Deno.test("rollback --pubkey refuses an unsigned snapshot and changes nothing", async () => {
  await using t = await snapshotSetup(false);
  const digest = (await t.ok(["snapshot", "--list", IMAGE, "--json"])).stdout.match(
    /[0-9a-f]{64}/,
  )![0];
  await assertRollbackRefused(
    t,
    ["--pubkey", "k.pub"],
    `it is not signed (there is no ${digest}.tgz.minisig beside it), and a signature by the key given with --pubkey is required`,
  );
});

Deno.test("rollback --pubkey refuses a snapshot signed by another key and changes nothing", async () => {
  await using t = await snapshotSetup(true);
  await t.ok(["keygen", "-o", "other", "--no-password"]);
  const output = await t.run(["rollback", IMAGE, "1", "--pubkey", "other.pub"]);
  ok(
    /^Error: Cannot roll back .* signed by key [0-9A-F]+, not by /.test(output.stderr),
    output.stderr,
  );
  await assertRollbackRefused(
    t,
    ["--pubkey", "other.pub"],
    output.stderr.slice(`Error: Cannot roll back '${IMAGE}' to snapshot 1: `.length, -1),
  );
});
