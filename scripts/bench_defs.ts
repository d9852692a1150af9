// Benchmark: 10,000 osimages and 10,000 nodes created with `mkdef -z`, then lsdef, tabdump and
// nodels over them, each as a real `osimg` process. Goal (issue 2): each under 2 s here.

import { fileURLToPath as fromFileUrl } from "node:url";

const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));
const COUNT = Number(Deno.args[0] ?? 10000);

async function osimg(root: string, args: string[], stdin?: string): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--root", root, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const seconds = (performance.now() - started) / 1000;
  if (output.code !== 0) {
    throw new Error(`osimg ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return seconds;
}

function stanzas(count: number): { images: string; nodes: string } {
  const images = ["# <xCAT data object stanza file>", ""];
  const nodes = ["# <xCAT data object stanza file>", ""];
  for (let index = 0; index < count; index++) {
    const id = String(index).padStart(5, "0");
    images.push(
      `img${id}:`,
      "    objtype=osimage",
      "    imagetype=linux",
      "    osarch=x86_64",
      "    osvers=rhels9.2",
      "    profile=compute",
      "    provmethod=netboot",
      `    rootimgdir=/install/netboot/rhels9.2/x86_64/img${id}`,
      "",
    );
    nodes.push(
      `cn${id}:`,
      "    objtype=node",
      `    groups=rack${Math.floor(index / 100)},compute,all`,
      `    mac=52:54:00:${id.slice(0, 1)}${id.slice(1, 2)}:${id.slice(2, 4)}:${id.slice(4)}0`,
      "    netboot=xnba",
      "",
    );
  }
  return { images: images.join("\n"), nodes: nodes.join("\n") };
}

// Warm the module cache so the first timing is not a type-check.
const warm = await Deno.makeTempDir();
await osimg(warm, ["tabdump"]);
await Deno.remove(warm, { recursive: true });

const root = await Deno.makeTempDir({ prefix: "osimg-bench-defs-" });
try {
  const { images, nodes } = stanzas(COUNT);
  const results: [string, number][] = [];
  results.push([`mkdef -z (${COUNT} osimages)`, await osimg(root, ["mkdef", "-z"], images)]);
  results.push([`mkdef -z (${COUNT} nodes)`, await osimg(root, ["mkdef", "-z"], nodes)]);
  await osimg(root, ["chdef", "-t", "group", "compute", "os=rhels9.2", "arch=x86_64"]);
  results.push(["lsdef -t osimage (names)", await osimg(root, ["lsdef", "-t", "osimage"])]);
  results.push(["lsdef -t osimage -l", await osimg(root, ["lsdef", "-t", "osimage", "-l"])]);
  results.push(["lsdef -t node -l (inherited)", await osimg(root, ["lsdef", "-l"])]);
  results.push(["lsdef -t node -z", await osimg(root, ["lsdef", "-z", "all"])]);
  results.push(["tabdump osimage", await osimg(root, ["tabdump", "osimage"])]);
  results.push(["tabdump nodelist", await osimg(root, ["tabdump", "nodelist"])]);
  results.push(["nodels all", await osimg(root, ["nodels", "all"])]);
  results.push([
    "nodels cn[00000-09999],-rack5",
    await osimg(root, ["nodels", `cn[00000-${String(COUNT - 1).padStart(5, "0")}],-rack5`]),
  ]);
  const startup = await osimg(root, ["--help"]);
  console.log(`osimg definitions benchmark, ${COUNT} osimages + ${COUNT} nodes`);
  console.log(`(each a separate process; process start-up alone: ${startup.toFixed(2)} s)`);
  for (const [name, seconds] of results) {
    const goal = name.startsWith("mkdef")
      ? ""
      : seconds < 2
      ? "  (< 2 s goal: met)"
      : "  (< 2 s goal: MISSED)";
    console.log(`${name.padEnd(34)} ${seconds.toFixed(2).padStart(6)} s${goal}`);
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
