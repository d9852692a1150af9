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
import { randomFillSync } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openSqliteStore } from "../core/store/sqlite_store.ts";

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
const GB = 1024 ** 3;
const MB = 1024 ** 2;
const SMALL_FILES = 20_000;
const IMAGE_DIR = "/install/netboot/bench/x86_64/compute";
const EXTRA_DIR = "/install/bench-extra";

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

async function writeGenerated(
  path: string,
  bytes: number,
  fill: (chunk: Uint8Array, offset: number) => void,
): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const chunk = new Uint8Array(4 * MB);
    for (let offset = 0; offset < bytes; offset += chunk.byteLength) {
      const part = chunk.subarray(0, Math.min(chunk.byteLength, bytes - offset));
      fill(part, offset);
      let written = 0;
      while (written < part.byteLength) written += await file.write(part.subarray(written));
    }
  } finally {
    file.close();
  }
}

const encoder = new TextEncoder();
/** Text-like bytes that gzip -6 shrinks about 4x, different at every offset. */
function fillCompressible(chunk: Uint8Array, offset: number): void {
  let at = 0;
  let line = Math.floor(offset / 64);
  while (at < chunk.byteLength) {
    const text = encoder.encode(
      `${line} usr/lib/x86_64-linux-gnu/lib${line % 977}.so.${line % 13} ${
        (line * 2654435761) % 1000003
      }\n`,
    );
    chunk.set(text.subarray(0, chunk.byteLength - at), at);
    at += text.byteLength;
    line++;
  }
}

function fillRandom(chunk: Uint8Array): void {
  randomFillSync(chunk);
}

/** One root per size with a netboot image, built once. */
async function ensureRoot(size: number): Promise<string> {
  const root = `${work}/${size}gb/root`;
  if (existsSync(`${root}/.complete`)) return root;
  console.error(`Building the ${size} GB image under ${root} ...`);
  await Deno.remove(root, { recursive: true }).catch(() => {});
  const imageDir = `${root}${IMAGE_DIR}`;
  const extraDir = `${root}${EXTRA_DIR}`;
  await Deno.mkdir(imageDir, { recursive: true });
  await Deno.mkdir(`${root}/install/custom/netboot/bench`, { recursive: true });
  await Deno.writeTextFile(`${root}/install/custom/netboot/bench/compute.pkglist`, "bash\n");
  await writeGenerated(`${imageDir}/kernel`, 12 * MB, fillRandom);
  await writeGenerated(`${imageDir}/initrd-stateless.gz`, 60 * MB, fillRandom);
  // Many small files: 20,000 text files of 1-8 KiB in 200 directories.
  let smallBytes = 0;
  for (let index = 0; index < SMALL_FILES; index++) {
    const dir = `${extraDir}/d${index % 200}`;
    if (index < 200) await Deno.mkdir(dir, { recursive: true });
    const bytes = 1024 + (index * 7919) % (7 * 1024);
    const chunk = new Uint8Array(bytes);
    fillCompressible(chunk, index * 8192);
    await Deno.writeFile(`${dir}/f${index}.conf`, chunk);
    smallBytes += bytes;
  }
  const rest = Math.max(0, size * GB - 72 * MB - smallBytes);
  const half = Math.floor(rest / 2);
  await writeGenerated(`${imageDir}/rootimg.cpio.gz`, rest, (chunk, offset) => {
    if (offset < half) fillRandom(chunk);
    else fillCompressible(chunk, offset);
  });
  const store = openSqliteStore(`${root}/etc/xcat/osimg.sqlite`);
  try {
    await store.write(async (writer) => {
      await writer.upsert("osimage", {
        imagename: "bench",
        imagetype: "linux",
        provmethod: "netboot",
        osvers: "bench",
        osarch: "x86_64",
        profile: "compute",
      });
      await writer.upsert("linuximage", {
        imagename: "bench",
        pkglist: "/install/custom/netboot/bench/compute.pkglist",
        rootimgdir: IMAGE_DIR,
      });
    });
  } finally {
    store.close();
  }
  await Deno.writeTextFile(`${root}/.complete`, "");
  return root;
}

function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

const rows: string[][] = [];
for (const size of sizes) {
  const root = await ensureRoot(size);
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
