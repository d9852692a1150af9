// Two management nodes (two roots) on one database, several osimg processes on each.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { systemRunner } from "../process.ts";
import { storeRoot, TEST_STORES } from "../../testdata/support/store_testing.ts";
import { testRoot } from "../../testdata/support/testing.ts";

const WRITER = fileURLToPath(
  new URL("../../testdata/support/shared_database_writer.ts", import.meta.url),
);

for (const store of TEST_STORES) {
  Deno.test(`two roots on one ${store} database, two processes each, hundreds of interleaved chdef -p, mkdef and rmdef: every change lands once`, async () => {
    await using first = await storeRoot(store);
    // The second management node: its own root, the first one's database.
    await using second = await testRoot({ db: first.db });
    await first.ok(["mkdef", "-t", "osimage", "-o", "shared", "profile=p"]);
    const perProcess = 90;
    const writers = [
      [first, "a"],
      [first, "b"],
      [second, "c"],
      [second, "d"],
    ] as const;
    await Promise.all(
      writers.map(([t, id]) =>
        systemRunner.run([
          Deno.execPath(),
          "run",
          "-A",
          WRITER,
          t.root,
          t.db,
          id,
          String(perProcess),
        ])
      ),
    );
    const expectedSync: string[] = [];
    const expectedNodes: string[] = [];
    for (const [, id] of writers) {
      for (let index = 0; index < perProcess; index++) {
        expectedSync.push(`/sync/${id}/${index}`);
        const removed = index % 3 === 1 && index + 1 < perProcess;
        if (!removed) expectedNodes.push(`n${id}-${index}`);
      }
    }
    // Both roots see the same: every synclists entry once, every node made and not removed.
    for (const t of [first, second]) {
      const [image] = JSON.parse(
        (await t.ok(["lsdef", "-t", "osimage", "shared", "--json"])).stdout,
      );
      const synclists: string[] = image.attributes.synclists.split(",");
      assertEquals([...synclists].sort(), [...expectedSync].sort());
      const nodes = (await t.ok(["lsdef", "-t", "node", "-s"])).stdout.trim().split("\n")
        .map((line) => line.replace(/ +\(node\)$/, ""));
      assertEquals(nodes.sort(), [...expectedNodes].sort());
      const rows = (await t.ok(["tabdump", "nodelist"])).stdout.trim().split("\n").slice(1);
      assertEquals(rows.length, expectedNodes.length);
    }
  });
}
