// Benchmark: `nodeset all osimage` for 10,000 nodes over 3 images and 3 loaders (xnba, pxe,
// grub2), each run a cold `osimg` process: wall time and peak RSS of the first run (kernels
// staged, every entry written) and of a re-run with nothing changed. Goal (issue 10): < 5 s and
// < 2 s. Compared, in the same run, with what an admin would script instead: a shell loop that
// writes the same pxelinux entries and links one node at a time.
//
//   flock /work/wt/heavy.lock deno run -A scripts/bench_nodeset.ts [nodes]

import { fileURLToPath as fromFileUrl } from "node:url";
import { defineRows } from "../testdata/support/pack_testing.ts";

const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));
const COUNT = Number(Deno.args[0] ?? 10000);
const IMAGES = ["rhels9.4", "rocky9.4", "alma9.4"].map((os) => ({
  name: `${os}-x86_64-netboot-compute`,
  os,
  dir: `/install/netboot/${os}/x86_64/compute`,
}));
const LOADERS = ["xnba", "pxe", "grub2"];

/** Runs a command under /usr/bin/time: wall seconds and peak RSS in MiB. */
async function measure(argv: string[]): Promise<{ seconds: number; rssMiB: number }> {
  const started = performance.now();
  const output = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M", ...argv],
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(output.stderr).trim().split("\n");
  if (output.code !== 0) throw new Error(`${argv.join(" ")} failed:\n${stderr.join("\n")}`);
  return { seconds, rssMiB: Number(stderr[stderr.length - 1]) / 1024 };
}

function osimg(root: string, args: string[]) {
  return measure([Deno.execPath(), "run", "-A", MAIN, "--root", root, ...args]);
}

/** A file of `size` bytes of repeating data (a kernel or initrd stand-in; only its size matters). */
async function filler(path: string, size: number): Promise<void> {
  const block = new Uint8Array(1 << 20).map((_, index) => index % 251);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let written = 0; written < size; written += block.length) {
      await file.write(block.subarray(0, Math.min(block.length, size - written)));
    }
  } finally {
    file.close();
  }
}

async function setUp(root: string): Promise<void> {
  const nodes = Array.from({ length: COUNT }, (_, index) => `cn${String(index).padStart(5, "0")}`);
  // As sites define them: groups carry netboot, the image and the regex IP; MACs are per node.
  await defineRows(root, {
    site: [{ key: "master", value: "10.0.0.1" }],
    nodelist: nodes.map((node, index) => ({
      node,
      groups: `rack${Math.floor(index / 40)},${LOADERS[index % 3]},img${index % 3},compute,all`,
    })),
    noderes: [
      ...LOADERS.map((loader) => ({ node: loader, netboot: loader })),
      { node: "compute", xcatmaster: "10.0.0.1" },
    ],
    nodetype: IMAGES.map((image, index) => ({ node: `img${index}`, provmethod: image.name })),
    hosts: [{ node: "compute", ip: "|\\D+(\\d+)|10.1.($1/250).($1%250+1)|" }],
    nodehm: [{ node: "compute", serialport: "0", serialspeed: "115200" }],
    mac: nodes.map((node, index) => ({
      node,
      mac: `52:54:00:${(index >> 16 & 255).toString(16).padStart(2, "0")}:${
        (index >> 8 & 255).toString(16).padStart(2, "0")
      }:${(index & 255).toString(16).padStart(2, "0")}`,
    })),
    osimage: IMAGES.map((image) => ({
      imagename: image.name,
      imagetype: "linux",
      provmethod: "netboot",
      osvers: image.os,
      osarch: "x86_64",
      profile: "compute",
    })),
    linuximage: IMAGES.map((image) => ({ imagename: image.name, addkcmdline: "quiet" })),
  });
  for (const image of IMAGES) {
    const dir = `${root}${image.dir}`;
    await Deno.mkdir(dir, { recursive: true });
    await filler(`${dir}/kernel`, 12 << 20);
    await filler(`${dir}/initrd-stateless.gz`, 60 << 20);
    await Deno.writeTextFile(`${dir}/rootimg.cpio.gz`, "packed root stand-in\n");
  }
}

/** The shell loop an admin would write instead: one pxelinux entry and link per node. */
function shellLoop(root: string): string {
  return `
set -e
cd '${root}'
mkdir -p tftpboot/pxelinux.cfg
i=0
while [ $i -lt ${COUNT} ]; do
  node=$(printf 'cn%05d' $i)
  ip3=$((i / 250)); ip4=$((i % 250 + 1))
  printf '#netboot rhels9.4-x86_64-compute\\nDEFAULT xCAT\\nLABEL xCAT\\n KERNEL xcat/osimage/rhels9.4-x86_64-netboot-compute/kernel\\n APPEND initrd=xcat/osimage/rhels9.4-x86_64-netboot-compute/initrd-stateless.gz imgurl=http://10.0.0.1:80//install/netboot/rhels9.4/x86_64/compute/rootimg.cpio.gz XCAT=10.0.0.1:3001 NODE=%s FC=0 XCATHTTPPORT=80 console=tty0 console=ttyS0,115200 selinux=0 quiet\\n  IPAPPEND 2\\n' "$node" > "tftpboot/pxelinux.cfg/$node.tmp"
  mv "tftpboot/pxelinux.cfg/$node.tmp" "tftpboot/pxelinux.cfg/$node"
  ln -sfn "$node" "tftpboot/pxelinux.cfg/$(printf '%02X%02X%02X%02X' 10 1 $ip3 $ip4)"
  i=$((i + 1))
done
`;
}

// Warm the module cache so no timing includes a type-check.
const warm = await Deno.makeTempDir();
await osimg(warm, ["nodels"]);
await Deno.remove(warm, { recursive: true });

const root = await Deno.makeTempDir({ prefix: "osimg-bench-nodeset-" });
const shellRoot = await Deno.makeTempDir({ prefix: "osimg-bench-nodeset-sh-" });
try {
  await setUp(root);
  const first = await osimg(root, ["nodeset", "all", "osimage"]);
  const again = await osimg(root, ["nodeset", "all", "osimage"]);
  const shell = await measure(["bash", "-c", shellLoop(shellRoot)]);
  let files = 0;
  for (const dir of ["pxelinux.cfg", "xcat/xnba/nodes", "boot/grub2"]) {
    for (const _ of Deno.readDirSync(`${root}/tftpboot/${dir}`)) files++;
  }
  const line = (name: string, result: { seconds: number; rssMiB: number }, goal?: number) =>
    console.log(
      `${name.padEnd(44)} ${result.seconds.toFixed(2).padStart(6)} s ${
        result.rssMiB.toFixed(0).padStart(5)
      } MiB peak RSS${
        goal === undefined
          ? ""
          : `  (< ${goal} s goal: ${result.seconds < goal ? "met" : "MISSED"})`
      }`,
    );
  console.log(
    `nodeset benchmark: ${COUNT} nodes, ${IMAGES.length} images (12 MiB kernel, 60 MiB initrd ` +
      `each), loaders ${LOADERS.join("/")}; ${files} entry files and links written`,
  );
  line("osimg nodeset all osimage (cold process)", first, 5);
  line("osimg nodeset all osimage (re-run, no change)", again, 2);
  line(`shell loop, pxelinux only (${COUNT} entries)`, shell);
  console.log(
    `ratio shell loop / osimg first run: ${(shell.seconds / first.seconds).toFixed(1)}x ` +
      `(the loop writes one loader's entries, stages no kernels and validates nothing)`,
  );
} finally {
  await Deno.remove(root, { recursive: true });
  await Deno.remove(shellRoot, { recursive: true });
}
