import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { makeBundle, netbootFiles, sha256 } from "../testdata/support/bundle_testing.ts";
import { assertGolden, testRoot } from "../testdata/support/testing.ts";
import { storeRoot } from "../testdata/support/store_testing.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";

Deno.test("verify: a sound osimg bundle exits 0 and says so", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/ok.tgz`, { files: netbootFiles(), sums: true });
  const output = await t.ok(["verify", "ok.tgz"]);
  assertEquals(
    output.stdout,
    `${IMAGE}: ${IMAGE}, netboot; 13 files, all checksums verified\n` +
      'Bundle "ok.tgz" is sound.\n',
  );
  assertEquals(output.stderr, "");
});

Deno.test("verify: an xCAT bundle without SHA256SUMS passes with a warning", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/x.tgz`, { files: netbootFiles() });
  const output = await t.ok(["verify", "x.tgz"]);
  ok(output.stdout.includes("12 files, not checksummed\n"), output.stdout);
  ok(output.stderr.includes("its contents cannot be verified"), output.stderr);
});

Deno.test("verify: every problem is reported, not just the first", async () => {
  await using t = await testRoot();
  const files = netbootFiles();
  files[`${IMAGE}/kernel`] = "trojan\n";
  files[`${IMAGE}/manifest.xml`] = (files[`${IMAGE}/manifest.xml`] as string)
    .replace("<profile>compute</profile>", "");
  await makeBundle(`${t.root}/bad.tgz`, {
    files,
    sums: true,
    editSums: (sums) =>
      sums.replace(/^[0-9a-f]{64}(?= {2}kernel$)/m, "0".repeat(64))
        .replace(/^.* {2}compute\.synclist\n/m, "") + `${"1".repeat(64)}  ghost\n`,
  });
  const output = await t.run(["verify", "bad.tgz"]);
  assertEquals(output.status, 1);
  assertEquals(
    output.stderr,
    'Error: Bundle "bad.tgz" failed verification: 4 problems\n' +
      `  member "${IMAGE}/compute.synclist" is not listed in SHA256SUMS\n` +
      `  member "${IMAGE}/kernel" does not match SHA256SUMS (its SHA-256 is ${
        sha256("trojan\n")
      }, SHA256SUMS lists ${"0".repeat(64)})\n` +
      `  member "${IMAGE}/ghost" is listed in SHA256SUMS but missing from the bundle\n` +
      `  ${IMAGE}/manifest.xml: The 'profile' field is not defined in manifest.xml.\n`,
  );
});

Deno.test("verify --json: a machine-readable report, hostile members included", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/ok.tgz`, { files: netbootFiles(), sums: true });
  const good = JSON.parse((await t.ok(["verify", "ok.tgz", "--json"])).stdout);
  assertEquals(good.ok, true);
  assertEquals(good.images, [{
    dir: IMAGE,
    files: 13,
    checksummed: true,
    imagename: IMAGE,
    provmethod: "netboot",
    manifestFormat: "nested",
  }]);
  const whole = await Deno.readFile(`${t.root}/ok.tgz`);
  await Deno.writeFile(`${t.root}/cut.tgz`, whole.subarray(0, whole.length - 40));
  const output = await t.run(["verify", "cut.tgz", "--json"]);
  assertEquals(output.status, 1);
  const report = JSON.parse(output.stdout);
  assertEquals(report.ok, false);
  ok(
    report.problems.some((problem: string) => problem.includes("the archive is cut short")),
    output.stdout,
  );
  // Members read whole before the cut are checked, not reported missing.
  ok(
    !report.problems.some((problem: string) => problem.includes("initrd-stateless.gz")),
    output.stdout,
  );
});

Deno.test("golden: verify --json report and usage", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/ok.tgz`, { files: netbootFiles(), sums: true });
  await assertGolden("verify_report.json", (await t.ok(["verify", "ok.tgz", "--json"])).stdout);
  await assertGolden("verify_usage.txt", (await t.ok(["verify", "--help"])).stdout);
});

Deno.test("verify: paths imgimport would refuse without --allow-path are pointed out", async () => {
  await using t = await testRoot();
  const files = netbootFiles();
  files[`${IMAGE}/manifest.xml`] = (files[`${IMAGE}/manifest.xml`] as string)
    .replace("<dest>/install/mydir</dest>", "<dest>/usr/mydir</dest>");
  await makeBundle(`${t.root}/x.tgz`, { files, sums: true });
  const output = await t.ok(["verify", "x.tgz"]);
  assertEquals(
    output.stderr,
    `Warning: ${IMAGE}/manifest.xml: the extra destination "/usr/mydir" is outside /install, ` +
      "/tftpboot, /opt/xcat/share/xcat; importing it needs --allow-path\n",
  );
  ok(!(await Deno.stat(`${t.root}/etc`).catch(() => false)), "verify made no database");
});

Deno.test("verify reads site.installdir from a PostgreSQL database (no SQLite file to look for)", async () => {
  await using t = await storeRoot("PostgreSQL");
  await t.ok(["chdef", "-t", "site", "clustersite", "installdir=/usr"]);
  const files = netbootFiles();
  files[`${IMAGE}/manifest.xml`] = (files[`${IMAGE}/manifest.xml`] as string)
    .replace("<dest>/install/mydir</dest>", "<dest>/usr/mydir</dest>");
  await makeBundle(`${t.root}/x.tgz`, { files, sums: true });
  const output = await t.ok(["verify", "x.tgz"]);
  // /usr is this site's installdir: importing there needs no --allow-path.
  ok(!output.stderr.includes('"/usr/mydir"'), output.stderr);
});
