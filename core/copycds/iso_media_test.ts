// The MediaTree over an ISO file: copies equal the source and bsdtar's extraction, metadata reads,
// fingerprints, and one test per hostile image (refused, nothing written).

import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { ConflictError, InvalidInputError } from "../errors.ts";
import { silentProgress } from "../progress.ts";
import { openIsoMedia, type OpenIsoMediaOptions } from "./iso_media.ts";
import { describeTree } from "../../testdata/support/tree_fixture.ts";
import { snapshotTree } from "../../testdata/support/testing.ts";
import { run } from "../../testdata/support/process.ts";
import {
  makeIso,
  makeMediaTree,
  recordOf,
  rootExtent,
  setBothEndian32,
  suspEntryOffset,
} from "../../testdata/support/iso_fixture.ts";

/** A temporary directory holding the media tree (`src`) and an image of it (`media.iso`). */
async function fixture(flags: string[] = ["-R", "-J", "-joliet-long", "--hardlinks"], extra = "") {
  const dir = await Deno.makeTempDir({ prefix: "osimg-isomedia-" });
  await makeMediaTree(`${dir}/src`);
  if (extra) await run(["sh", "-euc", extra], { cwd: `${dir}/src` });
  await makeIso(`${dir}/src`, `${dir}/media.iso`, flags);
  return {
    dir,
    iso: `${dir}/media.iso`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function copyOut(iso: string, destination: string, options: OpenIsoMediaOptions = {}) {
  await Deno.mkdir(destination);
  await using media = await openIsoMedia(iso, options);
  await media.copyTo(destination, silentProgress);
}

Deno.test("iso media: the copy of an xorriso image equals its source (contents, modes, links, mtimes)", async () => {
  await using media = await fixture();
  await copyOut(media.iso, `${media.dir}/out`);
  assertEquals(
    await describeTree(`${media.dir}/out`, { xattrs: false }),
    await describeTree(`${media.dir}/src`, { xattrs: false }),
  );
  // The destination itself takes the media root's mode and time.
  const root = await Deno.stat(`${media.dir}/out`);
  assertEquals([root.mode! & 0o7777, root.mtime!.getTime()], [
    0o755,
    Date.UTC(2023, 4, 6, 7, 8, 9),
  ]);
});

Deno.test("iso media: the copy equals xorriso's own extraction (-osirrox on -extract)", async () => {
  await using media = await fixture(["-R", "-J"]);
  await copyOut(media.iso, `${media.dir}/out`);
  await run(["xorriso", "-osirrox", "on", "-indev", media.iso, "-extract", "/", `${media.dir}/x`]);
  // xorriso writes files sharing one extent as copies; osimg links them (so a copy never
  // writes more than the image holds). Everything else must agree.
  const unlinked = async (dir: string) =>
    (await describeTree(dir, { xattrs: false })).map((line) => line.replace(/ nlink=.*$/, ""));
  assertEquals(await unlinked(`${media.dir}/out`), await unlinked(`${media.dir}/x`));
});

for (
  const [name, iso] of [
    ["Debian's ipxe.iso (ipxe)", "/usr/lib/ipxe/ipxe.iso"],
    [
      "Debian's grub-rescue-cdrom.iso (grub-rescue-pc, hybrid MBR)",
      "/usr/lib/grub-rescue/grub-rescue-cdrom.iso",
    ],
  ]
) {
  Deno.test(`iso media: ${name} copies byte for byte as bsdtar -xf extracts it`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "osimg-isomedia-" });
    try {
      await copyOut(iso!, `${dir}/out`);
      await Deno.mkdir(`${dir}/bsdtar`);
      await run(["bsdtar", "-xf", iso!, "-C", `${dir}/bsdtar`]);
      const ours = await describeTree(`${dir}/out`, { xattrs: false });
      ok(ours.length > 5, "the image has content");
      assertEquals(ours, await describeTree(`${dir}/bsdtar`, { xattrs: false }));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("iso media: progress advances by every byte of content, totalBytes says how many", async () => {
  await using media = await fixture();
  await using tree = await openIsoMedia(media.iso);
  let advanced = 0;
  const labels: string[] = [];
  await Deno.mkdir(`${media.dir}/out`);
  await tree.copyTo(`${media.dir}/out`, {
    advance: (amount) => void (advanced += amount),
    label: (text) => void labels.push(text),
    done() {},
  });
  assertEquals(advanced, tree.totalBytes);
  ok(tree.totalBytes > 70000 + 5000);
  ok(labels.includes("repodata/primary.xml.gz"));
});

Deno.test("iso media: readFile gives a metadata file, undefined for a directory or nothing", async () => {
  await using media = await fixture();
  await using tree = await openIsoMedia(media.iso, { source: "rhel.iso" });
  assertEquals(
    new TextDecoder().decode(await tree.readFile("/.discinfo", 4096)),
    await Deno.readTextFile(`${media.dir}/src/.discinfo`),
  );
  assertEquals(new TextDecoder().decode(await tree.readFile("repodata/two", 100)), "same\n");
  assertEquals(await tree.readFile("/repodata", 4096), undefined);
  assertEquals(await tree.readFile("/media.1/products", 4096), undefined);
  assertEquals(await tree.readFile("/debian", 4096), undefined);
  await rejects(
    tree.readFile("/repodata/primary.xml.gz", 4096),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      error.message ===
        'Cannot read ISO image "rhel.iso": "/repodata/primary.xml.gz" is 70000 bytes, more than the 4096 a metadata file may have',
  );
});

Deno.test("iso media: the fingerprint is the same for the same image, different for another", async () => {
  await using media = await fixture();
  const print = async (path: string) => {
    await using tree = await openIsoMedia(path);
    return await tree.fingerprint();
  };
  const first = await print(media.iso);
  assertEquals(await print(media.iso), first);
  ok(/^iso9660:[0-9a-f]{64}$/.test(first));
  await makeIso(`${media.dir}/src`, `${media.dir}/other.iso`, ["-R", "-V", "OTHER"]);
  ok(await print(`${media.dir}/other.iso`) !== first);
});

Deno.test("iso media: copyTo refuses a destination that is not empty and writes nothing", async () => {
  await using media = await fixture();
  await Deno.mkdir(`${media.dir}/out`);
  await Deno.writeTextFile(`${media.dir}/out/keep`, "mine");
  const before = await snapshotTree(`${media.dir}/out`);
  await using tree = await openIsoMedia(media.iso, { source: "x.iso" });
  await rejects(
    tree.copyTo(`${media.dir}/out`, silentProgress),
    (error: unknown) =>
      error instanceof ConflictError &&
      error.message === `Cannot copy "x.iso": "${media.dir}/out" is not empty`,
  );
  assertEquals(await snapshotTree(`${media.dir}/out`), before);
});

Deno.test("iso media: setuid, setgid and sticky bits of the media are dropped", async () => {
  await using media = await fixture(
    ["-R"],
    "chmod 4755 run.sh && mkdir sticky && chmod 1777 sticky && chmod 2755 private",
  );
  await copyOut(media.iso, `${media.dir}/out`);
  const mode = async (path: string) => (await Deno.stat(`${media.dir}/out/${path}`)).mode! & 0o7777;
  assertEquals([await mode("run.sh"), await mode("sticky"), await mode("private")], [
    0o755,
    0o777,
    0o755,
  ]);
});

// ---- Hostile images: each is refused with its rule, before anything is written. ----

/**
 * Makes the fixture image (Rock Ridge only), lets `patch` change its bytes, and asserts that
 * copying it fails with exactly `message` (after `Cannot read ISO image "evil.iso": `) and that
 * the destination stays empty.
 */
async function assertRefused(
  patch: (image: Uint8Array) => void,
  message: string | ((image: Uint8Array) => string),
  options: { extra?: string; limits?: OpenIsoMediaOptions["limits"] } = {},
): Promise<void> {
  await using media = await fixture(["-R"], options.extra ?? "");
  const image = await Deno.readFile(media.iso);
  patch(image);
  await Deno.writeFile(media.iso, image);
  const expected = typeof message === "string" ? message : message(image);
  const destination = `${media.dir}/out`;
  await Deno.mkdir(destination);
  const before = await snapshotTree(destination);
  await rejects(
    (async () => {
      await using tree = await openIsoMedia(media.iso, {
        source: "evil.iso",
        limits: options.limits,
      });
      await tree.copyTo(destination, silentProgress);
    })(),
    (error: unknown) => {
      ok(error instanceof InvalidInputError, String(error));
      assertEquals(error.message, `Cannot read ISO image "evil.iso": ${expected}`);
      return true;
    },
  );
  assertEquals(await snapshotTree(destination), before);
  assertEquals(before, []);
}

/** Overwrites the Rock Ridge name of `path` (same length unless `length` says otherwise). */
function renameTo(image: Uint8Array, path: string, name: string, length?: number) {
  const at = suspEntryOffset(image, recordOf(image, path), "NM");
  image.set(new TextEncoder().encode(name), at + 5);
  if (length !== undefined) image[at + 2] = 5 + length;
}

Deno.test("hostile iso: a directory whose extent is the root's (directory loop)", async () => {
  await assertRefused(
    (image) => setBothEndian32(image, recordOf(image, "d1/d2").at + 2, rootExtent(image)),
    '"/d1/d2" is a directory that is already in the tree (a directory loop)',
  );
});

Deno.test("hostile iso: a name containing '/'", async () => {
  await assertRefused(
    (image) => renameTo(image, "hello", "he/lo"),
    '"/he/lo" has a "/" in its name',
  );
});

Deno.test("hostile iso: a name that is '..'", async () => {
  await assertRefused((image) => renameTo(image, "one", "..", 2), '"/.." is named ".."');
});

Deno.test("hostile iso: a name containing NUL", async () => {
  await assertRefused(
    (image) => renameTo(image, "hello", "he\0lo"),
    '"/he\0lo" has a NUL byte in its name',
  );
});

Deno.test("hostile iso: an empty name", async () => {
  await assertRefused((image) => renameTo(image, "one", "", 0), '"/" has an empty name');
});

Deno.test("hostile iso: a Rock Ridge name flagged as '.' (NM CURRENT)", async () => {
  await assertRefused(
    (image) => {
      image[suspEntryOffset(image, recordOf(image, "hello"), "NM") + 4] = 0x02;
    },
    '"/HELLO" has a Rock Ridge name that is "." or ".."',
  );
});

Deno.test("hostile iso: a file whose extent lies past the end of the image", async () => {
  await assertRefused(
    (image) => setBothEndian32(image, recordOf(image, "hello").at + 2, 0x100000),
    (image) =>
      `"/hello" has content past the end of the image (bytes ${0x100000 * 2048}..${
        0x100000 * 2048 + 6
      } of a ${image.byteLength}-byte image)`,
  );
});

Deno.test("hostile iso: an absurd file size (4 GiB in a small image)", async () => {
  await assertRefused(
    (image) => setBothEndian32(image, recordOf(image, "hello").at + 10, 0xffffffff),
    (image) => {
      const start = recordOf(image, "hello").record.extent * 2048;
      return `"/hello" has content past the end of the image (bytes ${start}..${
        start + 0xffffffff
      } of a ${image.byteLength}-byte image)`;
    },
  );
});

Deno.test("hostile iso: an absurd directory size", async () => {
  await assertRefused(
    (image) => setBothEndian32(image, recordOf(image, "many").at + 10, 0xfffff000),
    '"/many" is a directory of 4294963200 bytes (more than 67108864)',
  );
});

Deno.test("hostile iso: two different files whose contents overlap", async () => {
  await assertRefused(
    (image) => {
      const discinfo = recordOf(image, ".discinfo").record.extent;
      setBothEndian32(image, recordOf(image, "run.sh").at + 2, discinfo);
    },
    // Both start at one byte; the shorter (run.sh, 10 bytes) is met first.
    (image) =>
      `"/.discinfo" has content that overlaps the content of "/run.sh" (at byte ${
        recordOf(image, ".discinfo").record.extent * 2048
      })`,
  );
});

Deno.test("hostile iso: an absolute symbolic link", async () => {
  await assertRefused(
    () => {},
    '"/evil" is a symbolic link to "/etc/passwd", which leaves the media',
    { extra: "ln -s /etc/passwd evil" },
  );
});

Deno.test("hostile iso: a symbolic link that climbs out with '..'", async () => {
  await assertRefused(
    () => {},
    '"/repodata/evil" is a symbolic link to "../../etc/shadow", which leaves the media',
    { extra: "ln -s ../../etc/shadow repodata/evil" },
  );
});

Deno.test("hostile iso: a link that escapes only through another link (debian -> ., x -> debian/..)", async () => {
  await assertRefused(
    () => {},
    '"/sneaky" is a symbolic link to "debian/..", which leaves the media',
    { extra: "ln -s debian/.. sneaky" },
  );
});

Deno.test("hostile iso: a Rock Ridge continuation area that continues into itself (CE loop)", async () => {
  await assertRefused(
    (image) => {
      const located = recordOf(image, "longlink");
      const ce = suspEntryOffset(image, located, "CE");
      const view = new DataView(image.buffer);
      const block = view.getUint32(ce + 4, true);
      const offset = view.getUint32(ce + 12, true);
      setBothEndian32(image, ce + 20, 28);
      // The area's first entry becomes a CE pointing back at the area.
      const area = block * 2048 + offset;
      image.set(image.subarray(ce, ce + 28), area);
    },
    '"/LONGLINK" has a Rock Ridge continuation area loop (CE)',
  );
});

Deno.test("hostile iso: a Rock Ridge continuation area that crosses a block", async () => {
  await assertRefused(
    (image) => {
      const ce = suspEntryOffset(image, recordOf(image, "longlink"), "CE");
      setBothEndian32(image, ce + 12, 2040);
    },
    '"/LONGLINK" has a Rock Ridge continuation area that crosses a block boundary',
  );
});

Deno.test("hostile iso: directories that together read more than the bound (shared blocks)", async () => {
  // By default the bound is the image's size; real directories never share blocks.
  await assertRefused(
    () => {},
    '"/d1/d2" takes the directories past 8192 bytes in all (directories or continuation areas that share blocks)',
    { limits: { maxMetadataBytes: 8192 } },
  );
});

Deno.test("hostile iso: nesting deeper than the limit", async () => {
  await assertRefused(
    () => {},
    '"/d1/d2/d3/d4/d5/d6" is nested more than 5 directories deep',
    { limits: { maxDepth: 5 } },
  );
});

Deno.test("hostile iso: more entries than the limit", async () => {
  await assertRefused(
    () => {},
    // Counted as walked: the root's entries, then depth first.
    '"/d1/d2/d3/d4/d5/d6/d7" is beyond the limit of 20 entries',
    { limits: { maxEntries: 20 } },
  );
});

Deno.test("hostile iso: a multi-extent file without its last part", async () => {
  await assertRefused(
    (image) => {
      image[recordOf(image, "hello").at + 25] = 0x80;
    },
    '"/hello" is a multi-extent file that ends without its last part',
  );
});

Deno.test("hostile iso: a device node (Rock Ridge PX mode)", async () => {
  await assertRefused(
    (image) => {
      const px = suspEntryOffset(image, recordOf(image, "hello"), "PX");
      setBothEndian32(image, px + 4, 0o020644);
    },
    '"/hello" is a device node, which media may not contain',
  );
});
