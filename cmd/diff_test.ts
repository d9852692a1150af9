import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  assertGolden,
  snapshotTree,
  type TestRoot,
  testRoot,
} from "../testdata/support/testing.ts";
import { changeEveryKind, netbootImage } from "../testdata/support/diff_fixture.ts";
import { makeBundle, netbootFiles } from "../testdata/support/bundle_testing.ts";
import { sh } from "../testdata/support/process.ts";

/**
 * An image `img` packed as cpio.gz, snapshotted (img@1) and exported (a.tgz); then every kind of
 * change made to its tree, its description changed, packed again and exported again (b.tgz).
 */
async function changedImage(t: TestRoot): Promise<void> {
  const image = await netbootImage(t.root, "img");
  await t.ok(["packimage", "img"]);
  await t.ok(["snapshot", "img", "--note", "before"]);
  await t.ok(["imgexport", "img", "a.tgz"]);
  await changeEveryKind(image.rootimgHost);
  await t.ok(["chdef", "-t", "osimage", "-o", "img", "description=changed", "otherpkgdir=/x"]);
  await t.ok(["packimage", "img"]);
  await t.ok(["imgexport", "img", "b.tgz"]);
}

Deno.test("diff prints the definition, then every file changed, inside the packed root and the tree (golden)", async () => {
  await using t = await testRoot();
  await changedImage(t);
  const text = await t.run(["diff", "img@1", "img"]);
  assertEquals(text.status, 1);
  await assertGolden("diff/snapshot_vs_image.txt", text.stdout);
  assertEquals(
    text.stderr,
    "Note: xattrs in rootimg are not compared: img@1 keeps it as rootimgtree.gz, which does not record them\n",
  );
  const json = await t.run(["diff", "img@1", "img", "--json"]);
  assertEquals([json.status, json.stderr], [1, ""]);
  await assertGolden("diff/snapshot_vs_image.json", json.stdout);
  const stat = await t.run(["diff", "img@1", "img", "--stat"]);
  assertEquals(stat.status, 1);
  await assertGolden("diff/snapshot_vs_image_stat.txt", stat.stdout);
  const names = await t.run(["diff", "img@1", "img", "--name-only"]);
  assertEquals(names.status, 1);
  await assertGolden("diff/snapshot_vs_image_names.txt", names.stdout);
});

Deno.test("diff compares every kind of side with every other: image, bundle, snapshot", async () => {
  await using t = await testRoot();
  await changedImage(t);
  const changedInside = (stdout: string) =>
    stdout.includes("~ rootimg.cpio.gz:/etc/hostname: content\n") &&
    stdout.includes("+ rootimg.cpio.gz:/etc/motd (file)\n");
  // A bundle has no root tree: the packed roots are compared, the tree is not.
  for (const [a, b] of [["a.tgz", "img"], ["img@1", "b.tgz"], ["a.tgz", "b.tgz"]]) {
    const output = await t.run(["diff", a!, b!]);
    assertEquals(output.status, 1, `${a} ${b}: ${output.stderr}`);
    ok(changedInside(output.stdout), `${a} ${b}: ${output.stdout}`);
    ok(output.stdout.includes("    description: diff fixture → changed\n"), output.stdout);
    ok(!output.stdout.includes("rootimg:/"), output.stdout);
    const tree = a !== "a.tgz" || b !== "b.tgz";
    assertEquals(
      output.stderr.includes("the root tree (rootimg/) is not compared"),
      tree,
      output.stderr,
    );
  }
  // The same state as a bundle and as a snapshot; the same bundle twice; an image and its export.
  for (const [a, b] of [["a.tgz", "img@1"], ["b.tgz", "b.tgz"], ["img", "b.tgz"]]) {
    assertEquals(await t.run(["diff", a!, b!]), { status: 0, stdout: "", stderr: "" }, `${a} ${b}`);
  }
  // A bundle named by a path, and a snapshot named by its digest prefix.
  const digest = JSON.parse(
    await Deno.readTextFile(`${t.root}/install/osimg/snapshots/index/img.json`),
  ).snapshots[0].digest;
  assertEquals((await t.run(["diff", `./a.tgz`, `img@${digest.slice(0, 8)}`])).status, 0);
});

Deno.test("diff of two images with the same files shows only their definitions", async () => {
  await using t = await testRoot();
  await netbootImage(t.root, "img");
  await t.ok(["packimage", "img"]);
  await sh([
    "cp",
    "-a",
    `${t.root}/install/netboot/test/x86_64/img`,
    `${t.root}/install/netboot/test/x86_64/img2`,
  ]);
  await t.ok(["lsdef", "-t", "osimage", "-o", "img", "-z"]).then(({ stdout }) =>
    t.ok(["mkdef", "-z"], {
      stdin: stdout.replace(/^img:/m, "img2:").replaceAll("test/x86_64/img", "test/x86_64/img2")
        .replace(/profile=img/, "profile=img2"),
    })
  );
  const output = await t.run(["diff", "img", "img2"]);
  assertEquals(output.status, 1, output.stderr);
  assertEquals(
    output.stdout,
    `--- img (image)
+++ img2 (image)
Definition:
    pkglist: /install/netboot/test/x86_64/img/compute.pkglist → /install/netboot/test/x86_64/img2/compute.pkglist
    profile: img → img2
    rootimgdir: /install/netboot/test/x86_64/img → /install/netboot/test/x86_64/img2
`,
  );
});

Deno.test("diff reads an xCAT bundle without SHA256SUMS, with a warning", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/xcat.tgz`, { files: netbootFiles() });
  const output = await t.run(["diff", "xcat.tgz", "xcat.tgz"]);
  assertEquals([output.status, output.stdout], [0, ""]);
  ok(output.stderr.includes("has no SHA256SUMS: its contents cannot be verified"), output.stderr);
});

Deno.test("diff --stat, --name-only and --json cannot be combined (exit 2)", async () => {
  await using t = await testRoot();
  const output = await t.run(["diff", "a", "b", "--stat", "--json"]);
  assertEquals(output, {
    status: 2,
    stdout: "",
    stderr: "Error: diff: --stat and --json cannot be combined. Run 'diff --help' for usage.\n",
  });
});

Deno.test("diff with one side fails with a usage error, exit 2", async () => {
  await using t = await testRoot();
  const output = await t.run(["diff", "img"]);
  assertEquals(output, {
    status: 2,
    stdout: "",
    stderr: "Error: diff: missing argument. Run 'diff --help' for usage.\n",
  });
});

Deno.test("diff of sides that do not exist fails with one clear line, exit 2", async () => {
  await using t = await testRoot();
  await netbootImage(t.root, "img");
  await t.ok(["packimage", "img"]);
  const cases: [string[], string][] = [
    [["nosuch", "img"], "Error: Cannot find image 'nosuch' from the osimage table.\n"],
    [["img", "./none.tgz"], "Error: Cannot diff './none.tgz': there is no such bundle file\n"],
    [["img@1", "img"], "Error: The image 'img' has no snapshots.\n"],
    [
      ["img", "install"],
      "Error: Cannot diff 'install': it is a directory; give a bundle file, an osimage or <osimage>@<snapshot id>\n",
    ],
  ];
  for (const [args, stderr] of cases) {
    assertEquals(await t.run(["diff", ...args]), { status: 2, stdout: "", stderr }, args.join(" "));
  }
  await t.ok(["snapshot", "img"]);
  assertEquals(
    (await t.run(["diff", "img@7", "img"])).stderr,
    "Error: The image 'img' has no snapshot '7' (see 'osimg snapshot --list img').\n",
  );
});

Deno.test("diff refuses a bundle whose member does not match SHA256SUMS, changing nothing", async () => {
  await using t = await testRoot();
  await netbootImage(t.root, "img");
  await t.ok(["packimage", "img"]);
  await t.ok(["imgexport", "img", "plain.tar", "--compress", "none"]);
  // The kernel's bytes inside the uncompressed tar: one flipped byte.
  const bytes = await Deno.readFile(`${t.root}/plain.tar`);
  const at = new TextDecoder("latin1").decode(bytes).indexOf("vmlinuz\n");
  bytes[at] = "V".charCodeAt(0);
  await Deno.writeFile(`${t.root}/plain.tar`, bytes);
  const before = await snapshotTree(t.root);
  const output = await t.run(["diff", "plain.tar", "img"]);
  assertEquals(output.status, 2);
  ok(
    /^Error: Cannot diff bundle "plain.tar": member "kernel" does not match SHA256SUMS \(its SHA-256 is [0-9a-f]{64}, SHA256SUMS lists [0-9a-f]{64}\)\n$/
      .test(output.stderr),
    output.stderr,
  );
  assertEquals(await snapshotTree(t.root), before);
});

Deno.test("diff refuses a truncated bundle with one line, exit 2, leaving no temporary file", async () => {
  await using t = await testRoot();
  await netbootImage(t.root, "img");
  await t.ok(["packimage", "-m", "squashfs", "img"]);
  await t.ok(["imgexport", "img", "a.tgz"]);
  const bytes = await Deno.readFile(`${t.root}/a.tgz`);
  await Deno.writeFile(`${t.root}/cut.tgz`, bytes.subarray(0, bytes.length - 200));
  const before = await snapshotTree(t.root);
  const temporaries = () =>
    [...Deno.readDirSync(Deno.env.get("TMPDIR") ?? "/tmp")].filter((entry) =>
      entry.name.startsWith("osimg-diff-")
    ).length;
  const temporary = temporaries();
  const output = await t.run(["diff", "cut.tgz", "img"]);
  assertEquals([output.status, output.stdout], [2, ""]);
  ok(
    output.stderr.startsWith(
      'Error: Cannot diff bundle "cut.tgz": the archive is cut short or corrupt: ',
    ),
    output.stderr,
  );
  assertEquals(output.stderr.split("\n").length, 2, output.stderr);
  assertEquals(await snapshotTree(t.root), before);
  assertEquals(temporaries(), temporary);
});

Deno.test("diff refuses a bundle with two image directories, exit 2", async () => {
  await using t = await testRoot();
  await makeBundle(`${t.root}/two.tgz`, {
    files: { ...netbootFiles("one"), ...netbootFiles("two") },
    sums: true,
  });
  const output = await t.run(["diff", "two.tgz", "two.tgz"]);
  assertEquals(output, {
    status: 2,
    stdout: "",
    stderr:
      'Error: Cannot diff bundle "two.tgz": it holds more than one image ("one", "two"); diff compares one\n',
  });
});

Deno.test("diff refuses a bundle whose packed root is not what its name says, exit 2", async () => {
  await using t = await testRoot();
  const files = netbootFiles();
  files["rhels8.8.0-x86_64-netboot-compute/rootimg.cpio.gz"] = "not gzip at all\n";
  await makeBundle(`${t.root}/bad.tgz`, { files, sums: true });
  const output = await t.run(["diff", "bad.tgz", "bad.tgz"]);
  assertEquals([output.status, output.stdout], [2, ""]);
  ok(
    output.stderr.startsWith(
      'Error: Cannot diff bundle "bad.tgz": rootimg.cpio.gz: Truncated cpio archive',
    ),
    output.stderr,
  );
  assertEquals(output.stderr.split("\n").length, 2, output.stderr);
});

Deno.test("diff refuses a bundle member that leaves its image directory, exit 2", async () => {
  await using t = await testRoot();
  const files = netbootFiles();
  await makeBundle(`${t.root}/stray.tgz`, { files: { ...files, "stray.txt": "outside\n" } });
  const output = await t.run(["diff", "stray.tgz", "stray.tgz"]);
  assertEquals([output.status, output.stdout], [2, ""]);
  ok(output.stderr.startsWith('Error: Cannot diff bundle "stray.tgz": member "'), output.stderr);
  ok(output.stderr.includes("stray.txt"), output.stderr);
});
