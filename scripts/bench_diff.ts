// Benchmark: osimg diff of two bundles that differ in a few files, against extracting both and running diff -rq, with peak memory.
//
// Usage: deno run -A scripts/bench_diff.ts [--work DIR] [--sizes 0.25,1] [--rounds 2] [--keep]
// For each size (GB) it builds, in a temporary work directory, a root with one netboot image
// whose root tree holds that many bytes (big incompressible files and thousands of small text
// files), packs it (rootimg.cpio.gz) and exports it (a.tgz); then changes a few files (two
// rewritten, one mode, one added, one removed), packs and exports again (b.tgz). Then, in one
// run, on the same two bundles, best of --rounds alternating runs:
//   osimg diff a.tgz b.tgz
//   what a user does today to learn the same: tar xzf both, unpack each rootimg.cpio.gz with
//     cpio, diff -rq the two trees (and, for reference, tar xzf both and diff -rq alone, which
//     only says that rootimg.cpio.gz differs)
// Peak memory is the child's maximum RSS from /usr/bin/time -v. Goals (issue 16): at least 2x
// faster than the user's way, memory flat as the size grows. Everything is removed at the end.

import { parseArgs } from "node:util";
import { randomFillSync } from "node:crypto";
import { fileURLToPath } from "node:url";

const args = parseArgs({
  args: Deno.args,
  options: {
    work: { type: "string" },
    sizes: { type: "string" },
    rounds: { type: "string" },
    keep: { type: "boolean" },
  },
});
const sizes = (args.values.sizes ?? "0.25,1").split(",").map(Number);
const rounds = Number(args.values.rounds ?? "2");
const main = fileURLToPath(new URL("../main.ts", import.meta.url));
const MB = 1024 ** 2;
const GB = 1024 ** 3;
const IMAGE = "bench-netboot";
const IMAGE_DIR = "/install/netboot/bench/x86_64/compute";
/** Big files are this size; a fifth of the bytes go to small text files. */
const BIG_FILE = 8 * MB;
const SMALL_FILE = 48 * 1024;

interface Measured {
  seconds: number;
  /** Peak resident set in MiB (GNU time's "Maximum resident set size"). */
  peakMiB: number;
}

/** Runs argv under /usr/bin/time -v; wall time and peak RSS. `codes` are the exit statuses that are success. */
async function measure(argv: string[], codes = [0], cwd?: string): Promise<Measured> {
  const started = performance.now();
  const output = await new Deno.Command("/usr/bin/time", {
    args: ["-v", ...argv],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!codes.includes(output.code)) {
    throw new Error(`${argv.join(" ")} exited ${output.code}:\n${stderr.slice(-2000)}`);
  }
  const kib = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? NaN);
  return { seconds, peakMiB: kib / 1024 };
}

async function osimg(root: string, ...argv: string[]): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, "--root", root, ...argv],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`osimg ${argv.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

const encoder = new TextEncoder();

/** Text that gzip shrinks about 4x, different for every file. */
function textOf(seed: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let at = 0;
  let line = seed * 1000;
  while (at < bytes) {
    const text = encoder.encode(
      `${line} usr/lib/x86_64-linux-gnu/lib${line % 977}.so ${(line * 2654435761) % 1000003}\n`,
    );
    out.set(text.subarray(0, bytes - at), at);
    at += text.byteLength;
    line++;
  }
  return out;
}

/** A root tree of about `bytes` bytes: 80% in 8 MiB random files, the rest in 48 KiB text files. */
async function writeTree(dir: string, bytes: number): Promise<{ files: number }> {
  const big = Math.max(1, Math.round((bytes * 0.8) / BIG_FILE));
  const small = Math.max(1, Math.round((bytes * 0.2) / SMALL_FILE));
  const chunk = new Uint8Array(BIG_FILE);
  await Deno.mkdir(`${dir}/opt/data`, { recursive: true });
  for (let index = 0; index < big; index++) {
    randomFillSync(chunk);
    await Deno.writeFile(`${dir}/opt/data/blob-${index}.bin`, chunk);
  }
  for (let index = 0; index < small; index++) {
    const sub = `${dir}/usr/share/doc/pkg${index % 200}`;
    await Deno.mkdir(sub, { recursive: true });
    await Deno.writeFile(`${sub}/file-${index}.txt`, textOf(index, SMALL_FILE));
  }
  await Deno.mkdir(`${dir}/etc`, { recursive: true });
  await Deno.writeTextFile(`${dir}/etc/hostname`, "compute\n");
  return { files: big + small + 1 };
}

/** Builds one image of `bytes`, exports a.tgz, changes a few files, exports b.tgz. */
async function buildBundles(
  work: string,
  bytes: number,
): Promise<{ a: string; b: string; files: number }> {
  const root = `${work}/root`;
  const dir = `${root}${IMAGE_DIR}`;
  await Deno.mkdir(dir, { recursive: true });
  const { files } = await writeTree(`${dir}/rootimg`, bytes);
  await Deno.writeTextFile(`${dir}/kernel`, "vmlinuz\n");
  await Deno.writeTextFile(`${dir}/compute.pkglist`, "bash\n");
  // An initrd is a gzip'd cpio of a tiny tree.
  await Deno.mkdir(`${work}/initrd/rootimg`, { recursive: true });
  await Deno.writeTextFile(`${work}/initrd/rootimg/init`, "#!/bin/sh\n");
  await osimg(
    root,
    "mkdef",
    "-t",
    "osimage",
    "-o",
    IMAGE,
    "provmethod=netboot",
    "osvers=bench",
    "osarch=x86_64",
    "profile=compute",
    `rootimgdir=${IMAGE_DIR}`,
    `pkglist=${IMAGE_DIR}/compute.pkglist`,
  );
  const initrd = await new Deno.Command("sh", {
    args: [
      "-c",
      `cd '${work}/initrd/rootimg' && find . | cpio -o -H newc --quiet | gzip -1 > '${dir}/initrd-stateless.gz'`,
    ],
  }).output();
  if (!initrd.success) throw new Error("cannot make the initrd");
  await osimg(root, "packimage", IMAGE);
  await osimg(root, "imgexport", IMAGE, `${work}/a.tgz`);
  const tree = `${dir}/rootimg`;
  const rewritten = new Uint8Array(BIG_FILE);
  randomFillSync(rewritten);
  await Deno.writeFile(`${tree}/opt/data/blob-0.bin`, rewritten);
  await Deno.writeTextFile(`${tree}/etc/hostname`, "compute-2\n");
  await Deno.chmod(`${tree}/usr/share/doc/pkg1/file-1.txt`, 0o600);
  await Deno.writeTextFile(`${tree}/etc/motd`, "changed\n");
  await Deno.remove(`${tree}/usr/share/doc/pkg2/file-2.txt`);
  await osimg(root, "packimage", IMAGE);
  await osimg(root, "imgexport", IMAGE, `${work}/b.tgz`);
  // The bundles are what is compared: the root is not needed any more.
  await Deno.remove(root, { recursive: true });
  await Deno.remove(`${work}/initrd`, { recursive: true });
  return { a: `${work}/a.tgz`, b: `${work}/b.tgz`, files };
}

/** What a user runs today: extract both bundles, unpack both packed roots, diff -rq. */
function userScript(a: string, b: string, scratch: string, unpackRoots: boolean): string[] {
  const unpack = (side: string) =>
    `mkdir -p ${side}/${IMAGE}/root && cd ${side}/${IMAGE}/root && gzip -dc ../rootimg.cpio.gz | cpio -idm --quiet --no-absolute-filenames && cd ${scratch}`;
  const script = [
    `set -e`,
    `cd ${scratch} && rm -rf x y && mkdir x y`,
    `tar xzf ${a} -C x`,
    `tar xzf ${b} -C y`,
    ...(unpackRoots ? [unpack("x"), unpack("y")] : []),
    // diff exits 1 when the trees differ.
    `diff -rq x y || test $? -eq 1`,
    `rm -rf x y`,
  ].join("\n");
  return ["sh", "-c", script];
}

async function load(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

const lines: string[] = [];
for (const size of sizes) {
  const work = args.values.work
    ? `${args.values.work}/${size}gb`
    : await Deno.makeTempDir({ prefix: `osimg-bench-diff-${size}gb-` });
  await Deno.mkdir(work, { recursive: true });
  try {
    console.error(`Building two ${size} GB bundles under ${work} ...`);
    const { a, b, files } = await buildBundles(work, size * GB);
    const bundleMiB = (await Deno.stat(a)).size / MB;
    const scratch = `${work}/scratch`;
    await Deno.mkdir(scratch);
    const best = { osimg: Infinity, user: Infinity, members: Infinity };
    const peak = { osimg: 0, user: 0, members: 0 };
    for (let round = 0; round < rounds; round++) {
      console.error(`  round ${round + 1} (load ${await load()})`);
      const runs: [keyof typeof best, string[], number[]][] = [
        ["osimg", [Deno.execPath(), "run", "-A", main, "--root", work, "diff", a, b], [1]],
        ["user", userScript(a, b, scratch, true), [0]],
        ["members", userScript(a, b, scratch, false), [0]],
      ];
      // Alternate the order, so neither side always runs on a warmer cache.
      if (round % 2 === 1) runs.reverse();
      for (const [name, argv, codes] of runs) {
        const measured = await measure(argv, codes);
        best[name] = Math.min(best[name], measured.seconds);
        peak[name] = Math.max(peak[name], measured.peakMiB);
      }
    }
    lines.push(
      `${size} GB (${files} files, bundles ${bundleMiB.toFixed(0)} MiB each):`,
      `  osimg diff a.tgz b.tgz              ${best.osimg.toFixed(2)} s  peak ${
        peak.osimg.toFixed(0)
      } MiB`,
      `  tar xzf x2 + cpio -id x2 + diff -rq ${best.user.toFixed(2)} s  peak ${
        peak.user.toFixed(0)
      } MiB  -> osimg ${(best.user / best.osimg).toFixed(2)}x faster`,
      `  tar xzf x2 + diff -rq (members only) ${best.members.toFixed(2)} s  peak ${
        peak.members.toFixed(0)
      } MiB  -> osimg ${(best.members / best.osimg).toFixed(2)}x faster`,
    );
  } finally {
    if (!args.values.keep) await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
console.log(`bench_diff (best of ${rounds}; load ${await load()}):`);
for (const line of lines) console.log(line);
