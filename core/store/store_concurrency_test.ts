// Two real processes changing definitions at once: every change must land.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";

const MAIN = fromFileUrl(new URL("../../main.ts", import.meta.url));
const WRITER = fromFileUrl(new URL("../../testdata/support/concurrent_writer.ts", import.meta.url));

Deno.test("concurrent processes interleave hundreds of changes and lose none", async () => {
  const root = await Deno.makeTempDir({ prefix: "osimg-concurrency-" });
  try {
    const create = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "--root",
        root,
        "mkdef",
        "-t",
        "osimage",
        "-o",
        "shared",
        "profile=p",
      ],
      stdout: "null",
    }).output();
    assertEquals(create.code, 0);
    const perProcess = 150;
    const writers = ["a", "b", "c"].map((id) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", WRITER, root, id, String(perProcess)],
        stdout: "piped",
        stderr: "piped",
      }).spawn()
    );
    const results = await Promise.all(writers.map((child) => child.output()));
    for (const result of results) {
      assertEquals(result.code, 0, new TextDecoder().decode(result.stderr));
    }
    const lsdef = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--root", root, "lsdef", "-t", "osimage", "shared", "--json"],
      stdout: "piped",
    }).output();
    const [image] = JSON.parse(new TextDecoder().decode(lsdef.stdout));
    const synclists = new Set(image.attributes.synclists.split(","));
    const nodes = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--root", root, "lsdef", "-t", "node", "-s"],
      stdout: "piped",
    }).output();
    const nodeCount = new TextDecoder().decode(nodes.stdout).trim().split("\n").length;
    for (const id of ["a", "b", "c"]) {
      for (let index = 0; index < perProcess; index++) {
        if (!synclists.has(`/sync/${id}${index}`)) throw new Error(`lost /sync/${id}${index}`);
      }
    }
    assertEquals(synclists.size, 3 * perProcess);
    assertEquals(nodeCount, 3 * perProcess);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
