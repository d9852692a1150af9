// All-or-nothing imports under real failures: kill -9 of real osimg processes at random moments,
// and a full file system (a 2 MiB tmpfs as the root).

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { cp } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { runCli } from "../../main.ts";
import { makeBundle, netbootFiles } from "../../testdata/support/bundle_testing.ts";
import { snapshotTree } from "../../testdata/support/testing.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";
const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** Runs osimg in-process against `root`. */
async function osimg(root: string, args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const status = await runCli(["--root", root, ...args], {
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    cwd: root,
    io: {
      out: (text) => void (stdout += text),
      err: (text) => void (stderr += text),
      readStdin: () => Promise.resolve(""),
      stdoutIsTerminal: false,
      stderrIsTerminal: false,
    },
  });
  return { status, stdout, stderr };
}

/** The tree (DB files aside) and the definition tables of a root. */
async function state(root: string): Promise<string> {
  const tree = (await snapshotTree(root)).filter((line) => !/osimg\.sqlite/.test(line));
  const tables: string[] = [];
  for (const table of ["osimage", "linuximage", "postscripts"]) {
    const output = await osimg(root, ["tabdump", table]);
    assertEquals(output.status, 0, output.stderr);
    tables.push(output.stdout);
  }
  return [...tree, ...tables].join("\n");
}

/** A netboot image whose extra directory holds `count` files: a long commit to interrupt. */
function manyFiles(version: string, count: number): Record<string, string | Uint8Array> {
  const files: Record<string, string | Uint8Array> = {};
  for (const [path, content] of Object.entries(netbootFiles())) {
    if (typeof content === "string") files[path] = content.replace("vmlinuz", `vmlinuz ${version}`);
    else if (content instanceof Uint8Array) files[path] = content;
    else if (typeof content === "object" && "content" in content) files[path] = content.content;
  }
  for (let index = 0; index < count; index++) {
    files[`${IMAGE}/extra/tmp/mydir/many/f${index}`] = `${version} ${index}\n`;
  }
  return files;
}

Deno.test("kill -9 at random moments of real imports always leaves the old or the new state", async () => {
  const work = await Deno.makeTempDir({ prefix: "osimg-kill-" });
  try {
    const oldBundle = `${work}/old.tgz`;
    const newBundle = `${work}/new.tgz`;
    await makeBundle(oldBundle, { files: manyFiles("old", 300), sums: true });
    await makeBundle(newBundle, { files: manyFiles("new", 300), sums: true });
    await Deno.writeFile(`${work}/empty.tgz`, new Uint8Array());
    const base = `${work}/base`;
    await Deno.mkdir(base);
    assertEquals((await osimg(base, ["imgimport", oldBundle])).status, 0);
    await osimg(base, ["chdef", "-t", "osimage", "-o", IMAGE, "description=before"]);
    const oldState = await state(base);
    const finished = `${work}/finished`;
    await cp(base, finished, { recursive: true, verbatimSymlinks: true });

    const spawnImport = (root: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-check", MAIN, "--root", root, "imgimport", newBundle],
        stdout: "null",
        stderr: "null",
      }).spawn();
    // One undisturbed run gives the new state and how long a whole run takes.
    const started = performance.now();
    assertEquals((await spawnImport(finished).status).code, 0);
    const duration = performance.now() - started;
    const newState = await state(finished);
    ok(newState !== oldState);

    const outcomes = { old: 0, new: 0, midCommit: 0 };
    const deadline = performance.now() + 60_000;
    for (let trial = 0; trial < 30 && performance.now() < deadline; trial++) {
      const root = `${work}/trial${trial}`;
      await cp(base, root, { recursive: true, verbatimSymlinks: true });
      const child = spawnImport(root);
      // Most of a run is Deno starting; aim the kills at the import itself.
      const delay = duration * (0.55 + 0.5 * Math.random());
      await new Promise((done) => setTimeout(done, delay));
      try {
        child.kill("SIGKILL");
      } catch {
        // It finished first: a kill after the end is a legitimate sample too.
      }
      await child.status;
      const staging = `${root}/install/.osimg-staging`;
      const leftovers = await Array.fromAsync(Deno.readDir(staging)).catch(() => []);
      for (const entry of leftovers) {
        if (await Deno.stat(`${staging}/${entry.name}/journal.json`).catch(() => undefined)) {
          outcomes.midCommit++;
        }
      }
      // The next run of imgimport (here with a bundle that fails at once) recovers first.
      const next = await osimg(root, ["imgimport", `${work}/empty.tgz`]);
      assertEquals(next.status, 1, next.stderr);
      const after = await state(root);
      if (after === oldState) outcomes.old++;
      else if (after === newState) outcomes.new++;
      else assertEquals(after, newState, `trial ${trial} (kill at ${Math.round(delay)} ms)`);
      await Deno.remove(root, { recursive: true });
    }
    ok(outcomes.old + outcomes.new >= 10, JSON.stringify(outcomes));
    console.log(
      `kill -9 trials: ${JSON.stringify(outcomes)}, a whole run ${Math.round(duration)} ms`,
    );
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test({
  name: "a full disk (2 MiB tmpfs root) gives one clean error and changes nothing",
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "osimg-full-" });
    const root = `${work}/root`;
    await Deno.mkdir(root);
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=2m", "tmpfs", root],
      stderr: "piped",
    }).output();
    ok(mount.success, new TextDecoder().decode(mount.stderr));
    try {
      const small = `${work}/small.tgz`;
      await makeBundle(small, { files: netbootFiles(), sums: true });
      // No reserve: this test is about the file system's own ENOSPC (a 2 MiB file system is
      // always inside the default reserve, see imgimport_space_test).
      const noReserve = { OSIMG_SPACE_RESERVE: "0" };
      assertEquals((await osimg(root, ["imgimport", small], noReserve)).status, 0);
      const before = await state(root);
      // Incompressible content larger than the whole file system.
      const files = netbootFiles();
      const big = new Uint8Array(3 * 1024 * 1024);
      for (let offset = 0; offset < big.length; offset += 65536) {
        crypto.getRandomValues(big.subarray(offset, offset + 65536));
      }
      // As the kernel: a file whose name promises no format, so it is written until the disk is full.
      files[`${IMAGE}/kernel`] = big;
      const bundle = `${work}/big.tgz`;
      await makeBundle(bundle, { files, sums: true });
      const output = await osimg(root, ["imgimport", bundle], noReserve);
      assertEquals(output.status, 1);
      assertEquals(
        output.stderr,
        `Error: Cannot import bundle "${bundle}": no space left on the device holding the ` +
          "install directory; nothing was changed\n",
      );
      assertEquals(await state(root), before);
      ok(!(await Deno.stat(`${root}/install/.osimg-staging`).catch(() => false)));
    } finally {
      await new Deno.Command("umount", { args: [root] }).output();
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name: "targets on another file system (a tmpfs at /tftpboot) are placed and replaced too",
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "osimg-xdev-" });
    const root = `${work}/root`;
    await Deno.mkdir(`${root}/tftpboot`, { recursive: true });
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=4m", "tmpfs", `${root}/tftpboot`],
    }).output();
    ok(mount.success);
    try {
      const files = netbootFiles();
      files[`${IMAGE}/manifest.xml`] = (files[`${IMAGE}/manifest.xml`] as string).replace(
        "<kernel>/install/netboot/rhels8.8.0/x86_64/compute/kernel</kernel>",
        "<kernel>/tftpboot/xcat/compute/kernel</kernel>",
      );
      const bundle = `${work}/x.tgz`;
      await makeBundle(bundle, { files, sums: true });
      assertEquals((await osimg(root, ["imgimport", bundle])).status, 0);
      await Deno.writeTextFile(`${root}/tftpboot/xcat/compute/kernel`, "local\n");
      const again = await osimg(root, ["imgimport", bundle]);
      assertEquals(again.status, 0, again.stderr);
      assertEquals(
        await Deno.readTextFile(`${root}/tftpboot/xcat/compute/kernel`),
        "vmlinuz bytes\n",
      );
      assertEquals(await Deno.readTextFile(`${root}/tftpboot/xcat/compute/kernel.ORIG`), "local\n");
      assertEquals(
        (await snapshotTree(`${root}/tftpboot`)).map((line) => line.split(" ")[1]),
        ["xcat", "xcat/compute", "xcat/compute/kernel", "xcat/compute/kernel.ORIG"],
      );
    } finally {
      await new Deno.Command("umount", { args: [`${root}/tftpboot`] }).output();
      await Deno.remove(work, { recursive: true });
    }
  },
});
