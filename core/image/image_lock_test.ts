// The per-image lock: real processes holding it, killed with -9, and every verb that changes an
// image failing at once, changing nothing, while another holds it.

import { deepStrictEqual as assertEquals, equal, ok, rejects } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { rootState } from "../../testdata/support/bundle_testing.ts";
import {
  buildFixture,
  NETBOOT,
  NETBOOT_DIR,
  STATELITE,
} from "../../testdata/support/bundle_export_fixture.ts";
import { ConflictError, InvalidInputError } from "../errors.ts";
import { acquireImageLock, LOCK_DIR_NAME, removeStaleLocks } from "./image_lock.ts";
import { listTree } from "../../testdata/support/pack_testing.ts";
import { sh } from "../../testdata/support/process.ts";
import { hostPath } from "../paths.ts";
import { snapshotTree, testRoot } from "../../testdata/support/testing.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
const HOLDER = fileURLToPath(new URL("../../testdata/support/hold_image_lock.ts", import.meta.url));

/** A real process holding image `name`'s lock as `verb` until `release()` or `kill()`. */
async function holdLock(locksDir: string, name: string, verb: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", HOLDER, locksDir, name, verb],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let said = "";
  while (!said.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the lock holder exited before taking the lock: '${said}'`);
    said += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  equal(said, `locked ${child.pid}\n`);
  const writer = child.stdin.getWriter();
  let ended: Promise<Deno.CommandStatus> | undefined;
  const end = () =>
    ended ??= (async () => {
      await writer.close().catch(() => {});
      await child.stdout.cancel().catch(() => {});
      return await child.status;
    })();
  return {
    pid: child.pid,
    /** Lets go of the lock the ordinary way. */
    release: end,
    /** kill -9: the process never gets to release anything. */
    kill: async () => {
      child.kill("SIGKILL");
      return await end();
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await end();
    },
  };
}

/** Runs osimg as a real process against `root`. */
async function osimgProcess(root: string, args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--root", root, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { status: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

const locksOf = (root: string) => hostPath(root, `/install/${LOCK_DIR_NAME}`);

Deno.test("image lock: a second taker fails at once with 'image X is busy (<verb>, pid N)'; release lets it in and leaves nothing", async () => {
  const work = await Deno.makeTempDir({ prefix: "osimg-lock-" });
  try {
    const locks = `${work}/install/${LOCK_DIR_NAME}`;
    await using holder = await holdLock(locks, "img", "packimage");
    equal(Deno.readTextFileSync(`${locks}/img.lock`), `packimage ${holder.pid}\n`);
    const started = performance.now();
    await rejects(acquireImageLock(locks, "img", "rmimage"), (error: unknown) => {
      ok(error instanceof ConflictError, String(error));
      equal(error.message, `image img is busy (packimage, pid ${holder.pid})`);
      return true;
    });
    ok(performance.now() - started < 2000, "the second taker waited");
    // The loser changed nothing: the record is the holder's.
    equal(Deno.readTextFileSync(`${locks}/img.lock`), `packimage ${holder.pid}\n`);
    // Another image is not busy.
    await (await acquireImageLock(locks, "other", "snapshot")).release();
    equal((await holder.release()).code, 0);
    const lock = await acquireImageLock(locks, "img", "rmimage");
    equal(Deno.readTextFileSync(`${locks}/img.lock`), `rmimage ${Deno.pid}\n`);
    await lock.release();
    // The lock directory and the install dir it had to create are gone again.
    assertEquals([...Deno.readDirSync(work)], []);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("image lock: a lock file left by a process killed with SIGKILL does not block the next verb", async () => {
  await using t = await testRoot();
  await buildFixture(t.root);
  const locks = locksOf(t.root);
  const holder = await holdLock(locks, NETBOOT, "packimage");
  equal((await holder.kill()).signal, "SIGKILL");
  // What the killed process left: its lock file, naming it. Only the kernel's lock went away.
  equal(Deno.readTextFileSync(`${locks}/${NETBOOT}.lock`), `packimage ${holder.pid}\n`);
  const started = performance.now();
  const result = await t.run(["packimage", "--nosyncfiles", NETBOOT]);
  equal(result.status, 0, result.stderr);
  ok(performance.now() - started < 30_000);
  ok(Deno.statSync(hostPath(t.root, `${NETBOOT_DIR}/rootimg.cpio.gz`)).isFile);
  // The next verb took the stale file over and removed it when it was done.
  assertEquals([...Deno.readDirSync(hostPath(t.root, "/install"))].map((e) => e.name).sort(), [
    "custom",
    "kits",
    "netboot",
    "postscripts",
  ]);
});

Deno.test("image lock: the recovery every image verb runs first removes lock files no live process holds", async () => {
  const work = await Deno.makeTempDir({ prefix: "osimg-lock-" });
  try {
    const locks = `${work}/${LOCK_DIR_NAME}`;
    const killed = await holdLock(locks, "killed", "rmimage");
    await killed.kill();
    await using alive = await holdLock(locks, "alive", "packimage");
    await removeStaleLocks(locks);
    assertEquals([...Deno.readDirSync(locks)].map((entry) => entry.name), ["alive.lock"]);
    equal(Deno.readTextFileSync(`${locks}/alive.lock`), `packimage ${alive.pid}\n`);
    await rejects(acquireImageLock(locks, "alive", "snapshot"), ConflictError);
    await alive.release();
    await removeStaleLocks(locks);
    assertEquals([...Deno.readDirSync(work)], []);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

/**
 * Each verb that changes an image, with what it needs to run: while another process holds the
 * image's lock it fails at once with the busy message and changes nothing; once the lock is
 * released the same command line succeeds (so it failed for the lock alone).
 */
const VERBS: {
  verb: string;
  image: string;
  args: string[];
  /** What the verb prints before it knows the image's name (imgimport reads the bundle first). */
  stdout?: string;
  prepare?: (t: Awaited<ReturnType<typeof testRoot>>) => Promise<void>;
}[] = [
  {
    verb: "packimage",
    image: NETBOOT,
    args: ["packimage", "-c", "zstd", "--nosyncfiles", NETBOOT],
  },
  { verb: "liteimg", image: STATELITE, args: ["liteimg", STATELITE] },
  {
    verb: "imgimport",
    image: NETBOOT,
    args: ["imgimport", "bundle.tgz"],
    stdout: "Unbundling image...\n",
    prepare: async (t) => void await t.ok(["imgexport", NETBOOT, "bundle.tgz"]),
  },
  {
    verb: "rollback",
    image: NETBOOT,
    args: ["rollback", NETBOOT],
    prepare: async (t) => {
      await t.ok(["snapshot", NETBOOT]);
      Deno.writeTextFileSync(hostPath(t.root, `${NETBOOT_DIR}/kernel`), "a newer kernel\n");
    },
  },
  { verb: "rmimage", image: NETBOOT, args: ["rmimage", NETBOOT, "--xcatdef"] },
  { verb: "snapshot", image: NETBOOT, args: ["snapshot", NETBOOT] },
];

for (const [index, { verb, image, args, stdout, prepare }] of VERBS.entries()) {
  const holding = VERBS[(index + 1) % VERBS.length]!.verb;
  Deno.test(`image lock: ${verb} fails at once while ${holding} holds the image, and changes nothing`, async () => {
    await using t = await testRoot();
    await buildFixture(t.root);
    await prepare?.(t);
    await using holder = await holdLock(locksOf(t.root), image, holding);
    const before = await rootState(t);
    const result = await t.run(args);
    equal(result.stderr, `Error: image ${image} is busy (${holding}, pid ${holder.pid})\n`);
    equal(result.status, 1);
    equal(result.stdout, stdout ?? "");
    assertEquals(await rootState(t), before);
    equal((await holder.release()).code, 0);
    const after = await t.run(args);
    equal(after.status, 0, after.stderr);
  });
}

Deno.test("packimage and rmimage as real concurrent processes: rmimage is refused, the packed archive is whole", async () => {
  await using t = await testRoot();
  await buildFixture(t.root);
  const dir = hostPath(t.root, NETBOOT_DIR);
  // Enough of a tree that a half-deleted one would show.
  for (let index = 0; index < 2000; index++) {
    const sub = `${dir}/rootimg/usr/lib/m${index % 20}`;
    Deno.mkdirSync(sub, { recursive: true });
    Deno.writeTextFileSync(`${sub}/f${index}.so`, `library ${index}\n`.repeat(64));
  }
  const treeBefore = await listTree(`${dir}/rootimg`);
  // The exlist is a FIFO: packimage, once it holds the lock, waits on it until the test lets
  // it go. The race is thus certain, not a matter of timing.
  const exlist = hostPath(t.root, "/install/custom/netboot/rh/compute.rhels8.x86_64.exlist");
  Deno.removeSync(exlist);
  await sh(["mkfifo", exlist]);
  const packer = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "--root",
      t.root,
      "packimage",
      "-c",
      "zstd",
      "--nosyncfiles",
      NETBOOT,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const lockFile = `${locksOf(t.root)}/${NETBOOT}.lock`;
    for (let waited = 0;; waited += 50) {
      const record = await Deno.readTextFile(lockFile).catch(() => "");
      if (record === `packimage ${packer.pid}\n`) break;
      if (waited > 60_000) throw new Error("packimage never took the image's lock");
      await new Promise((done) => setTimeout(done, 50));
    }
    const beforeRemove = await snapshotTree(t.root);
    const remover = await osimgProcess(t.root, ["rmimage", NETBOOT]);
    equal(remover.stderr, `Error: image ${NETBOOT} is busy (packimage, pid ${packer.pid})\n`);
    equal(remover.status, 1);
    assertEquals(await snapshotTree(t.root), beforeRemove);
    // Let packimage go on.
    using gate = await Deno.open(exlist, { write: true });
    await gate.write(new TextEncoder().encode("./usr/share/doc*\n"));
  } catch (error) {
    packer.kill("SIGKILL");
    await packer.output();
    throw error;
  }
  const packed = await packer.output();
  equal(packed.code, 0, new TextDecoder().decode(packed.stderr));
  // The published archive holds the whole tree, and the tree is untouched.
  assertEquals(await listTree(`${dir}/rootimg`), treeBefore);
  const listed = (await sh([
    "bash",
    "-o",
    "pipefail",
    "-c",
    `zstd -dc '${dir}/rootimg.cpio.zst' | cpio -it --quiet`,
  ])).split("\n").filter((line) => line !== "" && line !== ".").sort();
  equal(listed.length, treeBefore.length);
  ok(listed.includes("usr/lib/m19/f1999.so"));
  // With packimage done, rmimage runs.
  const removed = await t.run(["rmimage", NETBOOT]);
  equal(removed.status, 0, removed.stderr);
  ok(!Deno.statSync(dir).isFile && ![...Deno.readDirSync(dir)].some((e) => e.name === "rootimg"));
});

Deno.test("image lock: a name that is not one file name is refused and nothing is created", async () => {
  const work = await Deno.makeTempDir({ prefix: "osimg-lock-" });
  try {
    for (const name of ["../escape", "a/b", ""]) {
      await rejects(
        acquireImageLock(`${work}/locks`, name, "packimage"),
        (error: unknown) =>
          error instanceof InvalidInputError &&
          error.message === `The image name '${name}' cannot be used as a lock file name.`,
      );
    }
    assertEquals([...Deno.readDirSync(work)], []);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
