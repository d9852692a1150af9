// Benchmark: what signing adds to imgexport (goal < 5%), against exporting then signing with minisign -S.
//
// Usage: deno run -A scripts/bench_sign.ts [--work DIR] [--size GB] [--rounds N] [--keep]
// Builds once, cached under the work directory (default /tmp/osimg-bench-sign), a root with one
// netboot image whose rootimg.cpio.gz is `size` GB (half incompressible, half text-like), and an
// unencrypted key pair. Then, in one run, alternating, best of `rounds`:
//   plain     osimg imgexport
//   --sign    osimg imgexport --sign (prehash taken while the bundle is written)
//   minisign  osimg imgexport, then minisign -S of the bundle (what a user does otherwise: a
//             second pass over the file)
// The password-protected key's scrypt (1 GiB, ~3-4 s) is a fixed cost per run, not per byte, and
// is left out: the key here is unencrypted.

import { parseArgs } from "node:util";
import { randomFillSync } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openSqliteStore } from "../core/store/sqlite_store.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    work: { type: "string" },
    size: { type: "string" },
    rounds: { type: "string" },
    keep: { type: "boolean" },
  },
});
const work = args.values.work ?? "/tmp/osimg-bench-sign";
const size = Number(args.values.size ?? "1");
const rounds = Number(args.values.rounds ?? "3");
const main = fileURLToPath(new URL("../main.ts", import.meta.url));
const MB = 1024 ** 2;
const GB = 1024 ** 3;
const IMAGE_DIR = "/install/netboot/bench/x86_64/compute";

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
/** Text-like bytes that gzip shrinks about 4x. */
function fillText(chunk: Uint8Array, offset: number): void {
  let at = 0;
  let line = Math.floor(offset / 64);
  while (at < chunk.byteLength) {
    const text = encoder.encode(
      `${line} usr/lib/lib${line % 977}.so ${(line * 2654435761) % 1000003}\n`,
    );
    chunk.set(text.subarray(0, chunk.byteLength - at), at);
    at += text.byteLength;
    line++;
  }
}

async function ensureRoot(): Promise<string> {
  const root = `${work}/${size}gb/root`;
  if (existsSync(`${root}/.complete`)) return root;
  console.error(`Building the ${size} GB image under ${root} ...`);
  await Deno.remove(root, { recursive: true }).catch(() => {});
  const imageDir = `${root}${IMAGE_DIR}`;
  await Deno.mkdir(imageDir, { recursive: true });
  await Deno.mkdir(`${root}/install/custom/netboot/bench`, { recursive: true });
  await Deno.writeTextFile(`${root}/install/custom/netboot/bench/compute.pkglist`, "bash\n");
  await writeGenerated(`${imageDir}/kernel`, 12 * MB, (chunk) => randomFillSync(chunk));
  await writeGenerated(
    `${imageDir}/initrd-stateless.gz`,
    60 * MB,
    (chunk) => randomFillSync(chunk),
  );
  const bytes = size * GB - 72 * MB;
  await writeGenerated(`${imageDir}/rootimg.cpio.gz`, bytes, (chunk, offset) => {
    if (offset < bytes / 2) randomFillSync(chunk);
    else fillText(chunk, offset);
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

async function timed(argv: string[], cwd?: string): Promise<number> {
  const started = performance.now();
  const output = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`${argv.join(" ")} failed:\n${new TextDecoder().decode(output.stderr)}`);
  }
  return (performance.now() - started) / 1000;
}

function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

const root = await ensureRoot();
const out = `${work}/${size}gb/out`;
await Deno.remove(out, { recursive: true }).catch(() => {});
await Deno.mkdir(out, { recursive: true });
const osimg = ["deno", "run", "-A", main, "--root", root];
await timed([...osimg, "keygen", "-o", `${out}/k`, "--no-password"]);
const bundle = `${out}/bench.tgz`;
const best = { plain: Infinity, sign: Infinity, minisign: Infinity };
/** --sign / plain of each round: on a shared machine the median pair says more than the bests. */
const ratios: number[] = [];
console.error(`load at start: ${loadAverage()}`);
for (let round = 1; round <= rounds; round++) {
  const plain = await timed([...osimg, "imgexport", "bench", bundle]);
  const signed = await timed([...osimg, "imgexport", "bench", bundle, "--sign", `${out}/k.key`]);
  await timed(["minisign", "-Vm", bundle, "-p", `${out}/k.pub`, "-q"]);
  const thenMinisign = await timed([...osimg, "imgexport", "bench", bundle]) +
    await timed(["minisign", "-S", "-s", `${out}/k.key`, "-m", bundle]);
  console.error(
    `round ${round}: plain ${plain.toFixed(2)} s, --sign ${signed.toFixed(2)} s, ` +
      `export + minisign -S ${thenMinisign.toFixed(2)} s (load ${loadAverage()})`,
  );
  ratios.push(signed / plain);
  best.plain = Math.min(best.plain, plain);
  best.sign = Math.min(best.sign, signed);
  best.minisign = Math.min(best.minisign, thenMinisign);
}
const bundleBytes = (await Deno.stat(bundle)).size;
if (!args.values.keep) await Deno.remove(out, { recursive: true });
const overhead = (best.sign / best.plain - 1) * 100;
console.log(
  `bundle: ${(bundleBytes / MB).toFixed(0)} MiB from a ${size} GB image; best of ${rounds}`,
);
console.log(`imgexport                       ${best.plain.toFixed(2)} s`);
console.log(
  `imgexport --sign                ${best.sign.toFixed(2)} s  (${overhead >= 0 ? "+" : ""}${
    overhead.toFixed(1)
  }%, goal < 5%)`,
);
ratios.sort((a, b) => a - b);
const median = ratios[Math.floor(ratios.length / 2)]!;
console.log(
  `median of the rounds' --sign/plain: ${median.toFixed(3)} (${((median - 1) * 100).toFixed(1)}%)`,
);
console.log(
  `imgexport, then minisign -S     ${best.minisign.toFixed(2)} s  (--sign is ${
    (best.minisign / best.sign).toFixed(2)
  }x faster)`,
);
console.log(`cores: ${navigator.hardwareConcurrency}, load at end: ${loadAverage()}`);
