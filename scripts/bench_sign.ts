// Benchmark: what signing adds to imgexport (goal < 5%), against exporting then signing with minisign -S.
//
// Usage: deno run -A scripts/bench_sign.ts [--work DIR] [--size GB] [--rounds N] [--keep]
// Builds once, cached under the work directory (default /tmp/osimg-bench-sign), the benchmarks'
// root (scripts/bench_image.ts: one netboot image of `size` GB, half incompressible and half
// text-like), and an unencrypted key pair. Then, in one run, alternating, best of `rounds`:
//   plain     osimg imgexport
//   --sign    osimg imgexport --sign (prehash taken while the bundle is written)
//   minisign  osimg imgexport, then minisign -S of the bundle (what a user does otherwise: a
//             second pass over the file)
// The password-protected key's scrypt (1 GiB, ~3-4 s) is a fixed cost per run, not per byte, and
// is left out: the key here is unencrypted.

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { ensureBenchRoot, loadAverage, MB } from "./bench_image.ts";

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

const root = await ensureBenchRoot(work, size);
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
