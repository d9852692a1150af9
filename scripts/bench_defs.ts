// Benchmark: 10,000 osimages and 10,000 nodes created with `mkdef -z`, then lsdef, tabdump and
// nodels over them, each as a real `osimg` process, on SQLite and on PostgreSQL (a throwaway
// server on this machine, over its Unix socket). Goal (issues 2, 15): each under 2 s on both.

import { fileURLToPath as fromFileUrl } from "node:url";
import { testPostgres } from "../testdata/support/postgres_server.ts";

const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));
const COUNT = Number(Deno.args[0] ?? 10000);

async function osimg(
  root: string,
  db: string[],
  args: string[],
  stdin?: string,
): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--root", root, ...db, ...args],
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
await osimg(warm, [], ["tabdump"]);
await Deno.remove(warm, { recursive: true });

/** The benchmark's commands on one store (`db`: the --db arguments); seconds per command. */
async function suite(db: string[]): Promise<[string, number][]> {
  const root = await Deno.makeTempDir({ prefix: "osimg-bench-defs-" });
  try {
    const { images, nodes } = stanzas(COUNT);
    const run = (args: string[], stdin?: string) => osimg(root, db, args, stdin);
    const results: [string, number][] = [];
    results.push([`mkdef -z (${COUNT} osimages)`, await run(["mkdef", "-z"], images)]);
    results.push([`mkdef -z (${COUNT} nodes)`, await run(["mkdef", "-z"], nodes)]);
    results.push([
      "chdef -t group compute (2 attrs)",
      await run(["chdef", "-t", "group", "compute", "os=rhels9.2", "arch=x86_64"]),
    ]);
    results.push(["lsdef -t osimage (names)", await run(["lsdef", "-t", "osimage"])]);
    results.push(["lsdef -t osimage -l", await run(["lsdef", "-t", "osimage", "-l"])]);
    results.push(["lsdef -t node -l (inherited)", await run(["lsdef", "-l"])]);
    results.push(["lsdef -t node -z", await run(["lsdef", "-z", "all"])]);
    results.push(["tabdump osimage", await run(["tabdump", "osimage"])]);
    results.push(["tabdump nodelist", await run(["tabdump", "nodelist"])]);
    results.push(["nodels all", await run(["nodels", "all"])]);
    results.push([
      "nodels cn[00000-09999],-rack5",
      await run(["nodels", `cn[00000-${String(COUNT - 1).padStart(5, "0")}],-rack5`]),
    ]);
    results.push([
      `chdef -p one osimage (of ${COUNT})`,
      await run(["chdef", "-t", "osimage", "-o", "img00042", "-p", "synclists=/sync/x"]),
    ]);
    const dumpDir = `${root}/dump`;
    results.push(["dumpdb (every table)", await run(["dumpdb", dumpDir])]);
    results.push(["restoredb (every table)", await run(["restoredb", dumpDir])]);
    return results;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const startupRoot = await Deno.makeTempDir();
const startup = await osimg(startupRoot, [], ["--help"]);
await Deno.remove(startupRoot, { recursive: true });
const sqlite = await suite([]);
const server = await testPostgres();
const database = await server.database();
const postgres = await suite(["--db", database.url]);
await database[Symbol.asyncDispose]();

console.log(`osimg definitions benchmark, ${COUNT} osimages + ${COUNT} nodes`);
console.log(`(each a separate process; process start-up alone: ${startup.toFixed(2)} s;`);
console.log(" PostgreSQL 15 on this machine, over its Unix socket)");
console.log(`${"command".padEnd(34)} ${"SQLite".padStart(8)} ${"PostgreSQL".padStart(11)}  ratio`);
const goal = (name: string, seconds: number) =>
  name.startsWith("mkdef") || name.startsWith("restoredb") ? "" : seconds < 2 ? "" : " (> 2 s)";
for (const [index, [name, seconds]] of sqlite.entries()) {
  const pg = postgres[index]![1];
  console.log(
    `${name.padEnd(34)} ${seconds.toFixed(2).padStart(6)} s${goal(name, seconds).padEnd(8)} ` +
      `${pg.toFixed(2).padStart(6)} s${goal(name, pg).padEnd(8)} ${(pg / seconds).toFixed(2)}x`,
  );
}
const missed = [...sqlite, ...postgres].filter(([name, seconds]) => goal(name, seconds) !== "");
console.log(
  missed.length === 0
    ? "Goal (each listing/change command under 2 s on both stores): met"
    : `Goal (each listing/change command under 2 s on both stores): MISSED by ${missed.length}`,
);
