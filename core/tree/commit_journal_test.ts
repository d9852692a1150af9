import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { cp } from "node:fs/promises";
import { type CommitPlan, commitStaged, createStaging, recoverStaging } from "./commit_journal.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";
import type { Store } from "../store/store.ts";
import { snapshotTree } from "../../testdata/support/testing.ts";

interface Fixture {
  base: string;
  root: string;
  stagingRoot: string;
  store: Store;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A root with an old image (kernel, kernel.ORIG, rows) and a DB. */
async function fixture(): Promise<Fixture> {
  const base = await Deno.makeTempDir({ prefix: "osimg-journal-" });
  const root = `${base}/root`;
  await Deno.mkdir(`${root}/install/netboot/img`, { recursive: true });
  await Deno.writeTextFile(`${root}/install/netboot/img/kernel`, "old kernel\n");
  await Deno.writeTextFile(`${root}/install/netboot/img/kernel.ORIG`, "older kernel\n");
  await Deno.writeTextFile(`${root}/install/netboot/img/pkglist`, "old list\n");
  await Deno.mkdir(`${root}/etc/xcat`, { recursive: true });
  const store = openSqliteStore(`${root}/etc/xcat/osimg.sqlite`);
  await store.write(async (writer) => {
    await writer.upsert("osimage", { imagename: "img", provmethod: "netboot", profile: "old" });
    await writer.upsert("linuximage", { imagename: "img", exlist: "/old" });
  });
  return {
    base,
    root,
    stagingRoot: `${root}/install/.osimg-staging`,
    store,
    async [Symbol.asyncDispose]() {
      store.close();
      await Deno.remove(base, { recursive: true });
    },
  };
}

/** Stages new files and returns the plan that puts them in place. */
async function stage(f: Fixture) {
  const staging = await createStaging(f.stagingRoot);
  await Deno.mkdir(`${staging.dir}/tree/rootimg/etc`, { recursive: true });
  await Deno.writeTextFile(`${staging.dir}/tree/kernel`, "new kernel\n");
  await Deno.writeTextFile(`${staging.dir}/tree/pkglist`, "new list\n");
  await Deno.writeTextFile(`${staging.dir}/tree/rootimg/etc/hostname`, "node\n");
  await Deno.writeTextFile(`${staging.dir}/tree/extra`, "extra\n");
  const plan: CommitPlan = {
    moves: [
      {
        from: `${staging.dir}/tree/kernel`,
        to: `${f.root}/install/netboot/img/kernel`,
        keepOrig: true,
      },
      {
        from: `${staging.dir}/tree/pkglist`,
        to: `${f.root}/install/netboot/img/pkglist`,
        keepOrig: false,
      },
      {
        from: `${staging.dir}/tree/rootimg`,
        to: `${f.root}/install/netboot/img/rootimg`,
        keepOrig: true,
      },
      { from: `${staging.dir}/tree/extra`, to: `${f.root}/new/dir/extra`, keepOrig: true },
    ],
    rows: [
      {
        table: "osimage",
        where: { imagename: "img" },
        after: [{ imagename: "img", provmethod: "netboot", profile: "new" }],
      },
      { table: "linuximage", where: { imagename: "img" }, after: [{ imagename: "img" }] },
    ],
  };
  return { staging, plan };
}

async function state(f: Fixture) {
  const rows = await f.store.read(async (reader) => [
    await reader.rows("osimage", {}, { includeDisabled: true }),
    await reader.rows("linuximage", {}, { includeDisabled: true }),
  ]);
  const tree = (await snapshotTree(f.root)).filter((line) => !line.includes("osimg.sqlite"));
  return { rows, tree };
}

const NEW_TREE = [
  "d etc 755",
  "d etc/xcat 755",
  "d install 755",
  "d install/netboot 755",
  "d install/netboot/img 755",
  "f install/netboot/img/kernel 644 11 ",
  "f install/netboot/img/kernel.ORIG 644 11 ",
  "f install/netboot/img/pkglist 644 9 ",
  "d install/netboot/img/rootimg 755",
  "d install/netboot/img/rootimg/etc 755",
  "f install/netboot/img/rootimg/etc/hostname 644 5 ",
  "d new 755",
  "d new/dir 755",
  "f new/dir/extra 644 6 ",
];

function shape(tree: string[]): string[] {
  return tree.map((line) => line.replace(/ [0-9a-f]{64}$/, " "));
}

Deno.test("commit: renames with .ORIG, new directories, replaced rows, staging gone", async () => {
  await using f = await fixture();
  const { staging, plan } = await stage(f);
  await commitStaged(f.store, staging, plan, { root: f.root });
  await staging.remove();
  const after = await state(f);
  assertEquals(shape(after.tree), NEW_TREE);
  assertEquals(
    await Deno.readTextFile(`${f.root}/install/netboot/img/kernel.ORIG`),
    "old kernel\n",
  );
  assertEquals(after.rows, [[{ imagename: "img", provmethod: "netboot", profile: "new" }], [{
    imagename: "img",
  }]]);
});

Deno.test("commit: a failure after the renames puts every file and row back", async () => {
  await using f = await fixture();
  const before = await state(f);
  const { staging, plan } = await stage(f);
  await rejects(
    commitStaged(f.store, staging, plan, {
      root: f.root,
      hook: (point) => {
        if (point === "rows-applied") throw new Error("disk full");
      },
    }),
    /disk full/,
  );
  await staging.remove();
  assertEquals(await state(f), before);
});

for (const point of ["journal-written", "files-moved", "rows-applied"] as const) {
  Deno.test(`recovery: a crash at ${point} is rolled forward to exactly the new state`, async () => {
    await using f = await fixture();
    const { staging, plan } = await stage(f);
    const crashed = `${f.base}/crashed`;
    // A crash is simulated by copying the whole root (DB and its WAL included) at that point:
    // what a kill -9 there would leave on disk.
    await commitStaged(f.store, staging, plan, {
      root: f.root,
      hook: async (at) => {
        if (at === point) await cp(f.root, crashed, { recursive: true, verbatimSymlinks: true });
      },
    });
    await staging.remove();
    const expected = await state(f);
    const store = openSqliteStore(`${crashed}/etc/xcat/osimg.sqlite`);
    try {
      const report = await recoverStaging(store, crashed, `${crashed}/install/.osimg-staging`);
      assertEquals(report.rolledForward.length, 1);
      const recovered = await state({ ...f, root: crashed, store });
      assertEquals(recovered, expected);
      ok(!(await Deno.stat(`${crashed}/install/.osimg-staging`).catch(() => false)));
    } finally {
      store.close();
    }
  });
}

Deno.test("recovery: a staging directory without a journal is removed, nothing else changes", async () => {
  await using f = await fixture();
  const before = await state(f);
  const { staging } = await stage(f);
  // Pretend its owner died: another pid that does not exist.
  await Deno.writeTextFile(`${staging.dir}/owner`, "999999999 1\n");
  const report = await recoverStaging(f.store, f.root, f.stagingRoot);
  assertEquals(report.removed, [staging.id]);
  assertEquals(await state(f), before);
});

Deno.test("recovery: a live process's staging directory is left alone", async () => {
  await using f = await fixture();
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const { staging } = await stage(f);
    const stat = await Deno.readTextFile(`/proc/${child.pid}/stat`);
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    await Deno.writeTextFile(`${staging.dir}/owner`, `${child.pid} ${start}\n`);
    const report = await recoverStaging(f.store, f.root, f.stagingRoot);
    assertEquals(report, { rolledForward: [], rolledBack: [], removed: [] });
    ok((await Deno.stat(staging.dir)).isDirectory);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("a staging tree with read-only and unreadable directories is removed by a non-root user", async () => {
  // As root rm ignores modes, so the fallback that opens the directories runs as nobody.
  const work = await Deno.makeTempDir({ prefix: "osimg-journal-nobody-" });
  try {
    await Deno.chmod(work, 0o755);
    const stagingRoot = `${work}/install/.osimg-staging`;
    await Deno.mkdir(`${work}/install`);
    await Deno.mkdir(`${work}/deno-dir`);
    await Deno.chown(`${work}/install`, 65534, 65534);
    await Deno.chown(`${work}/deno-dir`, 65534, 65534);
    const script = `${work}/remove.ts`;
    await Deno.writeTextFile(
      script,
      `import { createStaging } from ${
        JSON.stringify(import.meta.resolve("./commit_journal.ts"))
      };\n` +
        `const staging = await createStaging(Deno.args[0]);\n` +
        `await Deno.mkdir(staging.dir + "/tree/ro/deeper", { recursive: true });\n` +
        `await Deno.writeTextFile(staging.dir + "/tree/ro/deeper/file", "x");\n` +
        `await Deno.mkdir(staging.dir + "/tree/closed");\n` +
        `await Deno.writeTextFile(staging.dir + "/tree/closed/file", "x");\n` +
        `await Deno.chmod(staging.dir + "/tree/ro/deeper", 0o555);\n` +
        `await Deno.chmod(staging.dir + "/tree/ro", 0o555);\n` +
        `await Deno.chmod(staging.dir + "/tree/closed", 0o000);\n` +
        `await staging.remove();\n`,
    );
    const output = await new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        Deno.execPath(),
        "run",
        "--no-config",
        "-A",
        script,
        stagingRoot,
      ],
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH")!, DENO_DIR: `${work}/deno-dir`, HOME: `${work}/deno-dir` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    assertEquals(await snapshotTree(`${work}/install`), []);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
