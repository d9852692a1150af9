import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { testRoot } from "../../testdata/support/testing.ts";
import {
  changeEveryKind,
  everyKindExpected,
  netbootImage,
} from "../../testdata/support/diff_fixture.ts";
import type { PathDifference } from "./image_diff.ts";

/** `path: fields` lines (as everyKindExpected) of the differences inside `area`. */
function linesOf(files: PathDifference[], area: string): string[] {
  return files.filter((difference) => difference.area === area).map((difference) => {
    const path = difference.path.slice(area.length + 2);
    if (difference.status === "added") return `+ ${path}`;
    if (difference.status === "removed") return `- ${path}`;
    return `${path}: ${difference.changes!.map((change) => change.field).join(",")}`;
  }).sort((a, b) => a.replace(/^[+-] /, "") < b.replace(/^[+-] /, "") ? -1 : 1);
}

const PACKINGS = [
  { flags: ["-m", "cpio", "-c", "gzip"], member: "rootimg.cpio.gz", xattrs: false },
  { flags: ["-m", "tar", "-c", "xz"], member: "rootimg.tar.xz", xattrs: true },
  { flags: ["-m", "tar", "-c", "zstd"], member: "rootimg.tar.zst", xattrs: true },
  { flags: ["-m", "squashfs"], member: "rootimg.sfs", xattrs: false },
];

for (const packing of PACKINGS) {
  Deno.test(`diff reads inside ${packing.member}: every kind of change, file by file`, async () => {
    await using t = await testRoot();
    const image = await netbootImage(t.root, "img");
    await t.ok(["packimage", ...packing.flags, "img"]);
    await t.ok(["snapshot", "img"]);
    await changeEveryKind(image.rootimgHost);
    await t.ok(["packimage", ...packing.flags, "img"]);
    const output = await t.run(["diff", "img@1", "img", "--json"]);
    assertEquals(output.status, 1, output.stderr);
    const result = JSON.parse(output.stdout);
    assertEquals(linesOf(result.files, packing.member), everyKindExpected(packing.xattrs));
    // The snapshot keeps the tree as cpio (no xattrs); the image's tree is walked.
    assertEquals(linesOf(result.files, "rootimg"), everyKindExpected(false));
    assertEquals(result.files.filter((file: PathDifference) => file.area === "files"), []);
    assertEquals(result.definition, []);
  });
}

Deno.test("diff of a packed root names every field that changed, with old and new values", async () => {
  await using t = await testRoot();
  const image = await netbootImage(t.root, "img");
  await t.ok(["packimage", "-m", "tar", "-c", "zstd", "img"]);
  await t.ok(["snapshot", "img"]);
  await changeEveryKind(image.rootimgHost);
  await t.ok(["packimage", "-m", "tar", "-c", "zstd", "img"]);
  const result = JSON.parse((await t.run(["diff", "img@1", "img", "--json"])).stdout);
  const changes = (path: string) =>
    result.files.find((file: PathDifference) => file.path === `rootimg.tar.zst:/${path}`)
      ?.changes;
  assertEquals(changes("dev/null"), [{ field: "device", old: "1,3", new: "1,5" }]);
  assertEquals(changes("usr/bin/su"), [{ field: "mode", old: "4755", new: "0755" }]);
  assertEquals(changes("home/user/owned"), [{ field: "owner", old: "1000:1001", new: "0:0" }]);
  assertEquals(changes("etc/relative-link"), [
    { field: "target", old: "../usr/bin/tool", new: "../usr/bin/su" },
  ]);
  assertEquals(changes("etc/empty"), [{ field: "type", old: "file", new: "dir" }]);
  assertEquals(changes("usr/bin/second"), [
    { field: "hardlink", old: "usr/bin/first", new: null },
  ]);
  const size = changes("etc/passwd").find((change: { field: string }) => change.field === "size");
  assertEquals(size, { field: "size", old: 30, new: 32 });
  const xattrs = changes("usr/bin/tool")[0];
  assertEquals([xattrs.field, xattrs.names], ["xattrs", ["security.capability"]]);
});

Deno.test("diff between packings of one tree compares what they hold, not their bytes", async () => {
  await using t = await testRoot();
  await netbootImage(t.root, "img");
  await t.ok(["packimage", "-m", "cpio", "-c", "gzip", "img"]);
  await t.ok(["snapshot", "img"]);
  const dir = `${t.root}/install/netboot/test/x86_64/img`;
  await Deno.remove(`${dir}/rootimg.cpio.gz`);
  await t.ok(["packimage", "-m", "squashfs", "img"]);
  const output = await t.run(["diff", "img@1", "img", "--json"]);
  assertEquals(output.status, 1, output.stderr);
  const result = JSON.parse(output.stdout);
  assertEquals(result.files, [{
    path: "rootimg.sfs",
    area: "files",
    status: "changed",
    type: "file",
    changes: [{ field: "packing", old: "rootimg.cpio.gz", new: "rootimg.sfs" }],
  }]);
});

Deno.test("diff of an image and its own latest snapshot is empty, exit 0", async () => {
  await using t = await testRoot();
  await netbootImage(t.root, "img");
  await t.ok(["packimage", "img"]);
  await t.ok(["snapshot", "img"]);
  const output = await t.run(["diff", "img", "img@1"]);
  assertEquals(output, { status: 0, stdout: "", stderr: "" });
});
