// Named tests for decompression bombs and the free-space reserve: imgimport and verify stop early, say why, and change nothing.

import { concatBytes } from "../../formats/bytes.ts";
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { tarStream } from "../../formats/archive/tar.ts";
import { baseMeta, bytesContent, type Entry } from "../../formats/archive/entry.ts";
import {
  makeBundle,
  netbootFiles,
  PACKED_ROOT_BYTES,
  rootState,
  sha256,
} from "../../testdata/support/bundle_testing.ts";
import { type TestRoot, testRoot } from "../../testdata/support/testing.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";
const GIB = 1024 * 1024 * 1024;
const workDir = await Deno.makeTempDir({ prefix: "osimg-limits-" });
globalThis.addEventListener("unload", () => Deno.removeSync(workDir, { recursive: true }));

async function tarBytes(entries: Entry[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of tarStream(entries)) parts.push(chunk.slice());
  return concatBytes(parts);
}

/**
 * The bundle, built without ever holding the bomb: netbootFiles() with SHA256SUMS, whose
 * `rootimg.cpio.gz` member declares `size` bytes: `head`, then zeros. The zeros are 1 MiB gzip
 * members concatenated (one gzip stream may hold many), so 6 GiB cost ~6 MB of file.
 */
async function bombBundle(name: string, size: number, head: Uint8Array): Promise<string> {
  const files = netbootFiles();
  delete files[`${IMAGE}/rootimg.cpio.gz`];
  const entries: Entry[] = [{ ...baseMeta(`${IMAGE}/`, 0o755), kind: "dir" }];
  const sums: string[] = [];
  const regular: [string, Uint8Array][] = [];
  for (const [path, content] of Object.entries(files).sort(([a], [b]) => a < b ? -1 : 1)) {
    const bytes = typeof content === "string"
      ? new TextEncoder().encode(content)
      : content instanceof Uint8Array
      ? content
      : "content" in content
      ? new TextEncoder().encode(content.content)
      : undefined;
    if (bytes === undefined) continue;
    regular.push([path, bytes]);
    sums.push(`${sha256(bytes)}  ${path.slice(IMAGE.length + 1)}`);
  }
  // The bomb's digest is never reached: it is refused long before its end.
  sums.push(`${"0".repeat(64)}  rootimg.cpio.gz`);
  const manifest = regular.find(([path]) => path.endsWith("/manifest.xml"))!;
  const ordered = [
    manifest,
    [`${IMAGE}/SHA256SUMS`, new TextEncoder().encode(sums.sort().join("\n") + "\n")] as const,
    ...regular.filter((entry) => entry !== manifest),
  ];
  for (const [path, bytes] of ordered) {
    entries.push({ ...baseMeta(path, 0o644), kind: "file", content: bytesContent(bytes) });
  }
  // The bomb's header is written by the tar writer with size 0 (its last non-zero record),
  // then given the bomb's size; what follows it (the end-of-archive records) is dropped.
  entries.push({
    ...baseMeta(`${IMAGE}/rootimg.cpio.gz`, 0o644),
    kind: "file",
    content: bytesContent(new Uint8Array(0)),
  });
  const archive = await tarBytes(entries);
  let end = archive.byteLength;
  while (archive.subarray(end - 512, end).every((byte) => byte === 0)) end -= 512;
  const body = archive.subarray(0, end - 512);
  const header = archive.slice(end - 512, end);
  header.set(new TextEncoder().encode(size.toString(8).padStart(11, "0") + "\0"), 124);
  header.fill(0x20, 148, 156);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  header.set(new TextEncoder().encode(checksum.toString(8).padStart(6, "0") + "\0 "), 148);
  const file = await Deno.open(`${workDir}/${name}`, { write: true, create: true, truncate: true });
  try {
    await file.write(gzipSync(concatBytes([body, header, head])));
    let left = size - head.byteLength;
    const mebibyte = gzipSync(new Uint8Array(1024 * 1024));
    for (; left >= 1024 * 1024; left -= 1024 * 1024) await file.write(mebibyte);
    const padding = (512 - size % 512) % 512;
    await file.write(gzipSync(new Uint8Array(left + padding + 1024)));
  } finally {
    file.close();
  }
  return `${workDir}/${name}`;
}

/** A fresh root with its database created (an import's "nothing changed" compares against it). */
async function freshRoot(): Promise<TestRoot> {
  const t = await testRoot();
  await t.ok(["tabdump", "site"]);
  return t;
}

/** Runs imgimport expecting one `Error:` line matching `message`; nothing may change. */
async function refused(
  t: TestRoot,
  args: string[],
  message: string | RegExp,
  env?: Record<string, string>,
): Promise<void> {
  const before = await rootState(t);
  const output = await t.run(["imgimport", ...args], { env });
  const errors = output.stderr.split("\n").filter((line) => line.startsWith("Error:"));
  assertEquals(errors.length, 1, output.stderr);
  if (typeof message === "string") assertEquals(errors[0], `Error: ${message}`);
  else ok(message.test(errors[0]!), errors[0]);
  assertEquals(output.status, 1);
  assertEquals(await rootState(t), before);
  ok(!(await Deno.stat(`${t.root}/install/.osimg-staging`).catch(() => false)), "staging left");
}

Deno.test("bomb: a 6 MB bundle whose rootimg.cpio.gz is 6 GiB of zeros is refused by imgimport and verify", async () => {
  const bundle = await bombBundle("zeros.tgz", 6 * GIB, new Uint8Array(0));
  ok((await Deno.stat(bundle)).size < 8 * 1024 * 1024, "the bundle itself is small");
  await using t = await freshRoot();
  const started = performance.now();
  await refused(
    t,
    [bundle],
    `Cannot import bundle "${bundle}": member "${IMAGE}/rootimg.cpio.gz" is not gzip data`,
  );
  const verify = await t.run(["verify", bundle, "--json"]);
  assertEquals(verify.status, 1);
  const report = JSON.parse(verify.stdout);
  ok(report.problems.includes(`member "${IMAGE}/rootimg.cpio.gz" is not gzip data`), verify.stdout);
  ok(
    report.problems.some((problem: string) =>
      problem.startsWith("the archive expands more than 200 times")
    ),
    verify.stdout,
  );
  // Neither read the 6 GiB: both stopped within seconds.
  ok(performance.now() - started < 20_000, `${performance.now() - started} ms`);
});

Deno.test("bomb: a bundle expanding past 200:1 is stopped while it inflates, even when each member looks right", async () => {
  // A real gzip'd cpio first, so the member passes its format check; then 6 GiB of zeros.
  const bundle = await bombBundle("shaped.tgz", 6 * GIB, PACKED_ROOT_BYTES);
  await using t = await freshRoot();
  await refused(
    t,
    [bundle],
    new RegExp(
      `^Error: Cannot import bundle "${bundle}": the archive expands more than 200 times ` +
        String
          .raw`\([0-9.]+ MiB from [0-9.]+ (KiB|MiB) read so far\), as a decompression bomb does; ` +
        "nothing was changed. If it is trusted, import it with --allow-expansion$",
    ),
  );
});

Deno.test("--allow-expansion lets a legitimately compressible bundle through", async () => {
  const files = netbootFiles();
  // A preallocated disk image among the extras: 48 MiB of zeros, ~1000:1 in gzip.
  const zeros = new Uint8Array(48 * 1024 * 1024);
  files[`${IMAGE}/extra/tmp/mydir/swap.img`] = zeros;
  const bundle = `${workDir}/compressible.tgz`;
  await makeBundle(bundle, { files, sums: true });
  await using t = await freshRoot();
  await refused(t, [bundle], /the archive expands more than 200 times .* --allow-expansion$/);
  const verify = await t.run(["verify", bundle]);
  assertEquals(verify.status, 1);
  ok(verify.stderr.includes("verify it with --allow-expansion"), verify.stderr);
  await t.ok(["verify", bundle, "--allow-expansion"]);
  await t.ok(["imgimport", bundle, "--allow-expansion"]);
  const written = await Deno.readFile(`${t.root}/install/mydir/swap.img`);
  assertEquals(written.byteLength, zeros.byteLength);
  ok(written.every((byte) => byte === 0));
});

Deno.test("free-space reserve: imgimport stops before a 64 MiB tmpfs install directory fills, changing nothing", async () => {
  // The database stays outside: only the install directory's file system is small.
  await using t = await freshRoot();
  const install = `${t.root}/install`;
  await Deno.mkdir(install);
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=64m", "osimg-reserve-test", install],
    stderr: "piped",
  }).output();
  ok(
    mount.success,
    `this test needs root to mount a tmpfs: ${new TextDecoder().decode(mount.stderr)}`,
  );
  try {
    const files = netbootFiles();
    // Incompressible, larger than the file system: 80 MiB of repeated random MiBs.
    const block = new Uint8Array(1024 * 1024);
    for (let offset = 0; offset < block.length; offset += 65536) {
      crypto.getRandomValues(block.subarray(offset, offset + 65536));
    }
    const big = new Uint8Array(80 * 1024 * 1024);
    for (let offset = 0; offset < big.length; offset += block.length) big.set(block, offset);
    files[`${IMAGE}/kernel`] = big;
    const bundle = `${workDir}/too-big.tar`;
    await makeBundle(bundle, { files, sums: true, compression: "none" });
    const reserve = { OSIMG_SPACE_RESERVE: String(8 * 1024 * 1024) };
    await refused(
      t,
      [bundle],
      new RegExp(
        `^Error: Cannot import bundle "${bundle}": stopped before the file system holding ` +
          String
            .raw`/install fills up \([0-9.]+ MiB free, imgimport keeps 8\.0 MiB free there\); ` +
          "nothing was changed. Free some space and retry.$",
      ),
      reserve,
    );
    assertEquals([...Deno.readDirSync(install)], [], "nothing left on the tmpfs");
    // The default reserve, max(1 GiB, 5%), is more than this file system holds: even a small
    // bundle is refused before anything is staged.
    const small = `${workDir}/small.tgz`;
    await makeBundle(small, { files: netbootFiles(), sums: true });
    await refused(t, [small], /imgimport keeps 1\.0 GiB free there\); nothing was changed/);
    assertEquals([...Deno.readDirSync(install)], []);
    // With room to spare the same small bundle imports.
    await t.ok(["imgimport", small], { env: reserve });
  } finally {
    await new Deno.Command("umount", { args: [install] }).output();
  }
});
