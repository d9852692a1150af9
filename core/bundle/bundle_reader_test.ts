import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { baseMeta, bytesContent, type Entry } from "../../formats/archive/entry.ts";
import { tarStream } from "../../formats/archive/tar.ts";
import { type BundleScan, scanBundle } from "./bundle_reader.ts";
import { makeBundle, netbootFiles, sha256 } from "../../testdata/support/bundle_testing.ts";
import { IntegrityError } from "../errors.ts";
import { systemRunner } from "../process.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";
const work = await Deno.makeTempDir({ prefix: "osimg-reader-" });
const plainTar = await (async () => {
  await makeBundle(`${work}/b.tar`, { files: netbootFiles(), sums: true, compression: "none" });
  return await Deno.readFile(`${work}/b.tar`);
})();
const gzipped = gzipSync(plainTar);
await Deno.remove(work, { recursive: true });

async function* chunked(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) {
    yield bytes.slice(offset, offset + size);
  }
}

function summary(scan: BundleScan) {
  return {
    images: scan.images.map((image) => ({
      dir: image.dir,
      manifest: image.manifestText?.length,
      sums: image.sums?.size,
      files: [...image.files].map(([path, digest]) => `${path} ${digest.size} ${digest.sha256}`)
        .sort(),
    })),
    problems: scan.problems,
    warnings: scan.warnings,
    entries: scan.entries,
    bytes: scan.bytes,
  };
}

const options = { prefix: 'Bundle "b"', name: "b", collect: true, runner: systemRunner };

Deno.test("scan: the same result at every chunk size (plain tar 1..700, gzip at a few)", async () => {
  const expected = summary(await scanBundle(chunked(plainTar, plainTar.length), options));
  assertEquals(expected.problems, []);
  assertEquals(expected.images[0]?.sums, 12);
  ok(
    expected.images[0]!.files.includes(
      `kernel 14 ${sha256("vmlinuz bytes\n")}`,
    ),
  );
  for (let size = 1; size <= 700; size += size < 32 ? 1 : 37) {
    assertEquals(summary(await scanBundle(chunked(plainTar, size), options)), expected, `${size}`);
  }
  for (const size of [1, 3, 512, 1025, 65536]) {
    assertEquals(
      summary(await scanBundle(chunked(gzipped, size), options)),
      expected,
      `gz ${size}`,
    );
  }
});

Deno.test("scan: collecting mode goes on past a hostile member and a bad digest", async () => {
  const text = new TextEncoder();
  const manifest = netbootFiles()[`${IMAGE}/manifest.xml`] as string;
  const file = (path: string, body: string): Entry => ({
    ...baseMeta(path, 0o644),
    kind: "file",
    content: bytesContent(text.encode(body)),
  });
  const sums = `${sha256(manifest)}  manifest.xml\n${"0".repeat(64)}  kernel\n`;
  const entries: Entry[] = [
    { ...baseMeta(".", 0o755), kind: "dir" },
    file(`${IMAGE}/manifest.xml`, manifest),
    file(`${IMAGE}/SHA256SUMS`, sums),
    file(`${IMAGE}/../escape`, "x"),
    { ...baseMeta(`${IMAGE}/null`, 0o666), kind: "chardev", devmajor: 1, devminor: 3 },
    file(`${IMAGE}/kernel`, "k\n"),
  ];
  const parts: Uint8Array[] = [];
  for await (const chunk of tarStream(entries)) parts.push(chunk);
  const tar = await new Blob(parts as BlobPart[]).bytes();
  const scan = await scanBundle(chunked(tar, 4096), options);
  assertEquals(scan.problems, [
    `member "${IMAGE}/../escape" leaves the image directory`,
    `member "${IMAGE}/null" is a device node, which a bundle may not contain`,
    `member "${IMAGE}/kernel" does not match SHA256SUMS (its SHA-256 is ${
      sha256("k\n")
    }, SHA256SUMS lists ${"0".repeat(64)})`,
  ]);
  // Importing (not collecting) stops at the first.
  await rejects(
    scanBundle(chunked(tar, 4096), {
      prefix: 'Cannot import bundle "b"',
      name: "b",
      runner: systemRunner,
    }),
    (error: Error) =>
      error instanceof IntegrityError &&
      error.message ===
        `Cannot import bundle "b": member "${IMAGE}/../escape" leaves the image directory`,
  );
});

Deno.test("scan: an archive without any image directory is a problem", async () => {
  const parts: Uint8Array[] = [];
  for await (const chunk of tarStream([])) parts.push(chunk);
  const scan = await scanBundle(chunked(await new Blob(parts as BlobPart[]).bytes(), 512), options);
  assertEquals(scan.problems, ["the bundle holds no image directory"]);
});
