import { deepStrictEqual as assertEquals, ok, rejects, throws } from "node:assert/strict";
import { createHash } from "node:crypto";
import { baseMeta, bytesContent, type Entry } from "../../formats/archive/entry.ts";
import {
  extractEntries,
  MemberPolicy,
  normalizeMemberName,
  RULES,
  UnsafeMemberError,
} from "./safe_extract.ts";
import { assertGolden, snapshotTree } from "../../testdata/support/testing.ts";
import { systemRunner } from "../process.ts";
import { recordingRunner } from "../recording_runner.ts";

const PREFIX = 'Cannot import bundle "x.tgz"';
const text = new TextEncoder();

function file(path: string, body: string, mode = 0o644): Entry {
  return { ...baseMeta(path, mode), kind: "file", content: bytesContent(text.encode(body)) };
}
function dir(path: string, mode = 0o755): Entry {
  return { ...baseMeta(path, mode), kind: "dir" };
}
function symlink(path: string, target: string): Entry {
  return { ...baseMeta(path, 0o777), kind: "symlink", target };
}
function hardlink(path: string, target: string): Entry {
  return { ...baseMeta(path, 0o644), kind: "hardlink", target };
}

async function withDir(work: (dir: string, outside: string) => Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "osimg-extract-" });
  try {
    await Deno.mkdir(`${base}/dest`);
    await Deno.mkdir(`${base}/outside`);
    await Deno.writeTextFile(`${base}/outside/victim`, "precious\n");
    await work(`${base}/dest`, `${base}/outside`);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

/** Extracting `entries` fails with exactly `message`, and nothing outside dest changed. */
async function refuses(entries: Entry[], message: string): Promise<void> {
  await withDir(async (dest, outside) => {
    const before = await snapshotTree(outside);
    await rejects(
      extractEntries(entries, dest, { policy: "bundle", prefix: PREFIX }),
      (error: Error) => {
        ok(error instanceof UnsafeMemberError, String(error));
        assertEquals(error.message, message);
        return true;
      },
    );
    assertEquals(await snapshotTree(outside), before);
  });
}

Deno.test("member names are normalized: ./ prefixes, doubled and trailing slashes", () => {
  assertEquals(normalizeMemberName(PREFIX, "./img/manifest.xml"), "img/manifest.xml");
  assertEquals(normalizeMemberName(PREFIX, "././img//extra/"), "img/extra");
  assertEquals(normalizeMemberName(PREFIX, "./"), "");
});

Deno.test("hostile: absolute member name is refused", async () => {
  await refuses(
    [dir("img"), file("/etc/passwd", "root::0:0")],
    `${PREFIX}: member "/etc/passwd" has an absolute path`,
  );
});

Deno.test("hostile: .. traversal is refused", async () => {
  await refuses(
    [dir("img"), file("img/../../outside/victim", "owned")],
    `${PREFIX}: member "img/../../outside/victim" leaves the image directory`,
  );
  await refuses(
    [file("../etc/passwd", "x")],
    `${PREFIX}: member "../etc/passwd" leaves the image directory`,
  );
});

Deno.test("hostile: symlink escape (absolute and relative) is refused", async () => {
  await refuses(
    [dir("img"), symlink("img/link", "/etc")],
    `${PREFIX}: member "img/link" ${RULES.symlinkEscape("/etc")}`,
  );
  await refuses(
    [dir("img"), symlink("img/a/link", "../../outside")],
    `${PREFIX}: member "img/a/link" ${RULES.symlinkEscape("../../outside")}`,
  );
});

Deno.test("hostile: writing through an earlier symlink is refused", async () => {
  await refuses(
    [dir("img"), symlink("img/link", "."), file("img/link/x", "y")],
    `${PREFIX}: member "img/link/x" lies under the symbolic link "img/link"`,
  );
});

Deno.test("hostile: hardlink escape is refused", async () => {
  await refuses(
    [dir("img"), hardlink("img/passwd", "../outside/victim")],
    `${PREFIX}: member "img/passwd" ${RULES.hardlinkEscape("../outside/victim")}`,
  );
  await refuses(
    [dir("img"), file("other/x", "1"), hardlink("img/x", "other/x")],
    `${PREFIX}: member "img/x" ${RULES.hardlinkEscape("other/x")}`,
  );
  await refuses(
    [dir("img"), hardlink("img/x", "img/never")],
    `${PREFIX}: member "img/x" ${RULES.hardlinkDangling("img/never")}`,
  );
});

Deno.test("hostile: device nodes and FIFOs are refused in a bundle", async () => {
  await refuses(
    [dir("img"), { ...baseMeta("img/null", 0o666), kind: "chardev", devmajor: 1, devminor: 3 }],
    `${PREFIX}: member "img/null" is a device node, which a bundle may not contain`,
  );
  await refuses(
    [dir("img"), { ...baseMeta("img/sda", 0o660), kind: "blockdev", devmajor: 8, devminor: 0 }],
    `${PREFIX}: member "img/sda" is a device node, which a bundle may not contain`,
  );
  await refuses(
    [dir("img"), { ...baseMeta("img/pipe", 0o644), kind: "fifo" }],
    `${PREFIX}: member "img/pipe" is a FIFO, which a bundle may not contain`,
  );
});

Deno.test("hostile: a member longer than its declared size is refused", async () => {
  const liar: Entry = {
    ...baseMeta("img/big", 0o644),
    kind: "file",
    content: {
      size: 4,
      async *open() {
        yield text.encode("1234");
        yield text.encode("5678");
      },
    },
  };
  await refuses([dir("img"), liar], `${PREFIX}: member "img/big" ${RULES.oversize(4)}`);
  const short: Entry = { ...liar, content: { size: 10, open: liar.content.open } };
  await refuses([dir("img"), short], `${PREFIX}: member "img/big" ${RULES.undersize(10, 8)}`);
});

Deno.test("hostile: a duplicate member and a stray top-level file are refused", async () => {
  await refuses(
    [dir("img"), file("img/a", "1"), file("img/a", "2")],
    `${PREFIX}: member "img/a" appears twice in the archive`,
  );
  await refuses(
    [file("README", "hi")],
    `${PREFIX}: member "README" lies outside any image directory`,
  );
});

Deno.test("a clean bundle tree extracts with modes, digests and in-tree links", async () => {
  await withDir(async (dest) => {
    const result = await extractEntries(
      [
        dir("./"),
        dir("./img/"),
        file("./img/manifest.xml", "<xcatimage/>\n"),
        file("./img/kit/bin/tool", "#!/bin/sh\n", 0o4755),
        symlink("./img/kit/current", "bin/tool"),
        hardlink("./img/kit/again", "img/kit/bin/tool"),
        dir("./img/ro", 0o555),
        file("./img/ro/inside", "x", 0o444),
      ],
      dest,
      { policy: "bundle", prefix: PREFIX },
    );
    assertEquals(result.entries, 7);
    assertEquals(
      result.files.get("img/manifest.xml")?.sha256,
      createHash("sha256").update("<xcatimage/>\n").digest("hex"),
    );
    assertEquals(result.files.get("img/kit/again"), result.files.get("img/kit/bin/tool"));
    // setuid is dropped from bundle files; read-only directories keep their mode at the end.
    assertEquals((await Deno.stat(`${dest}/img/kit/bin/tool`)).mode! & 0o7777, 0o755);
    assertEquals((await Deno.stat(`${dest}/img/ro`)).mode! & 0o7777, 0o555);
    assertEquals(await Deno.readLink(`${dest}/img/kit/current`), "bin/tool");
    await Deno.chmod(`${dest}/img/ro`, 0o755);
  });
});

Deno.test("a root image keeps absolute symlinks, devices and setuid, and never follows links", async () => {
  await withDir(async (dest, outside) => {
    await extractEntries(
      [
        dir("rootimg"),
        symlink("rootimg/etc", outside),
        symlink("rootimg/awk", "/etc/alternatives/awk"),
        { ...baseMeta("rootimg/null", 0o666), kind: "chardev", devmajor: 1, devminor: 3 },
        { ...baseMeta("rootimg/fifo", 0o600), kind: "fifo" },
        file("rootimg/su", "elf", 0o4755),
      ],
      dest,
      { policy: "rootimage", prefix: PREFIX, keepOwners: true, runner: systemRunner },
    );
    assertEquals(await Deno.readLink(`${dest}/rootimg/awk`), "/etc/alternatives/awk");
    const info = await Deno.lstat(`${dest}/rootimg/null`);
    if (Deno.uid() === 0) ok(info.isCharDevice, "char device created");
    assertEquals((await Deno.stat(`${dest}/rootimg/su`)).mode! & 0o7777, 0o4755);
    await Deno.mkdir(`${dest}/again`);
    await rejects(
      extractEntries(
        [dir("r"), symlink("r/etc", outside), file("r/etc/victim", "owned")],
        `${dest}/again`,
        { policy: "rootimage", prefix: PREFIX, runner: systemRunner },
      ),
      (error: Error) => error.message.endsWith(`lies under the symbolic link "r/etc"`),
    );
    assertEquals(await Deno.readTextFile(`${outside}/victim`), "precious\n");
  });
});

Deno.test("a root image's devices and FIFOs are made by these mknod commands, through the runner", async () => {
  await withDir(async (dest) => {
    // Recorded, then really run: the nodes must exist for their modes and times to be set.
    const runner = recordingRunner({ passThrough: systemRunner });
    await extractEntries(
      [
        dir("rootimg"),
        dir("rootimg/dev"),
        { ...baseMeta("rootimg/dev/null", 0o666), kind: "chardev", devmajor: 1, devminor: 3 },
        { ...baseMeta("rootimg/dev/sda 1", 0o660), kind: "blockdev", devmajor: 8, devminor: 1 },
        { ...baseMeta("rootimg/run/initctl", 0o600), kind: "fifo" },
      ],
      dest,
      { policy: "rootimage", prefix: PREFIX, runner },
    );
    await assertGolden("safe_extract_mknod.argv", runner.transcript({ [dest]: "<dest>" }));
    assertEquals(runner.runs.map((run) => run.kind), ["run", "run", "run"]);
    ok((await Deno.lstat(`${dest}/rootimg/run/initctl`)).isFifo, "the FIFO was really made");
  });
});

Deno.test("the policy alone reports without writing (verify's use)", () => {
  const policy = new MemberPolicy("bundle", "Bundle");
  ok(policy.check(dir("./")) === undefined);
  assertEquals(policy.check(dir("./img/"))?.path, "img");
  throws(() => policy.check(file("./img/../x", "")), /leaves the image directory/);
});
