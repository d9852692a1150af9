// Named tests: bundle members must be what their names say, in verify and imgimport, and every real packing passes at every chunk size.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { FORMAT_RULES, memberFormat, MemberFormatCheck } from "./bundle_member_format.ts";
import { makeBundle, netbootFiles, rootState } from "../../testdata/support/bundle_testing.ts";
import { archiveName, type PackCompression, type PackMethod } from "../pack/pack.ts";
import { pipeline } from "../../testdata/support/process.ts";
import { systemRunner } from "../process.ts";
import { type TestRoot, testRoot } from "../../testdata/support/testing.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";
const workDir = await Deno.makeTempDir({ prefix: "osimg-member-format-" });
globalThis.addEventListener("unload", () => Deno.removeSync(workDir, { recursive: true }));

/** Runs the check over `bytes` cut into `size`-byte chunks; the rules it reported. */
async function check(name: string, bytes: Uint8Array, size: number): Promise<string[]> {
  const reported: string[] = [];
  const format = memberFormat(name);
  ok(format, name);
  const checker = new MemberFormatCheck(systemRunner, format, (rule) => reported.push(rule));
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    await checker.push(bytes.subarray(offset, offset + size));
  }
  await checker.end();
  return reported;
}

async function freshRoot(): Promise<TestRoot> {
  const t = await testRoot();
  await t.ok(["tabdump", "site"]);
  return t;
}

/** A netboot bundle with SHA256SUMS whose `member` holds `bytes`. */
async function bundleWith(name: string, member: string, bytes: Uint8Array | string) {
  const files = netbootFiles();
  files[`${IMAGE}/${member}`] = bytes;
  const path = `${workDir}/${name}`;
  await makeBundle(path, { files, sums: true });
  return path;
}

/** imgimport and verify both refuse `bundle` with `rule` for `member`; nothing changes. */
async function refusedBoth(bundle: string, member: string, rule: string): Promise<void> {
  await using t = await freshRoot();
  const before = await rootState(t);
  const output = await t.run(["imgimport", bundle]);
  assertEquals(
    output.stderr.split("\n").filter((line) => line.startsWith("Error:")),
    [`Error: Cannot import bundle "${bundle}": member "${IMAGE}/${member}" ${rule}`],
  );
  assertEquals(output.status, 1);
  assertEquals(await rootState(t), before);
  ok(!(await Deno.stat(`${t.root}/install/.osimg-staging`).catch(() => false)));
  const verify = await t.run(["verify", bundle, "--json"]);
  assertEquals(verify.status, 1);
  assertEquals(JSON.parse(verify.stdout).problems, [`member "${IMAGE}/${member}" ${rule}`]);
}

Deno.test("a .gz member that is not gzip: verify and imgimport refuse it by name", async () => {
  const bundle = await bundleWith("not-gzip.tgz", "rootimg.cpio.gz", "rootimg bytes\n");
  await refusedBoth(bundle, "rootimg.cpio.gz", "is not gzip data");
});

Deno.test("an initrd that is neither cpio nor compressed: verify and imgimport refuse it", async () => {
  const bundle = await bundleWith("bad-initrd.tgz", "initrd-stateless.gz", "initrd bytes\n");
  await refusedBoth(bundle, "initrd-stateless.gz", FORMAT_RULES.notInitramfs);
});

Deno.test("a packed root whose first archive header is garbage: verify and imgimport refuse it", async () => {
  const garbage = gzipSync(new TextEncoder().encode("this is no cpio archive\n".repeat(100)));
  const bundle = await bundleWith("garbage-header.tgz", "rootimg.cpio.gz", garbage);
  await refusedBoth(bundle, "rootimg.cpio.gz", FORMAT_RULES.notArchive("cpio"));
});

Deno.test("a packed root that is corrupt compressed data: verify and imgimport refuse it", async () => {
  const corrupt = gzipSync(new TextEncoder().encode("x".repeat(1000)));
  corrupt.fill(0xff, 10, 30);
  const bundle = await bundleWith("corrupt.tgz", "rootimg.cpio.gz", corrupt);
  await using t = await freshRoot();
  const output = await t.run(["imgimport", bundle]);
  ok(
    output.stderr.includes(`member "${IMAGE}/rootimg.cpio.gz" is not readable gzip data (`),
    output.stderr,
  );
});

Deno.test("member formats: every real packing and initramfs passes at every chunk size; wrong bytes fail", async () => {
  const tree = `${workDir}/tree`;
  await Deno.mkdir(`${tree}/etc`, { recursive: true });
  await Deno.writeTextFile(`${tree}/etc/hostname`, "node\n");
  // Enough incompressible bytes that the compressed head is longer than the checked 256 KiB.
  await pipeline(`head -c 400000 /dev/urandom > '${tree}/etc/random'`);
  const tools: Record<PackCompression, string> = {
    gzip: "gzip -n",
    pigz: "gzip -n",
    xz: "xz -T0 --check=crc32",
    zstd: "zstd -q -T0",
    none: "cat",
  };
  const samples: [string, Uint8Array][] = [];
  for (const method of ["cpio", "tar"] as PackMethod[]) {
    for (const compression of ["gzip", "xz", "zstd", "none"] as PackCompression[]) {
      const archive = method === "cpio"
        ? "find . | cpio -H newc -o --quiet"
        : "tar -cf - --sort=name .";
      const out = `${workDir}/${archiveName(method, compression)}`;
      await pipeline(`${archive} | ${tools[compression]} > '${out}'`, tree);
      samples.push([archiveName(method, compression), await Deno.readFile(out)]);
    }
  }
  await pipeline(`mksquashfs '${tree}' '${workDir}/rootimg.sfs' -quiet -noappend`);
  samples.push(["rootimg.sfs", await Deno.readFile(`${workDir}/rootimg.sfs`)]);
  // dracut's layout: an uncompressed early cpio, then the compressed main one.
  await pipeline(
    `(find etc/hostname | cpio -H newc -o --quiet; find . | cpio -H newc -o --quiet | gzip -n) > '${workDir}/initrd'`,
    tree,
  );
  samples.push(["initrd-stateless.gz", await Deno.readFile(`${workDir}/initrd`)]);
  for (const [name, bytes] of samples) {
    for (const size of [1, 7, 512, 4096, 65536, 1 << 20]) {
      assertEquals(await check(name, bytes, size), [], `${name} in ${size}-byte chunks`);
    }
  }
  const byName = new Map(samples);
  const cases: [string, Uint8Array, string][] = [
    ["rootimg.cpio.zst", byName.get("rootimg.cpio.gz")!, "is not zstd data"],
    ["rootimg.tar.xz", byName.get("rootimg.tar.zst")!, "is not xz data"],
    ["rootimg.cpio.gz", byName.get("rootimg.tar.gz")!, FORMAT_RULES.notArchive("cpio")],
    ["rootimg.tar.zst", byName.get("rootimg.cpio.zst")!, FORMAT_RULES.notArchive("tar")],
    ["rootimg.tar", byName.get("rootimg.cpio")!, FORMAT_RULES.notArchive("tar")],
    ["rootimg.sfs", byName.get("rootimg.cpio")!, FORMAT_RULES.notSquashfs],
    ["kernel.bz2", byName.get("rootimg.cpio.gz")!, "is not bzip2 data"],
  ];
  for (const [name, bytes, rule] of cases) {
    for (const size of [1, 4096, 1 << 20]) {
      assertEquals(await check(name, bytes, size), [rule], `${name} in ${size}-byte chunks`);
    }
  }
  // Names that promise nothing are not checked: extras and kit files are the admin's own.
  assertEquals(memberFormat("kernel"), undefined);
  assertEquals(memberFormat("extra/tmp/x.gz"), undefined);
});
