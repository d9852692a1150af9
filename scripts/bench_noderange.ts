// Benchmark: noderange expansion and group-inherited rows over 10,000 nodes in 100 racks.
//
// deno run -A scripts/bench_noderange.ts [nodes]
// Loads the universe from a real SQLite store once, then times expandNoderange of typical ranges
// and inheritedRow of three tables for every node (regex values included). Goal: well under 2 s.

import { join } from "node:path";
import { openSqliteStore } from "../core/store/sqlite_store.ts";
import { loadNodeUniverse } from "../core/nodes/node_universe.ts";
import { expandNoderange } from "../core/nodes/noderange.ts";

const COUNT = Number(Deno.args[0] ?? 10000);
const RACKS = 100;
const PER_RACK = Math.ceil(COUNT / RACKS);

function time<T>(label: string, work: () => T): T {
  const started = performance.now();
  const result = work();
  const elapsed = performance.now() - started;
  console.log(`${label.padEnd(48)} ${elapsed.toFixed(1).padStart(8)} ms`);
  return result;
}

async function timeAsync<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  const elapsed = performance.now() - started;
  console.log(`${label.padEnd(48)} ${elapsed.toFixed(1).padStart(8)} ms`);
  return result;
}

const dir = await Deno.makeTempDir({ prefix: "osimg-bench-noderange-" });
const store = openSqliteStore(join(dir, "osimg.sqlite"));
try {
  await timeAsync(
    `write ${COUNT} nodes, ${RACKS} rack groups`,
    () =>
      store.write(async (writer) => {
        for (let index = 1; index <= COUNT; index++) {
          const rack = Math.ceil(index / PER_RACK);
          await writer.upsert("nodelist", {
            node: `node${String(index).padStart(5, "0")}`,
            groups: `rack${rack},compute,all`,
          });
        }
        await writer.upsert("nodetype", { node: "compute", os: "rhels9.2", arch: "x86_64" });
        await writer.upsert("hosts", {
          node: "compute",
          ip: "|\\D+(\\d+)|10.0.($1/256).($1%256)|",
        });
        for (let rack = 1; rack <= RACKS; rack++) {
          await writer.upsert("noderes", { node: `rack${rack}`, xcatmaster: `sn${rack}` });
        }
        await writer.upsert("nodetype", { node: "node00042", os: "sles15" });
      }),
  );

  const universe = await timeAsync(
    "loadNodeUniverse (nodelist, nodetype, hosts, noderes)",
    () => store.read((reader) => loadNodeUniverse(reader, ["nodetype", "hosts", "noderes"])),
  );
  const all = time("expandNoderange all", () => expandNoderange("all", universe));
  const range = time(
    `expandNoderange node[00001-${String(COUNT).padStart(5, "0")}]`,
    () => expandNoderange(`node[00001-${String(COUNT).padStart(5, "0")}]`, universe),
  );
  const dashRange = time(
    "expandNoderange node00001-node10000",
    () => expandNoderange(`node00001-node${String(COUNT).padStart(5, "0")}`, universe),
  );
  const excluded = time(
    "expandNoderange compute,-rack2",
    () => expandNoderange("compute,-rack2", universe),
  );
  const selected = time(
    "expandNoderange nodetype.os=~sles",
    () => expandNoderange("nodetype.os=~sles", universe),
  );
  const regex = time("expandNoderange /node0004.*", () => expandNoderange("/node0004.*", universe));
  time(`inheritedRow x3 tables for ${COUNT} nodes`, () => {
    let cells = 0;
    for (const node of universe.nodes) {
      for (const table of ["nodetype", "hosts", "noderes"]) {
        cells += Object.keys(universe.inheritedRow(table, node)).length;
      }
    }
    return cells;
  });
  console.log(
    `sizes: all=${all.length} range=${range.length} dash=${dashRange.length} ` +
      `excluded=${excluded.length} selected=${selected.length} regex=${regex.length}`,
  );
  console.log(`sample: node00300 ip=${universe.inheritedRow("hosts", "node00300").ip}`);
} finally {
  store.close();
  await Deno.remove(dir, { recursive: true });
}
