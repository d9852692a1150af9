// tar round trips: what tarStream writes, readTar (and GNU tar) give back.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { readTar, tarStream } from "./tar.ts";
import {
  CAPABILITY_SETUID_SETGID,
  chunked,
  describeEntries,
  describeTree,
  entriesFromTree,
  makeFeatureTree,
} from "../../testdata/support/tree_fixture.ts";
import { collectBytes } from "../bytes.ts";
import { run } from "../../testdata/support/process.ts";
import { expectedAfterTar, sampleEntries } from "../../testdata/support/tar_fixture.ts";

Deno.test("tar round trip keeps every entry kind, mode, owner, name, link and binary xattr", async () => {
  const bytes = await collectBytes(tarStream(sampleEntries()));
  assertEquals(bytes.byteLength % 10240, 0);
  assertEquals(
    await describeEntries(readTar(chunked(bytes, bytes.byteLength))),
    await expectedAfterTar(sampleEntries()),
  );
});

Deno.test("tar cross-check: GNU tar --xattrs restores our archive of a real tree; bsdtar lists it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-tar-" });
  try {
    await makeFeatureTree(`${dir}/src`);
    const entries = await entriesFromTree(`${dir}/src`);
    const archive = await collectBytes(tarStream(entries));
    assertEquals(
      archive,
      await collectBytes(tarStream(await entriesFromTree(`${dir}/src`))),
      "deterministic",
    );
    await Deno.writeFile(`${dir}/a.tar`, archive);
    await Deno.mkdir(`${dir}/out`);
    await run([
      "tar",
      "--xattrs",
      "--xattrs-include=*",
      "-xpf",
      `${dir}/a.tar`,
      "-C",
      `${dir}/out`,
    ]);
    const want = await describeTree(`${dir}/src`, { xattrs: true });
    assertEquals(await describeTree(`${dir}/out`, { xattrs: true }), want);
    ok(
      want.some((line) =>
        line.startsWith("bin/su ") && line.includes("security.capability=01000002c0")
      ),
      "binary capability in the fixture",
    );
    const caps = new TextDecoder().decode(await run(["getcap", `${dir}/out/bin/su`]));
    ok(caps.includes(CAPABILITY_SETUID_SETGID.split("+")[0]!.split(",")[0]!), caps);
    const listing = new TextDecoder().decode(await run(["bsdtar", "-tvf", `${dir}/a.tar`]));
    assertEquals(listing.trim().split("\n").length, entries.length);
    ok(/^c.* 259,65536 .*dev\/big$/m.test(listing), listing);
    ok(/^h.*bin\/random-link link to bin\/random$/m.test(listing), listing);
    assertEquals(
      await describeEntries(readTar(chunked(archive, 4093))),
      await expectedAfterTar(await entriesFromTree(`${dir}/src`)),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
