// Benchmark: core/compress/compress.ts against pigz, GNU gzip, zstd and xz on the same corpus, same run.
//
// Usage: deno run -A scripts/bench_compress.ts [--mb 500] [--xz-mb N] [--work DIR] [--only gzip,zstd,xz]
//
// The corpus is made from real files under /usr (each under 20 MB, in sorted order, concatenated)
// and kept in the work directory for later runs. Every way runs as its own process under
// /usr/bin/time, reading the corpus file and writing a compressed file, so wall time and peak RSS
// (the process and its threads: osimg's Workers, pigz's and xz's threads) are measured alike.
// Prints MB/s of input, output size, ratio, size against the tool, and peak RSS. Each output of
// osimg is then checked with the tool's own test (-t) outside the timing.

import { parseArgs } from "node:util";
import { compress, type Compression } from "../core/compress/compress.ts";
import { systemRunner } from "../core/process.ts";

const CHILD_FLAG = "--child";

if (Deno.args[0] === CHILD_FLAG) {
  await child();
} else {
  await main();
}

/** One timed run of osimg's compressor: corpus file -> compressed file. */
async function child(): Promise<void> {
  const [, kind, source, target] = Deno.args;
  const input = await Deno.open(source!, { read: true }); // its readable closes it at the end
  using output = await Deno.open(target!, { write: true, create: true, truncate: true });
  for await (const chunk of compress(systemRunner, kind as Compression, input.readable)) {
    let written = 0;
    while (written < chunk.byteLength) written += await output.write(chunk.subarray(written));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      mb: { type: "string", default: "500" },
      "xz-mb": { type: "string" },
      work: { type: "string", default: "/tmp/osimg-bench-compress" },
      only: { type: "string", default: "gzip,zstd,xz" },
    },
    strict: true,
  });
  const megabytes = Number(values.mb);
  const xzMegabytes = Number(values["xz-mb"] ?? values.mb);
  const work = values.work!;
  const only = new Set(values.only!.split(","));
  await Deno.mkdir(work, { recursive: true });

  /** Concatenates files from /usr until `size` bytes; reuses an existing corpus of that size. */
  async function corpus(size: number): Promise<string> {
    const path = `${work}/corpus-${size}.bin`;
    try {
      if ((await Deno.stat(path)).size === size) return path;
    } catch {
      // not made yet
    }
    console.error(`Making a ${(size / 1e6).toFixed(0)} MB corpus from /usr ...`);
    const list = await new Deno.Command("sh", {
      args: [
        "-c",
        "find /usr/lib /usr/bin /usr/share -xdev -type f -size -20M -readable 2>/dev/null | LC_ALL=C sort",
      ],
      stdout: "piped",
    }).output();
    using out = await Deno.open(path, { write: true, create: true, truncate: true });
    let done = 0;
    for (const file of new TextDecoder().decode(list.stdout).split("\n")) {
      if (file === "" || done >= size) continue;
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(file);
      } catch {
        continue;
      }
      const take = bytes.subarray(0, Math.min(bytes.byteLength, size - done));
      let written = 0;
      while (written < take.byteLength) written += await out.write(take.subarray(written));
      done += take.byteLength;
    }
    if (done < size) throw new Error(`/usr holds only ${done} bytes of readable files`);
    return path;
  }

  interface Result {
    label: string;
    seconds: number;
    outputBytes: number;
    peakRssKb: number;
  }

  /** Runs argv under /usr/bin/time; returns wall seconds and peak RSS of the process tree's largest. */
  async function timed(label: string, argv: string[], target: string): Promise<Result> {
    const output = await new Deno.Command("/usr/bin/time", {
      args: ["-f", "%e %M", ...argv],
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n");
    if (!output.success) throw new Error(`${label} failed: ${stderr.join("\n")}`);
    const [seconds, rss] = stderr.at(-1)!.split(" ").map(Number);
    return {
      label,
      seconds: seconds!,
      outputBytes: (await Deno.stat(target)).size,
      peakRssKb: rss!,
    };
  }

  function tool(label: string, command: string, source: string, target: string): Promise<Result> {
    return timed(label, ["sh", "-c", `exec ${command} < '${source}' > '${target}'`], target);
  }

  function ours(kind: Compression, source: string, target: string): Promise<Result> {
    const self = new URL(import.meta.url).pathname;
    return timed(
      `osimg compress(${kind})`,
      [Deno.execPath(), "run", "-A", self, CHILD_FLAG, kind, source, target],
      target,
    );
  }

  async function check(argv: string[]): Promise<void> {
    const output = await new Deno.Command(argv[0]!, { args: argv.slice(1), stderr: "piped" })
      .output();
    if (!output.success) {
      throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
    }
  }

  function report(inputBytes: number, results: Result[], reference: Result): void {
    for (const result of results) {
      const difference = (result.outputBytes / reference.outputBytes - 1) * 100;
      console.log(
        [
          result.label.padEnd(24),
          `${result.seconds.toFixed(2).padStart(7)} s`,
          `${(inputBytes / 1e6 / result.seconds).toFixed(1).padStart(7)} MB/s`,
          `${result.outputBytes.toLocaleString("en").padStart(13)} B`,
          `ratio ${(inputBytes / result.outputBytes).toFixed(3)}`,
          `${difference >= 0 ? "+" : ""}${difference.toFixed(2)}% vs ${reference.label}`.padEnd(26),
          `peak RSS ${(result.peakRssKb / 1024).toFixed(0).padStart(5)} MB`,
        ].join("  "),
      );
    }
  }

  const size = megabytes * 1e6;
  const source = await corpus(size);
  console.log(
    `corpus: ${source} (${(size / 1e6).toFixed(0)} MB), ${navigator.hardwareConcurrency} cores, ` +
      `deno ${Deno.version.deno}`,
  );

  if (only.has("gzip")) {
    const target = `${work}/out.gz`;
    const results = [
      await ours("gzip", source, `${target}.osimg`),
      await tool("pigz -6", "pigz -6 -n", source, `${target}.pigz`),
      await tool("gzip -6", "gzip -6 -n", source, `${target}.gzip`),
    ];
    await check(["gzip", "-t", `${target}.osimg`]);
    report(size, results, results[1]!);
    const [mine, pigz] = results;
    console.log(
      `  osimg gzip is ${(pigz!.seconds / mine!.seconds).toFixed(2)}x pigz -6 ` +
        `and ${(results[2]!.seconds / mine!.seconds).toFixed(2)}x gzip -6\n`,
    );
  }

  if (only.has("zstd")) {
    const target = `${work}/out.zst`;
    const results = [
      await ours("zstd", source, `${target}.osimg`),
      await tool("zstd -3 -T0", "zstd -3 -T0 -q -c", source, `${target}.zstd`),
    ];
    await check(["zstd", "-t", "-q", `${target}.osimg`]);
    report(size, results, results[1]!);
    console.log();
  }

  if (only.has("xz")) {
    const xzSize = Math.min(size, xzMegabytes * 1e6);
    const xzSource = xzSize === size ? source : await corpus(xzSize);
    const target = `${work}/out.xz`;
    const results = [
      await ours("xz", xzSource, `${target}.osimg`),
      await tool("xz -6 -T0", "xz -6 -T0 -c", xzSource, `${target}.xz`),
    ];
    await check(["xz", "-t", `${target}.osimg`]);
    console.log(`xz on ${(xzSize / 1e6).toFixed(0)} MB:`);
    report(xzSize, results, results[1]!);
    console.log();
  }
}
