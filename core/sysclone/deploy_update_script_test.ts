// The update half of the deploy /init, run in busybox sh against a real tree and a real HTTP
// server: only changed files are fetched, gone ones removed, the node's own left alone, and a
// failed download changes nothing.

import { createHash } from "node:crypto";
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { existsSync } from "node:fs";
import { staticBusybox } from "../../testdata/support/debian_kernel.ts";
import { runTool, sh } from "../../testdata/support/process.ts";
import { snapshotTree } from "../../testdata/support/testing.ts";
import { NODE_OWN_PATHS, nodeOwnPattern } from "../../formats/sysclone/image_manifest.ts";
import { writeDeployManifest } from "./deploy_manifest.ts";
import { SYSCLONE_UPDATE_AWK, syscloneUpdateFunctions } from "./deploy_update_script.ts";

const ODD = "etc/odd name\\x";

/** The golden image before the change (what the node was cloned from). */
async function oldImage(dir: string): Promise<void> {
  for (const sub of ["etc", "usr/bin", "usr/share", "boot"]) {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
  }
  await Deno.writeTextFile(`${dir}/etc/conf`, "one\n");
  await Deno.writeTextFile(`${dir}/etc/gone`, "bye\n");
  await Deno.writeTextFile(`${dir}/etc/fstab`, "golden fstab\n");
  await Deno.writeTextFile(`${dir}/${ODD}`, "odd one\n");
  await Deno.writeTextFile(`${dir}/usr/bin/tool`, "#!/bin/sh\n");
  await Deno.chmod(`${dir}/usr/bin/tool`, 0o755);
  await Deno.writeTextFile(`${dir}/usr/share/big`, "x".repeat(100_000));
  await Deno.symlink("tool", `${dir}/usr/bin/link`);
}

/** A tree served like the deploy directory, recording each request's path. */
function serve(dir: string) {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    requests.push(path);
    try {
      return new Response(await Deno.readFile(`${dir}${path}`));
    } catch {
      return new Response("no\n", { status: 404 });
    }
  });
  return { port: server.addr.port, requests, close: () => server.shutdown() };
}

interface Fixture {
  dir: string;
  node: string;
  image: string;
  deploy: string;
}

/**
 * A node cloned from the old image (plus what the node made itself), the new image and its
 * deploy directory (manifest and objects).
 */
async function fixture(): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "osimg-update-" });
  const image = `${dir}/image`;
  const node = `${dir}/node`;
  const deploy = `${dir}/deploy`;
  await oldImage(image);
  await sh(["cp", "-a", image, node]);
  await Deno.mkdir(`${node}/etc/osimg`, { recursive: true });
  await writeDeployManifest(image, `${node}/etc/osimg/sysclone.manifest`, `${dir}/old-files`);
  await Deno.writeTextFile(`${node}/etc/fstab`, "UUID=node / ext4 defaults 0 1\n");
  await Deno.writeTextFile(`${node}/etc/hostname`, "cn01\n");
  await Deno.mkdir(`${node}/var/lib`, { recursive: true });
  await Deno.writeTextFile(`${node}/var/lib/node-state`, "mine\n");

  // The change on the golden client: one file's contents, one gone, one new, a link retargeted,
  // a mode, and fstab (the node keeps its own).
  await Deno.writeTextFile(`${image}/etc/conf`, "two\n");
  await Deno.remove(`${image}/etc/gone`);
  await Deno.writeTextFile(`${image}/${ODD}`, "odd two\n");
  await Deno.mkdir(`${image}/usr/share/new`);
  await Deno.writeTextFile(`${image}/usr/share/new/file`, "new\n");
  await Deno.remove(`${image}/usr/bin/link`);
  await Deno.symlink("../share/new/file", `${image}/usr/bin/link`);
  await Deno.chmod(`${image}/usr/bin/tool`, 0o700);
  await Deno.writeTextFile(`${image}/etc/fstab`, "golden fstab, changed\n");
  await Deno.mkdir(deploy);
  await writeDeployManifest(image, `${deploy}/rootimg.manifest`, `${deploy}/files`);
  return { dir, node, image, deploy };
}

/** Runs update_tree on the node in busybox sh; its applets come first on PATH. */
async function runUpdate(f: Fixture, port: number) {
  const bin = `${f.dir}/bin`;
  const work = `${f.dir}/work`;
  await Deno.mkdir(bin);
  await Deno.mkdir(work);
  const busybox = staticBusybox();
  for (
    const applet of [
      "sh",
      "find",
      "xargs",
      "stat",
      "sha256sum",
      "readlink",
      "awk",
      "wget",
      "printf",
      "cut",
      "sort",
      "grep",
      "mkdir",
      "mv",
      "cp",
      "rm",
      "ln",
      "chown",
      "chmod",
      "touch",
      "head",
      "mknod",
    ]
  ) await Deno.symlink(busybox, `${bin}/${applet}`);
  await Deno.writeTextFile(`${work}/update.awk`, SYSCLONE_UPDATE_AWK);
  await Deno.writeTextFile(`${work}/node-own`, nodeOwnPattern(NODE_OWN_PATHS) + "\n");
  await Deno.writeTextFile(`${work}/filesystems`, "1 ext4 - / defaults 0 1\n");
  await Deno.copyFile(`${f.deploy}/rootimg.manifest`, `${work}/manifest`);
  const script = [
    // The busybox applets first, as in the initrd (xargs runs stat, sha256sum and sh by PATH).
    `PATH=${bin}:/usr/bin:/bin`,
    "export PATH",
    `IMGURL=http://127.0.0.1:${port}/rootimg.tar`,
    "DISK=/dev/test",
    'say() { echo "say: $*"; }',
    'fail() { echo "FAIL: $*"; exit 1; }',
    syscloneUpdateFunctions(),
    `W=${work}`,
    `UPDATE_AWK=${work}/update.awk`,
    `UPDATE_KEEP=${work}/node-own`,
    `UPDATE_FILESYSTEMS=${work}/filesystems`,
    `update_tree ${f.node}`,
    `cat ${work}/actions >&2`,
    'echo "RESULT updated=$updated fetched=$fetched bytes=$bytes removed=$removed changed=$changed boot=$boot"',
  ].join("\n");
  await Deno.writeTextFile(`${work}/run.sh`, script);
  return await runTool(`${bin}/sh`, [`${work}/run.sh`]);
}

async function digestOf(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

Deno.test("deploy update: only the changed files are fetched; gone ones removed, links and modes set, the node's own kept", async () => {
  const f = await fixture();
  const server = serve(f.deploy);
  try {
    const result = await runUpdate(f, server.port);
    strictEqual(result.code, 0, result.stdout + result.stderr);
    const changed = ["etc/conf", ODD, "usr/share/new/file"];
    const expected = await Promise.all(changed.map((path) => digestOf(`${f.image}/${path}`)));
    deepStrictEqual(server.requests.sort(), expected.map((digest) => `/files/${digest}`).sort());
    const bytes = "two\n".length + "odd two\n".length + "new\n".length;
    // In place: the tool's mode and the new directory's mtime, plus directories whose mtime the
    // change moved when the fixture's writes crossed a second.
    const summary = new RegExp(
      `RESULT updated=3 fetched=3 bytes=${bytes} removed=1 changed=(\\d+) boot=no`,
    ).exec(result.stdout);
    ok(summary && Number(summary[1]) >= 2, result.stdout + result.stderr);
    strictEqual(await Deno.readTextFile(`${f.node}/etc/conf`), "two\n");
    strictEqual(await Deno.readTextFile(`${f.node}/${ODD}`), "odd two\n");
    strictEqual(await Deno.readTextFile(`${f.node}/usr/share/new/file`), "new\n");
    ok(!existsSync(`${f.node}/etc/gone`));
    strictEqual(await Deno.readLink(`${f.node}/usr/bin/link`), "../share/new/file");
    strictEqual((await Deno.stat(`${f.node}/usr/bin/tool`)).mode! & 0o7777, 0o700);
    // The new file has the image's mtime, so a second update finds nothing to do.
    strictEqual(
      (await Deno.stat(`${f.node}/etc/conf`)).mtime?.getTime(),
      Math.floor((await Deno.stat(`${f.image}/etc/conf`)).mtime!.getTime() / 1000) * 1000,
    );
    strictEqual(await Deno.readTextFile(`${f.node}/etc/fstab`), "UUID=node / ext4 defaults 0 1\n");
    strictEqual(await Deno.readTextFile(`${f.node}/etc/hostname`), "cn01\n");
    strictEqual(await Deno.readTextFile(`${f.node}/var/lib/node-state`), "mine\n");
    ok(!existsSync(`${f.node}/.osimg-update`), "the staging directory is gone");
  } finally {
    await server.close();
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("deploy update: a second update with nothing changed fetches nothing", async () => {
  const f = await fixture();
  const server = serve(f.deploy);
  try {
    strictEqual((await runUpdate(f, server.port)).code, 0);
    // What sysclone_update does after a good update: the new manifest becomes the node's.
    await Deno.copyFile(`${f.deploy}/rootimg.manifest`, `${f.node}/etc/osimg/sysclone.manifest`);
    server.requests.length = 0;
    await Deno.remove(`${f.dir}/bin`, { recursive: true });
    await Deno.remove(`${f.dir}/work`, { recursive: true });
    const before = await snapshotTree(f.node);
    const again = await runUpdate(f, server.port);
    strictEqual(again.code, 0, again.stdout + again.stderr);
    deepStrictEqual(server.requests, []);
    ok(
      again.stdout.includes("RESULT updated=0 fetched=0 bytes=0 removed=0 changed=0 boot=no"),
      again.stdout,
    );
    deepStrictEqual(await snapshotTree(f.node), before);
  } finally {
    await server.close();
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("deploy update: a download that fails leaves the node's tree exactly as it was", async () => {
  const f = await fixture();
  // The new file's object is missing on the server: its GET gets a 404.
  await Deno.remove(`${f.deploy}/files/${await digestOf(`${f.image}/usr/share/new/file`)}`);
  const server = serve(f.deploy);
  try {
    const before = await snapshotTree(f.node);
    const result = await runUpdate(f, server.port);
    strictEqual(result.code, 1);
    ok(result.stdout.includes("say: the disk /dev/test was not changed: it boots as before"));
    ok(
      /FAIL: cannot download http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]{64} \(usr\/share\/new\/file\)/
        .test(result.stdout),
      result.stdout,
    );
    deepStrictEqual(await snapshotTree(f.node), before);
  } finally {
    await server.close();
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("deploy update: an object whose contents are not its digest is refused, nothing changed", async () => {
  const f = await fixture();
  const object = `${f.deploy}/files/${await digestOf(`${f.image}/etc/conf`)}`;
  await Deno.remove(object);
  await Deno.writeTextFile(object, "tampered\n");
  const server = serve(f.deploy);
  try {
    const before = await snapshotTree(f.node);
    const result = await runUpdate(f, server.port);
    strictEqual(result.code, 1);
    ok(result.stdout.includes("is not what the manifest says"), result.stdout);
    deepStrictEqual(await snapshotTree(f.node), before);
  } finally {
    await server.close();
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("deploy update: a path that changes type is replaced, a fifo is made, and a change under boot/ is flagged for GRUB's menu", async () => {
  const f = await fixture();
  // On top of the fixture's change: a file becomes a directory, a directory a symlink, a new
  // fifo, and a new kernel under boot/.
  await Deno.remove(`${f.image}/etc/conf`);
  await Deno.mkdir(`${f.image}/etc/conf`);
  await Deno.writeTextFile(`${f.image}/etc/conf/inner`, "inner\n");
  await Deno.remove(`${f.image}/usr/share/new`, { recursive: true });
  await Deno.symlink("../bin", `${f.image}/usr/share/new`);
  await sh(["mkfifo", "-m", "600", `${f.image}/etc/pipe`]);
  await Deno.writeTextFile(`${f.image}/boot/vmlinuz-2`, "kernel\n");
  await Deno.remove(f.deploy, { recursive: true });
  await Deno.mkdir(f.deploy);
  await writeDeployManifest(f.image, `${f.deploy}/rootimg.manifest`, `${f.deploy}/files`);
  const server = serve(f.deploy);
  try {
    const result = await runUpdate(f, server.port);
    strictEqual(result.code, 0, result.stdout + result.stderr);
    ok(/RESULT updated=3 fetched=3 .* boot=yes/.test(result.stdout), result.stdout);
    strictEqual(await Deno.readTextFile(`${f.node}/etc/conf/inner`), "inner\n");
    strictEqual(await Deno.readLink(`${f.node}/usr/share/new`), "../bin");
    ok((await Deno.lstat(`${f.node}/etc/pipe`)).isFifo);
    strictEqual(await Deno.readTextFile(`${f.node}/boot/vmlinuz-2`), "kernel\n");
  } finally {
    await server.close();
    await Deno.remove(f.dir, { recursive: true });
  }
});
