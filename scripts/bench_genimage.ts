// Benchmark: osimg genimage of a Debian minbase image plus a few packages against plain debootstrap of the same set, and a re-run with nothing changed.
//
// Usage (HEAVY: under flock /work/wt/heavy.lock):
//   deno run -A scripts/bench_genimage.ts [--work DIR] [--packages a,b,c] [--keep]
// In one run, from the Debian mirror this machine's apt uses (never a host written here):
//   debootstrap --variant=minbase --include=<packages> <suite> <dir> <mirror>   (what a user runs)
//   osimg genimage <image>      (the same packages as its pkglist: debootstrap, apt-get update,
//                                install, upgrade, node files, kernel, initrd-stateless.gz)
//   osimg genimage <image>      again, nothing changed (update, no-op install, initrd)
// Goals (issue 11): the first genimage at most 1.3x debootstrap, the re-run under 10% of it.
// Everything is removed at the end unless --keep.

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { debianMirror, osversOf } from "../testdata/support/debian_root.ts";
import { defineGenimageImage, writeSiteFile } from "../testdata/support/genimage_testing.ts";

const args = parseArgs({
  args: Deno.args,
  options: { work: { type: "string" }, packages: { type: "string" }, keep: { type: "boolean" } },
});
const packages = (args.values.packages ?? "linux-image-amd64,busybox-static,less").split(",");
const main = fileURLToPath(new URL("../main.ts", import.meta.url));
const IMAGE = "bench-debian-compute";

async function timed(argv: string[], env: Record<string, string> = {}): Promise<number> {
  const started = performance.now();
  const output = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (output.code !== 0) {
    throw new Error(
      `${argv.join(" ")} exited ${output.code}:\n${
        new TextDecoder().decode(output.stderr).slice(-3000)
      }`,
    );
  }
  return (performance.now() - started) / 1000;
}

const work = args.values.work ??
  await Deno.makeTempDir({ dir: "/var/tmp", prefix: "osimg-bench-genimage-" });
try {
  const mirror = await debianMirror();
  const osvers = osversOf(mirror.suite);
  console.log(`mirror ${mirror.url} ${mirror.suite}; packages: minbase + ${packages.join(" ")}`);

  const plain = `${work}/debootstrap`;
  const debootstrap = await timed([
    "debootstrap",
    "--variant=minbase",
    `--include=${packages.join(",")}`,
    mirror.suite,
    plain,
    mirror.url,
  ]);
  await Deno.remove(plain, { recursive: true });

  const root = `${work}/site`;
  await writeSiteFile(root, "/install/custom/bench.pkglist", packages.join("\n") + "\n");
  await defineGenimageImage(root, IMAGE, { osvers, osarch: "x86_64", profile: "compute" }, {
    pkglist: "/install/custom/bench.pkglist",
    pkgdir: `${mirror.url} ${mirror.suite} ${mirror.components.join(" ")}`,
  });
  const osimg = ["deno", "run", "-A", main, "--root", root, "genimage", IMAGE];
  const first = await timed(osimg);
  const again = await timed(osimg);

  const row = (name: string, seconds: number, note: string) =>
    console.log(`${name.padEnd(34)} ${seconds.toFixed(1).padStart(7)} s  ${note}`);
  row("debootstrap --variant=minbase", debootstrap, "");
  row(
    "osimg genimage (first build)",
    first,
    `${(first / debootstrap).toFixed(2)}x debootstrap (goal <= 1.3x)`,
  );
  row(
    "osimg genimage (nothing changed)",
    again,
    `${(100 * again / first).toFixed(1)}% of the first (goal < 10%)`,
  );
} finally {
  if (!args.values.keep && !args.values.work) await Deno.remove(work, { recursive: true });
}
