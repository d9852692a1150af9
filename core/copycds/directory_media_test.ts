import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { snapshotTree } from "../../testdata/support/testing.ts";
import { MEDIA_FIXTURES, writeMediaTree } from "../../testdata/support/media_fixture.ts";
import { silentProgress } from "../progress.ts";
import { InvalidInputError } from "../errors.ts";
import { escapingLinkProblem, openDirectoryMedia } from "./directory_media.ts";

async function withDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "osimg-media-test-" });
  try {
    await work(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("directory media copies files, modes, mtimes, symlinks and hard links", async () => {
  await withDir(async (work) => {
    const source = await writeMediaTree(join(work, "src"), MEDIA_FIXTURES[0]!);
    await Deno.link(join(source, "EULA"), join(source, "EULA.hardlink"));
    await using media = await openDirectoryMedia(source);
    await Deno.mkdir(join(work, "dst"));
    let advanced = 0;
    await media.copyTo(join(work, "dst"), {
      ...silentProgress,
      advance: (n) => void (advanced += n),
    });
    assertEquals(await snapshotTree(join(work, "dst")), await snapshotTree(source));
    assertEquals(advanced, media.totalBytes);
    assertEquals(await Deno.readLink(join(work, "dst/boot-images")), "images/pxeboot");
    assertEquals(
      (await Deno.stat(join(work, "dst/EULA.hardlink"))).ino,
      (await Deno.stat(join(work, "dst/EULA"))).ino,
    );
    assertEquals((await Deno.stat(join(work, "dst/isolinux"))).mtime?.getTime(), 1_700_000_000_000);
  });
});

Deno.test("directory media reads small metadata files and refuses an oversized one", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(join(dir, ".discinfo"), "1\nRocky Linux 9.3\nx86_64\n");
    await using media = await openDirectoryMedia(dir);
    assertEquals(
      new TextDecoder().decode(await media.readFile("/.discinfo", 100)),
      "1\nRocky Linux 9.3\nx86_64\n",
    );
    assertEquals(await media.readFile("/.treeinfo", 100), undefined);
    await rejects(media.readFile("/.discinfo", 4), /more than the 4 a metadata file may have/);
  });
});

Deno.test("a metadata path through a symlinked directory is not followed", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(join(dir, "real"));
    await Deno.writeTextFile(join(dir, "real/products"), "x\n");
    await Deno.symlink("real", join(dir, "media.1"));
    await using media = await openDirectoryMedia(dir);
    assertEquals(await media.readFile("/media.1/products", 100), undefined);
  });
});

Deno.test("directory media refuses a symlink that points outside the folder", async () => {
  await withDir(async (dir) => {
    await Deno.symlink("../../etc/passwd", join(dir, "escape"));
    await rejects(openDirectoryMedia(dir), (error: Error) => {
      ok(error instanceof InvalidInputError);
      assertEquals(
        error.message,
        `Cannot copy the media '${dir}': 'escape' is a symbolic link to '../../etc/passwd': it points outside the media.`,
      );
      return true;
    });
  });
});

Deno.test("directory media refuses an absolute symlink", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(join(dir, "sub"));
    await Deno.symlink("/etc", join(dir, "sub/etc"));
    await rejects(
      openDirectoryMedia(dir),
      /'sub\/etc' is a symbolic link to '\/etc': it is an absolute link/,
    );
  });
});

Deno.test("directory media refuses a FIFO", async () => {
  await withDir(async (dir) => {
    const made = await new Deno.Command("mkfifo", { args: [join(dir, "pipe")] }).output();
    assertEquals(made.code, 0);
    await rejects(
      openDirectoryMedia(dir),
      /'pipe' is a FIFO; media holds only files, directories and links/,
    );
  });
});

Deno.test("directory media refuses a device node", async () => {
  await withDir(async (dir) => {
    const made = await new Deno.Command("mknod", { args: [join(dir, "null"), "c", "1", "3"] })
      .output();
    assertEquals(made.code, 0, new TextDecoder().decode(made.stderr));
    await rejects(openDirectoryMedia(dir), /'null' is a device node/);
  });
});

Deno.test("directory media's fingerprint is stable and changes when a file does", async () => {
  await withDir(async (dir) => {
    await writeMediaTree(dir, MEDIA_FIXTURES[0]!);
    const first = await (await openDirectoryMedia(dir)).fingerprint();
    assertEquals(await (await openDirectoryMedia(dir)).fingerprint(), first);
    ok(first.startsWith("directory-sha256:"));
    await Deno.writeTextFile(join(dir, "EXTRA"), "x");
    ok(await (await openDirectoryMedia(dir)).fingerprint() !== first);
  });
});

Deno.test("escapingLinkProblem allows links that stay inside the media", () => {
  assertEquals(escapingLinkProblem("a/b/link", "../c"), undefined);
  assertEquals(escapingLinkProblem("a/link", "../../x"), "it points outside the media");
  assertEquals(escapingLinkProblem("link", ".."), "it points outside the media");
});
