// genimage killed while /proc, /sys and /dev are mounted in the image: SIGTERM and SIGINT clean up
// before exiting; after SIGKILL the next command on the image unmounts what was left.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { mountsBelow, rpmSite, writeSiteFile } from "../../testdata/support/genimage_testing.ts";
import { type TestRoot, testRoot } from "../../testdata/support/testing.ts";

const IMAGE = "rocky9.3-x86_64-netboot-compute";
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const POSTINSTALL = "/install/custom/netboot/rh/compute.postinstall";

/** A genimage run in its own process, stopped inside a postinstall that waits. */
interface StuckRun {
  child: Deno.ChildProcess;
  /** The pid of the postinstall's `sleep` (it outlives a SIGKILL'd genimage). */
  sleeper: number;
}

/** Starts `osimg genimage` whose postinstall announces itself and then sleeps; waits for it. */
async function startStuck(t: TestRoot, rootimg: string): Promise<StuckRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--root", t.root, "genimage", IMAGE],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pidFile = `${rootimg}/.postinstall-sleeping`;
  for (let waited = 0; waited < 600; waited++) {
    const text = await Deno.readTextFile(pidFile).catch(() => "");
    if (text.endsWith("\n")) return { child, sleeper: Number(text.trim()) };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  const output = await child.output();
  throw new Error(`the postinstall never started:\n${new TextDecoder().decode(output.stderr)}`);
}

/** A site whose postinstall records its pid and sleeps (until the test lets it go). */
async function stuckSite(t: TestRoot): Promise<string> {
  const { rootimgdir } = await rpmSite(
    t.root,
    IMAGE,
    // exec: the pid written is the sleep's own, so the test can end it; mv: it appears whole.
    `echo $$ > "$1/.postinstall-sleeping.tmp" && mv "$1/.postinstall-sleeping.tmp" "$1/.postinstall-sleeping"\n` +
      `exec sleep 300\n`,
  );
  return `${t.root}${rootimgdir}/rootimg`;
}

/** Lets the next genimage's postinstall finish at once. */
async function unstick(t: TestRoot): Promise<void> {
  const script = await Deno.readTextFile(`${t.root}${POSTINSTALL}`);
  await writeSiteFile(t.root, POSTINSTALL, script.replace("exec sleep 300\n", () => ""), 0o755);
}

function endSleeper(pid: number): void {
  // Never 0 or 1: kill(0) would signal this test's own process group.
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`not a sleeper pid: ${pid}`);
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // it ended with its parent
  }
}

for (const [signal, status] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`genimage stopped by ${signal} during postinstall unmounts proc, sys and dev, exits ${status}; the next run succeeds`, async () => {
    await using t = await testRoot();
    const rootimg = await stuckSite(t);
    const run = await startStuck(t, rootimg);
    try {
      assertEquals((await mountsBelow(rootimg)).length, 4);
      run.child.kill(signal);
      const output = await run.child.output();
      const stderr = new TextDecoder().decode(output.stderr);
      assertEquals(output.code, status, stderr);
      assertEquals(
        stderr.trimEnd().split("\n").at(-1),
        `Error: genimage was interrupted (${signal}); it cleaned up and stopped.`,
      );
      assertEquals(await mountsBelow(t.root), []);
      // The lock went with the process: the next run takes it and finishes.
      await unstick(t);
      await t.ok(["genimage", IMAGE]);
      assertEquals(await mountsBelow(t.root), []);
    } finally {
      endSleeper(run.sleeper);
    }
  });
}

Deno.test("genimage killed with SIGKILL during postinstall leaves mounts; the next packimage removes them first and packs", async () => {
  await using t = await testRoot();
  const rootimg = await stuckSite(t);
  const run = await startStuck(t, rootimg);
  try {
    run.child.kill("SIGKILL");
    await run.child.output();
    const left = await mountsBelow(rootimg);
    assertEquals(left.map((point) => point.slice(rootimg.length)).sort(), [
      "/dev",
      "/dev/pts",
      "/proc",
      "/sys",
    ]);
    endSleeper(run.sleeper);
    const packed = await t.ok(["packimage", IMAGE]);
    for (const point of ["/dev/pts", "/dev", "/sys", "/proc"]) {
      ok(
        packed.stderr.includes(
          `unmounted ${rootimg}${point}, left mounted by an interrupted genimage`,
        ),
        packed.stderr,
      );
    }
    assertEquals(await mountsBelow(t.root), []);
    await unstick(t);
    await t.ok(["genimage", IMAGE]);
    assertEquals(await mountsBelow(t.root), []);
  } finally {
    endSleeper(run.sleeper);
  }
});

Deno.test("genimage killed with SIGKILL during postinstall: rmimage unmounts before it deletes, never through /dev or /proc", async () => {
  await using t = await testRoot();
  const rootimg = await stuckSite(t);
  const run = await startStuck(t, rootimg);
  try {
    run.child.kill("SIGKILL");
    await run.child.output();
    endSleeper(run.sleeper);
    ok((await mountsBelow(rootimg)).length > 0);
    await t.ok(["rmimage", IMAGE]);
    assertEquals(await mountsBelow(t.root), []);
    assertEquals(await Deno.stat(rootimg).catch(() => undefined), undefined);
    // The machine's own /dev/null is still there (nothing was deleted through a mount).
    ok((await Deno.lstat("/dev/null")).isCharDevice);
  } finally {
    endSleeper(run.sleeper);
  }
});

Deno.test("genimage stopped by SIGTERM while dnf waits on its repository: dnf is killed, the mounts come off, exit 143", async () => {
  await using t = await testRoot();
  const { rootimgdir } = await rpmSite(t.root, IMAGE);
  // A repository server that accepts and never answers: dnf waits inside the mounted root.
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await held;
    return new Response("", { status: 503 });
  });
  try {
    await t.ok([
      "chdef",
      "-t",
      "osimage",
      "-o",
      IMAGE,
      `pkgdir=http://127.0.0.1:${server.addr.port}/rocky`,
    ]);
    const rootimg = `${t.root}${rootimgdir}/rootimg`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--root", t.root, "genimage", IMAGE],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let mounted = 0;
    for (let waited = 0; waited < 600 && mounted < 4; waited++) {
      mounted = (await mountsBelow(rootimg)).length;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assertEquals(mounted, 4);
    child.kill("SIGTERM");
    const output = await child.output();
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 143, stderr);
    ok(stderr.includes("Error: genimage was interrupted (SIGTERM)"), stderr);
    assertEquals(await mountsBelow(t.root), []);
    // No dnf is left running in the image.
    const left = (await Array.fromAsync(Deno.readDir("/proc"))).filter((entry) =>
      /^\d+$/.test(entry.name)
    ).filter((entry) => {
      try {
        return Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(rootimg);
      } catch {
        return false;
      }
    });
    assertEquals(left, []);
  } finally {
    release();
    await server.shutdown();
  }
});
