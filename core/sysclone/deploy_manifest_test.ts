// The deploy environment's manifest and objects, written from a real tree and read back.

import { createHash } from "node:crypto";
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { parseManifest } from "../../formats/sysclone/image_manifest.ts";
import { sh } from "../../testdata/support/process.ts";
import { writeDeployManifest } from "./deploy_manifest.ts";

Deno.test("deploy manifest: every path with its metadata and digest, each content once, linked not copied", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-manifest-" });
  try {
    const repo = `${dir}/repo`;
    await Deno.mkdir(`${repo}/etc/sub`, { recursive: true });
    await Deno.writeTextFile(`${repo}/etc/a`, "same\n");
    await Deno.writeTextFile(`${repo}/etc/sub/b c`, "same\n");
    await Deno.chmod(`${repo}/etc/sub/b c`, 0o4750);
    await Deno.symlink("sub/b c", `${repo}/etc/link`);
    await sh(["mkfifo", "-m", "600", `${repo}/fifo`]);
    // Modes independent of the umask.
    for (const path of ["etc", "etc/sub"]) await Deno.chmod(`${repo}/${path}`, 0o755);
    await Deno.chmod(`${repo}/etc/a`, 0o644);
    await Deno.utime(`${repo}/etc/a`, 1_600_000_000, 1_600_000_000);
    const written = await writeDeployManifest(repo, `${dir}/m`, `${dir}/files`);
    const digest = createHash("sha256").update("same\n").digest("hex");
    const entries = parseManifest(await Deno.readTextFile(`${dir}/m`), "m");
    deepStrictEqual(
      entries.map((e) => [e.path, e.type, e.mode.toString(8), e.digest ?? e.target ?? "-"]),
      [
        ["etc", "d", "755", "-"],
        ["etc/a", "f", "644", digest],
        ["etc/link", "l", "777", "sub/b c"],
        ["etc/sub", "d", "755", "-"],
        ["etc/sub/b c", "f", "4750", digest],
        ["fifo", "p", "600", "-"],
      ],
    );
    strictEqual(entries[1]!.mtime, 1_600_000_000);
    strictEqual(entries[1]!.size, 5);
    deepStrictEqual(written, { entries: 6, objects: 1 });
    deepStrictEqual([...Deno.readDirSync(`${dir}/files`)].map((e) => e.name), [digest]);
    // A hard link to the repository's file: the objects cost no space.
    strictEqual(
      (await Deno.stat(`${dir}/files/${digest}`)).ino,
      (await Deno.stat(`${repo}/etc/a`)).ino,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
