import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { systemRunner } from "../process.ts";
import { sh } from "../../testdata/support/process.ts";
import { makeFixtureTree } from "../../testdata/support/pack_testing.ts";
import { walkTree } from "../tree/walk.ts";
import { IntegrityError } from "../errors.ts";
import { summarizeEntries } from "./path_summary.ts";
import { summarizeSquashfs } from "./squashfs_summary.ts";

Deno.test("summarizeSquashfs gives what walking the packed tree gives, xattrs aside", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-sfs-" });
  try {
    await makeFixtureTree(`${dir}/tree`);
    // Names the pseudo file escapes or cannot: a space, a backslash, a quote, a newline.
    for (const name of ["a b", "back\\slash", 'quo"te', "new\nline"]) {
      await Deno.writeTextFile(`${dir}/tree/etc/${name}`, `${name}\n`);
    }
    await Deno.writeTextFile(`${dir}/tree/etc/same-as-hostname`, "node\n");
    await sh(["mksquashfs", `${dir}/tree`, `${dir}/root.sfs`, "-quiet", "-noappend"]);
    const squashfs = await summarizeSquashfs(systemRunner, `${dir}/root.sfs`, "root.sfs");
    const walked = await summarizeEntries(walkTree(`${dir}/tree`));
    for (const summary of walked.values()) delete summary.xattrs;
    // mksquashfs stores a symlink's mode as 0777, as lstat gives it.
    assertEquals(new Map([...squashfs].sort()), new Map([...walked].sort()));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("summarizeSquashfs refuses a file that is not a squashfs image", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-sfs-" });
  try {
    await Deno.writeTextFile(`${dir}/not.sfs`, "hsqs but not really".repeat(100));
    await rejects(
      summarizeSquashfs(systemRunner, `${dir}/not.sfs`, "not.sfs"),
      (error) =>
        error instanceof IntegrityError &&
        error.message.startsWith("Cannot read the squashfs image not.sfs: unsquashfs failed"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
