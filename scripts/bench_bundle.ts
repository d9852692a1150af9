// Benchmark: imgexport / imgimport against tar czf, tar -I pigz and tar xzf of the same files, with peak memory.
//
// Usage: deno run -A scripts/bench_bundle.ts [--work DIR] [--sizes 0.5,1,2] [--keep]
// For each size (GB) it builds once, cached under the work directory (default
// /tmp/osimg-bench-bundle), a root with one netboot image: kernel, initrd, a rootimg.cpio.gz of
// half incompressible and half compressible bytes, and an -e directory of many small text files.
// Then, in one run and on the same files:
//   export  osimg imgexport  vs  tar czf  vs  tar -I pigz -cf
//   import  osimg imgimport (into a fresh root)  vs  tar xzf (of the same bundle)
// Peak memory is the child's maximum RSS from /usr/bin/time -v. Goals (design.md): export >= 3x
// tar czf, import >= tar xzf, memory flat as the size grows. The machine's load is printed: on a
// shared machine the ratios are what to compare, not the seconds.

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { ensureBenchRoot, EXTRA_DIR, GB, IMAGE_DIR, loadAverage, MB } from "./bench_image.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    work: { type: "string" },
    sizes: { type: "string" },
    keep: { type: "boolean" },
  },
});
const work = args.values.work ?? "/tmp/osimg-bench-bundle";
const sizes = (args.values.sizes ?? "0.5,1,2").split(",").map(Number);
const main = fileURLToPath(new URL("../main.ts", import.meta.url));

interface Measured {
  seconds: number;
  /** Peak resident set in MiB (GNU time's "Maximum resident set size"). */
  peakMiB: number;
}

/** Runs argv under /usr/bin/time -v; wall time and peak RSS. */
async function measure(argv: string[], cwd?: string): Promise<Measured> {
  const started = performance.now();
  const output = await new Deno.Command("/usr/bin/time", {
    args: ["-v", ...argv],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${argv.join(" ")} failed:\n${stderr.slice(-2000)}`);
  const kib = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? NaN);
  return { seconds, peakMiB: kib / 1024 };
}

const rows: string[][] = [];
for (const size of sizes) {
  const root = await ensureBenchRoot(work, size);
  const out = `${work}/${size}gb/out`;
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.mkdir(out, { recursive: true });
  const bundle = `${out}/bench.tgz`;
  const osimg = ["deno", "run", "-A", main, "--root"];
  // The same files imgexport bundles, named relative to the root for tar.
  const files = [
    `.${IMAGE_DIR}/kernel`,
    `.${IMAGE_DIR}/initrd-stateless.gz`,
    `.${IMAGE_DIR}/rootimg.cpio.gz`,
    "./install/custom/netboot/bench/compute.pkglist",
    `.${EXTRA_DIR}`,
  ];
  console.error(`[${size} GB] load ${loadAverage()}`);
  const exported = await measure([...osimg, root, "imgexport", "bench", bundle, "-e", EXTRA_DIR]);
  const bundleBytes = (await Deno.stat(bundle)).size;
  const tarGz = await measure(["tar", "czf", `${out}/tar.tgz`, ...files], root);
  const tarGzBytes = (await Deno.stat(`${out}/tar.tgz`)).size;
  await Deno.remove(`${out}/tar.tgz`);
  const pigz = await measure(["tar", "-I", "pigz", "-cf", `${out}/pigz.tgz`, ...files], root);
  await Deno.remove(`${out}/pigz.tgz`);

  const importRoot = `${out}/import-root`;
  await Deno.mkdir(importRoot);
  const imported = await measure([...osimg, importRoot, "imgimport", bundle]);
  await Deno.remove(importRoot, { recursive: true });
  const untarDir = `${out}/untar`;
  await Deno.mkdir(untarDir);
  const untar = await measure(["tar", "xzf", bundle, "-C", untarDir]);
  await Deno.remove(untarDir, { recursive: true });
  if (!args.values.keep) await Deno.remove(out, { recursive: true });

  const rate = (seconds: number) => `${(size * GB / MB / seconds).toFixed(0)} MB/s`;
  rows.push([
    `${size} GB`,
    `${exported.seconds.toFixed(1)} s (${rate(exported.seconds)})`,
    `${tarGz.seconds.toFixed(1)} s`,
    `${pigz.seconds.toFixed(1)} s`,
    `${(tarGz.seconds / exported.seconds).toFixed(2)}x`,
    `${(bundleBytes / tarGzBytes).toFixed(3)}`,
    `${exported.peakMiB.toFixed(0)} MiB`,
    `${imported.seconds.toFixed(1)} s (${rate(imported.seconds)})`,
    `${untar.seconds.toFixed(1)} s`,
    `${(untar.seconds / imported.seconds).toFixed(2)}x`,
    `${imported.peakMiB.toFixed(0)} MiB`,
  ]);
  console.error(`[${size} GB] done, load ${loadAverage()}`);
}

const header = [
  "size",
  "imgexport",
  "tar czf",
  "tar -I pigz",
  "export vs czf",
  "size vs czf",
  "export peak",
  "imgimport",
  "tar xzf",
  "import vs xzf",
  "import peak",
];
const table = [header, ...rows];
const widths = header.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
for (const row of table) {
  console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd());
}
console.log(`cores: ${navigator.hardwareConcurrency}, load at end: ${loadAverage()}`);
