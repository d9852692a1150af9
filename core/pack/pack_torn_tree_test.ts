// packimage on a tree that changes while it is packed (as under a concurrent rmimage): it must
// fail naming the path and publish nothing, for every archive method.

import { deepStrictEqual as assertEquals, equal, ok, rejects } from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Context, Io } from "../context.ts";
import { IntegrityError } from "../errors.ts";
import { packImage, type PackMethod } from "./pack.ts";
import { defineImage, makeFixtureTree } from "../../testdata/support/pack_testing.ts";
import { systemRunner } from "../process.ts";
import { silentProgress } from "../progress.ts";
import { textReporter } from "../reporter.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";
import type { Store } from "../store/store.ts";
import { testRoot } from "../../testdata/support/testing.ts";

const ROOTIMG = "/install/netboot/test/x86_64/img/rootimg";

/** A Context on `root` (the in-process CLI gives no way to reach packImage's test seam). */
function contextFor(root: string, stderr: string[]): Context & Disposable {
  let store: Store | undefined;
  const io: Io = {
    out() {},
    err: (text) => void stderr.push(text),
    readStdin: () => Promise.resolve(""),
    stdoutIsTerminal: false,
    stderrIsTerminal: false,
  };
  return {
    root,
    dbPath: `${root}/etc/xcat/osimg.sqlite`,
    cwd: root,
    env: {},
    io,
    reporter: textReporter(io),
    debug: false,
    color: false,
    runner: systemRunner,
    now: () => new Date(),
    store: () => Promise.resolve(store ??= openSqliteStore(`${root}/etc/xcat/osimg.sqlite`)),
    progress: () => silentProgress,
    [Symbol.dispose]: () => store?.close(),
  };
}

/** Every file of the image directory but the rootimg tree, with its digest. */
function imageFiles(dirHost: string): string[] {
  return [...Deno.readDirSync(dirHost)].filter((entry) => entry.name !== "rootimg").map((entry) =>
    `${entry.name} ${
      createHash("sha256").update(Deno.readFileSync(`${dirHost}/${entry.name}`)).digest("hex")
    }`
  ).sort();
}

/**
 * Packs image `img` once (the archive a node boots now), then packs it again while `change`
 * runs from the walker's seam, and checks that the second pack fails with `message` and leaves
 * the image directory's files byte-identical: no new archive, no temporary, no stale one removed.
 */
async function packFailsWhile(
  method: PackMethod,
  change: (path: string, rootimgHost: string) => void,
  message: RegExp,
) {
  await using t = await testRoot();
  const { rootimgHost, dirHost } = await defineImage(t.root, "img");
  await makeFixtureTree(rootimgHost);
  await t.ok(["packimage", "-m", method, "-c", "zstd", "img"]);
  Deno.writeTextFileSync(`${dirHost}/rootimg.tar.gz`, "a stale variant, removed only on success\n");
  const before = imageFiles(dirHost);
  const stderr: string[] = [];
  using ctx = contextFor(t.root, stderr);
  await rejects(
    packImage(ctx, "img", {
      method,
      compression: "zstd",
      syncFiles: true,
      verbose: false,
      visited: (path) => change(path, rootimgHost),
    }),
    (error: unknown) => {
      ok(error instanceof IntegrityError, String(error));
      ok(message.test(error.message), error.message);
      return true;
    },
  );
  assertEquals(imageFiles(dirHost), before);
  // Nothing else was said: no "Note: skipped" lines for what went missing.
  assertEquals(stderr, []);
}

const TORN = (path: string, what = "vanished while the tree was being read.") =>
  new RegExp(
    `^Cannot pack '${ROOTIMG}': "${path.replace(/[.]/g, "\\.")}" ${
      what.replace(/[.()]/g, "\\$&")
    } Something else is changing the image; nothing was written \\(the previous archive is kept\\)\\.$`,
  );

for (const method of ["cpio", "tar", "squashfs"] as const) {
  Deno.test(`packimage -m ${method}: a subtree removed while the tree is packed (rm -rf) fails and publishes nothing`, async () => {
    await packFailsWhile(method, (path, rootimgHost) => {
      // rmimage's recursive delete reaching usr/ after packimage listed the root.
      if (path === "etc") Deno.removeSync(`${rootimgHost}/usr`, { recursive: true });
    }, TORN("usr"));
  });
}

Deno.test("packimage: a file removed while its directory is walked fails naming it and publishes nothing", async () => {
  await packFailsWhile("cpio", (path, rootimgHost) => {
    if (path === "etc/hostname") Deno.removeSync(`${rootimgHost}/etc/passwd`);
  }, TORN("etc/passwd"));
});

Deno.test("packimage: a file removed after it was looked at, before it was read, fails and publishes nothing", async () => {
  await packFailsWhile("tar", (path, rootimgHost) => {
    if (path === "etc/passwd") Deno.removeSync(`${rootimgHost}/etc/passwd`);
  }, TORN("etc/passwd"));
});

Deno.test("packimage: a file replaced by a directory before it is read fails and publishes nothing", async () => {
  await packFailsWhile("cpio", (path, rootimgHost) => {
    if (path === "etc/empty") {
      Deno.removeSync(`${rootimgHost}/etc/empty`);
      Deno.mkdirSync(`${rootimgHost}/etc/empty`);
    }
  }, TORN("etc/empty", "changed type while the tree was being read (it was a file)."));
});

Deno.test("packimage: a file that grows before it is read fails and publishes nothing", async () => {
  await packFailsWhile(
    "cpio",
    (path, rootimgHost) => {
      if (path === "etc/hostname") {
        Deno.writeTextFileSync(`${rootimgHost}/etc/hostname`, "longer\n");
      }
    },
    /^Cannot pack '.*': File "etc\/hostname" changed while being read: expected 5 bytes, found more\./,
  );
});

Deno.test("packimage: a socket is still only a note, and the pack succeeds", async () => {
  await using t = await testRoot();
  const { rootimgHost, dirHost } = await defineImage(t.root, "img");
  await makeFixtureTree(rootimgHost);
  const listener = Deno.listen({ transport: "unix", path: `${rootimgHost}/etc/control.sock` });
  try {
    const result = await t.ok(["packimage", "img"]);
    ok(
      result.stderr.includes(
        `Note: skipped ${ROOTIMG}/etc/control.sock: socket (archives cannot hold sockets)`,
      ),
      result.stderr,
    );
    equal(Deno.statSync(`${dirHost}/rootimg.cpio.gz`).isFile, true);
  } finally {
    listener.close();
  }
});
