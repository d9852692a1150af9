// GNU sparse files in all their tar encodings.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { readTar } from "./tar_reader.ts";
import { chunked, describeEntries } from "../../testdata/support/tree_fixture.ts";
import { run } from "../../testdata/support/process.ts";

const encoder = new TextEncoder();

Deno.test("tar reader expands GNU sparse files: old GNU 'S' and pax 0.0, 0.1, 1.0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-tar-sparse-" });
  try {
    const file = `${dir}/src/holes.img`;
    await Deno.mkdir(`${dir}/src`);
    await run(["truncate", "-s", "3000000", file]);
    // 30 islands of data: more than the 4 map entries an old GNU header holds.
    {
      using handle = await Deno.open(file, { write: true });
      for (let i = 0; i < 30; i++) {
        await handle.seek(i * 97_000 + 13, Deno.SeekMode.Start);
        await handle.write(encoder.encode(`island ${i} `.repeat(50)));
      }
    }
    const want = await describeEntries(
      readTar(chunked(await run(["tar", "-cf", "-", "holes.img"], { cwd: `${dir}/src` }), 4096)),
    );
    ok(want[0]!.includes("size=3000000/3000000"), want[0]);
    const archives: [string, string[]][] = [
      ["gnu", ["--format=gnu"]],
      ["0.0", ["--format=posix", "--sparse-version=0.0"]],
      ["0.1", ["--format=posix", "--sparse-version=0.1"]],
      ["1.0", ["--format=posix", "--sparse-version=1.0"]],
    ];
    for (const [label, flags] of archives) {
      const archive = await run(["tar", ...flags, "--sparse", "-cf", "-", "holes.img"], {
        cwd: `${dir}/src`,
      });
      ok(archive.byteLength < 400_000, `${label}: stored sparse (${archive.byteLength} bytes)`);
      for (const size of [1, 511, 512, 4096, archive.byteLength]) {
        const got = (await describeEntries(readTar(chunked(archive, size))))
          .map((line) => line.replace(/"uname":"[^"]*","gname":"[^"]*",/, ""));
        assertEquals(
          got,
          want.map((line) => line.replace(/"uname":"[^"]*","gname":"[^"]*",/, "")),
          `${label} chunk ${size}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
