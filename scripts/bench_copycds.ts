// Benchmark: copying an ISO image's tree with osimg's own ISO 9660 reader against bsdtar -xf and xorriso -osirrox.
//
// Usage: flock /work/wt/heavy.lock deno run -A scripts/bench_copycds.ts [--work DIR] [--gb 1] [--rounds 2] [--keep]
// Builds, under a fresh work directory, a media tree of about `--gb` GB shaped like distro media
// (many small files, a few hundred package-sized ones, symlinks, deep directories), makes a Rock
// Ridge + Joliet image of it with xorriso, then extracts that image in the same run with:
//   osimg   openIsoMedia(...).copyTo(...) (this script re-run as a child, so its RSS is its own)
//   bsdtar  bsdtar -xf
//   xorriso xorriso -osirrox on -indev X -extract / DIR
// Wall time and peak RSS (GNU time) per round, the best of `--rounds`, and osimg's ratio to each.
// Goal (design.md): at least as fast as bsdtar, memory flat as the image grows. The osimg copy is
// checked against bsdtar's (diff -r) once. Everything made is removed unless --keep.

import { parseArgs } from "node:util";
import { randomFillSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import { openIsoMedia } from "../core/copycds/iso_media.ts";
import { silentProgress } from "../core/progress.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    work: { type: "string" },
    gb: { type: "string" },
    rounds: { type: "string" },
    keep: { type: "boolean" },
    // Child mode: copy ISO into DEST with osimg's reader and exit.
    "copy-iso": { type: "string" },
    "copy-to": { type: "string" },
  },
});

if (args.values["copy-iso"] !== undefined) {
  await Deno.mkdir(args.values["copy-to"]!);
  const started = performance.now();
  await using media = await openIsoMedia(args.values["copy-iso"]);
  const opened = performance.now();
  await media.copyTo(args.values["copy-to"]!, silentProgress);
  const { rss, heapUsed } = Deno.memoryUsage();
  console.error(
    `osimg in-process: decode ${((opened - started) / 1000).toFixed(2)} s, copy ${
      ((performance.now() - opened) / 1000).toFixed(2)
    } s, heap used ${(heapUsed / 1024 ** 2).toFixed(0)} MiB, RSS ${
      (rss / 1024 ** 2).toFixed(0)
    } MiB`,
  );
  Deno.exit(0);
}

const MB = 1024 ** 2;
const gb = Number(args.values.gb ?? "1");
const rounds = Number(args.values.rounds ?? "2");
const work = args.values.work ?? await Deno.makeTempDir({ prefix: "osimg-bench-copycds-" });
const self = fileURLToPath(import.meta.url);

interface Measured {
  seconds: number;
  peakMiB: number;
}

async function measure(argv: string[]): Promise<Measured & { note: string }> {
  const started = performance.now();
  const output = await new Deno.Command("/usr/bin/time", {
    args: ["-v", ...argv],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${argv.join(" ")} failed:\n${stderr.slice(-2000)}`);
  const kib = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? NaN);
  const note = /osimg in-process: .*/.exec(stderr)?.[0] ?? "";
  return { seconds, peakMiB: kib / 1024, note };
}

async function sh(script: string): Promise<void> {
  const output = await new Deno.Command("bash", { args: ["-euc", script], stderr: "piped" })
    .output();
  if (!output.success) throw new Error(`${script}: ${new TextDecoder().decode(output.stderr)}`);
}

/**
 * A tree of about `bytes` bytes: 85% in package-sized files (256 KiB..8 MiB), the rest in small
 * files (1..16 KiB, like repodata and docs), 2,000 relative symlinks, a few deep directories.
 * Content comes from one random pool at varying offsets, so files differ without costing a
 * random generator per byte.
 */
function makeTree(root: string, bytes: number): { files: number; links: number } {
  const pool = new Uint8Array(64 * MB);
  randomFillSync(pool);
  let seed = 12345;
  const next = (limit: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % limit;
  };
  const write = (path: string, size: number) => {
    const file = Deno.openSync(path, { write: true, createNew: true });
    let done = 0;
    while (done < size) {
      const start = next(pool.byteLength - 4 * MB);
      const part = pool.subarray(start, start + Math.min(4 * MB, size - done));
      let written = 0;
      while (written < part.byteLength) written += file.writeSync(part.subarray(written));
      done += part.byteLength;
    }
    file.close();
  };
  let files = 0;
  let total = 0;
  const big = bytes * 0.85;
  Deno.mkdirSync(`${root}/Packages`, { recursive: true });
  for (let index = 0; total < big; index++) {
    const dir = `${root}/Packages/${String.fromCharCode(97 + (index % 26))}`;
    Deno.mkdirSync(dir, { recursive: true });
    const size = 256 * 1024 + next(8 * MB - 256 * 1024);
    write(`${dir}/package-${index}-1.0-1.el9.x86_64.rpm`, size);
    total += size;
    files++;
  }
  for (let index = 0; total < bytes; index++) {
    const dir = `${root}/docs/${index % 50}/sub/deeper/${index % 7}`;
    Deno.mkdirSync(dir, { recursive: true });
    const size = 1024 + next(15 * 1024);
    write(`${dir}/file-${index}.txt`, size);
    total += size;
    files++;
  }
  Deno.mkdirSync(`${root}/links`);
  for (let index = 0; index < 2000; index++) {
    Deno.symlinkSync(`../docs/${index % 50}/sub`, `${root}/links/link-${index}`);
  }
  return { files, links: 2000 };
}

/**
 * Removes an extraction (media directories may be read-only) and flushes the page cache's dirty
 * pages, so the next tool does not pay for the last one's writeback.
 */
async function removeTree(path: string): Promise<void> {
  await sh(`if [ -e '${path}' ]; then chmod -R u+rwX '${path}'; rm -rf '${path}'; fi; sync`);
}

const tree = `${work}/tree`;
const iso = `${work}/media.iso`;
try {
  console.log(`Building a ${gb} GB media tree and its ISO image under ${work} ...`);
  const { files, links } = makeTree(tree, gb * 1024 * MB);
  await sh(`xorriso -as mkisofs -quiet -R -J -joliet-long -o '${iso}' '${tree}'`);
  await Deno.remove(tree, { recursive: true });
  const isoBytes = (await Deno.stat(iso)).size;
  console.log(
    `Image: ${(isoBytes / MB).toFixed(0)} MiB, ${files} files, ${links} symlinks. Load: ${
      Deno.loadavg().map((value) => value.toFixed(2)).join(" ")
    }`,
  );
  const tools: [string, (out: string) => string[]][] = [
    ["osimg", (out) => [Deno.execPath(), "run", "-A", self, "--copy-iso", iso, "--copy-to", out]],
    ["bsdtar", (out) => ["sh", "-c", `mkdir '${out}' && exec bsdtar -xf '${iso}' -C '${out}'`]],
    [
      "xorriso",
      (out) => ["xorriso", "-osirrox", "on", "-indev", `stdio:${iso}`, "-extract", "/", out],
    ],
  ];
  // Read the image once so every tool starts from the same (cached) state.
  await sh(`cat '${iso}' > /dev/null; sync`);
  const best = new Map<string, Measured>();
  for (let round = 1; round <= rounds; round++) {
    for (const [name, argv] of tools) {
      const out = `${work}/out-${name}`;
      const result = await measure(argv(out));
      console.log(
        `round ${round} ${name.padEnd(8)} ${result.seconds.toFixed(2).padStart(6)} s  peak RSS ${
          result.peakMiB.toFixed(0).padStart(5)
        } MiB${result.note ? `  (${result.note})` : ""}`,
      );
      const previous = best.get(name);
      if (!previous || result.seconds < previous.seconds) best.set(name, result);
      if (round === 1 && name === "bsdtar") {
        await sh(`diff -r --no-dereference '${work}/out-osimg' '${out}'`);
        console.log("         osimg's copy equals bsdtar's extraction (diff -r)");
      }
      if (!(round === 1 && name === "osimg")) await removeTree(out);
    }
    await removeTree(`${work}/out-osimg`);
  }
  const ours = best.get("osimg")!;
  console.log(`\nBest of ${rounds} (${(isoBytes / MB).toFixed(0)} MiB image):`);
  for (const [name] of tools) {
    const result = best.get(name)!;
    console.log(
      `  ${name.padEnd(8)} ${result.seconds.toFixed(2).padStart(6)} s  ${
        (isoBytes / MB / result.seconds).toFixed(0).padStart(5)
      } MiB/s  peak RSS ${result.peakMiB.toFixed(0).padStart(5)} MiB${
        name === "osimg" ? "" : `  osimg is ${(result.seconds / ours.seconds).toFixed(2)}x as fast`
      }`,
    );
  }
} finally {
  if (!args.values.keep) await Deno.remove(work, { recursive: true }).catch(() => {});
}
