// Tests for snapshot and rollback: byte-for-byte restore of files and rows, dedup, undo, damaged store.

import { deepStrictEqual as assertEquals, notDeepStrictEqual, ok } from "node:assert/strict";
import { snapshotTree, testRoot } from "../../testdata/support/testing.ts";
import { hostPath } from "../paths.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";
import { DEFAULT_DB } from "../../main.ts";
import {
  buildFixture,
  INSTALL,
  NETBOOT,
  NETBOOT_DIR,
  STATELITE,
  STATELITE_DIR,
} from "../../testdata/support/bundle_export_fixture.ts";

async function fixtureRoot() {
  const t = await testRoot();
  await buildFixture(t.root);
  return t;
}

/** Everything a rollback must restore: the install tree and the image's rows. */
async function state(root: string, image: string): Promise<string[]> {
  const store = openSqliteStore(hostPath(root, DEFAULT_DB));
  try {
    const rows = await store.read(async (reader) => [
      ...await reader.rows("osimage", { imagename: image }),
      ...await reader.rows("linuximage", { imagename: image }),
      ...await reader.rows("litefile", { image }),
    ]);
    const tree = (await snapshotTree(hostPath(root, "/install")))
      .filter((line) => !/^\S+ (osimg|\.osimg-staging)(\/| )/.test(line));
    return [...rows.map((row) => JSON.stringify(row)), ...tree];
  } finally {
    store.close();
  }
}

async function changeNetboot(root: string): Promise<void> {
  await Deno.writeTextFile(hostPath(root, `${NETBOOT_DIR}/kernel`), "new kernel\n");
  await Deno.writeTextFile(hostPath(root, `${NETBOOT_DIR}/rootimg/etc/added`), "added\n");
  await Deno.remove(hostPath(root, `${NETBOOT_DIR}/rootimg/usr/bin/tool`));
  await Deno.chmod(hostPath(root, `${NETBOOT_DIR}/rootimg/etc/hostname`), 0o600);
  await Deno.writeTextFile(
    hostPath(root, "/install/custom/netboot/rh/compute.rhels8.x86_64.pkglist"),
    "bash\nkernel\nvim\n",
  );
  const store = openSqliteStore(hostPath(root, DEFAULT_DB));
  try {
    await store.write(async (writer) => {
      await writer.upsert("linuximage", {
        imagename: NETBOOT,
        netdrivers: "ixgbe",
        kernelver: "6.1",
      });
      await writer.upsert("osimage", {
        imagename: NETBOOT,
        nfsrootopts: "",
        description: "changed",
      });
    });
  } finally {
    store.close();
  }
}

Deno.test("snapshot, change files and definition, rollback: all back byte for byte; rollback undoes too", async () => {
  await using t = await fixtureRoot();
  const original = await state(t.root, NETBOOT);
  const taken = await t.ok(["snapshot", NETBOOT, "--note", "before upgrade"]);
  ok(taken.stdout.startsWith(`Snapshot 1 of ${NETBOOT} taken (`), taken.stdout);

  await changeNetboot(t.root);
  const changed = await state(t.root, NETBOOT);
  notDeepStrictEqual(changed, original);

  const rolled = await t.ok(["rollback", NETBOOT]);
  ok(rolled.stdout.includes("The state before the rollback is snapshot 2"), rolled.stdout);
  ok(
    rolled.stdout.endsWith(
      `Rolled back ${NETBOOT} to snapshot 1 (` + rolled.stdout.split(" (").pop(),
    ),
  );
  assertEquals(await state(t.root, NETBOOT), original);

  // The rollback is itself undone by rolling back to the snapshot it saved.
  await t.ok(["rollback", NETBOOT, "2"]);
  assertEquals(await state(t.root, NETBOOT), changed);

  const list = JSON.parse((await t.ok(["snapshot", "--list", NETBOOT, "--json"])).stdout);
  assertEquals(list.map((record: { id: string; note: string }) => [record.id, record.note]), [
    ["1", "before upgrade"],
    ["2", "before rollback to 1"],
    ["3", "before rollback to 2"],
  ]);
  assertEquals(list[2].digest, list[0].digest, "state 3 is state 1 again: same bytes");
});

Deno.test("an unchanged image snapshotted twice is stored once", async () => {
  await using t = await fixtureRoot();
  await t.ok(["snapshot", NETBOOT]);
  const again = await t.ok(["snapshot", NETBOOT, "--note", "again"]);
  assertEquals(
    again.stdout,
    `The image ${NETBOOT} is unchanged since snapshot 1; nothing new was stored.\n`,
  );
  const blobs = [...Deno.readDirSync(hostPath(t.root, "/install/osimg/snapshots/blobs"))];
  assertEquals(blobs.length, 1);
  const list = JSON.parse((await t.ok(["snapshot", "--list", "--json"])).stdout);
  assertEquals(list.length, 1);
  assertEquals(`${list[0].digest}.tgz`, blobs[0]!.name);
  assertEquals(
    list[0].size,
    Deno.statSync(hostPath(t.root, `/install/osimg/snapshots/blobs/${blobs[0]!.name}`)).size,
  );
  assertEquals(list[0].time, list[0].time.replace(/\.\d+Z$/, "Z"));
  // The text listing shows time, size, note and digest.
  const text = (await t.ok(["snapshot", "--list"])).stdout.split("\n");
  ok(text[0]!.startsWith("IMAGE"), text[0]);
  ok(text[1]!.includes(list[0].digest.slice(0, 12)));
});

Deno.test("snapshot and rollback print only their own lines, none of the export's or the import's", async () => {
  await using t = await fixtureRoot();
  const taken = await t.ok(["snapshot", NETBOOT]);
  ok(
    new RegExp(`^Snapshot 1 of ${NETBOOT} taken \\(\\d+ bytes, sha256 [0-9a-f]{64}\\)\\.\n$`)
      .test(taken.stdout),
    taken.stdout,
  );
  assertEquals(taken.stderr, "");
  await changeNetboot(t.root);
  const rolled = await t.ok(["rollback", NETBOOT]);
  const [, time] = /\(([^)]+)\)\.\n$/.exec(rolled.stdout) ?? [];
  assertEquals(
    rolled.stdout,
    `The state before the rollback is snapshot 2 ('rollback ${NETBOOT} 2' undoes it).\n` +
      `Rolled back ${NETBOOT} to snapshot 1 (${time}).\n`,
  );
  assertEquals(rolled.stderr, "");
});

Deno.test("statelite and install images round-trip through snapshot and rollback", async () => {
  await using t = await fixtureRoot();
  for (const image of [STATELITE, INSTALL]) {
    const original = await state(t.root, image);
    await t.ok(["snapshot", image]);
    if (image === STATELITE) {
      await Deno.remove(hostPath(t.root, `${STATELITE_DIR}/rootimg/etc`), { recursive: true });
      const store = openSqliteStore(hostPath(t.root, DEFAULT_DB));
      await store.write((writer) => writer.delete("litefile", { image: STATELITE }));
      store.close();
    } else {
      await Deno.writeTextFile(
        hostPath(t.root, "/install/custom/install/rh/compute.rhels8.tmpl"),
        "#changed\n",
      );
    }
    notDeepStrictEqual(await state(t.root, image), original);
    await t.ok(["rollback", image, "1"]);
    assertEquals(await state(t.root, image), original, image);
  }
});

Deno.test("rollback refuses a damaged snapshot and unknown names, changing nothing", async () => {
  await using t = await fixtureRoot();
  const none = await t.run(["rollback", NETBOOT]);
  assertEquals(none.status, 1);
  ok(none.stderr.includes(`The image '${NETBOOT}' has no snapshots.`), none.stderr);

  await t.ok(["snapshot", NETBOOT]);
  const unknown = await t.run(["rollback", NETBOOT, "7"]);
  assertEquals(unknown.status, 1);
  ok(unknown.stderr.includes("has no snapshot '7'"), unknown.stderr);

  await changeNetboot(t.root);
  const before = await state(t.root, NETBOOT);
  const [blob] = [...Deno.readDirSync(hostPath(t.root, "/install/osimg/snapshots/blobs"))];
  const blobPath = hostPath(t.root, `/install/osimg/snapshots/blobs/${blob!.name}`);
  const bytes = await Deno.readFile(blobPath);
  bytes[bytes.length - 100]! ^= 0xff;
  await Deno.writeFile(blobPath, bytes);
  const damaged = await t.run(["rollback", NETBOOT]);
  assertEquals(damaged.status, 1);
  ok(damaged.stderr.includes("is damaged"), damaged.stderr);
  assertEquals(await state(t.root, NETBOOT), before);
});

Deno.test("rollback needs --force when the current state cannot be snapshotted", async () => {
  await using t = await fixtureRoot();
  const original = await state(t.root, NETBOOT);
  await t.ok(["snapshot", NETBOOT]);
  await Deno.remove(hostPath(t.root, `${NETBOOT_DIR}/kernel`));
  const refused = await t.run(["rollback", NETBOOT]);
  assertEquals(refused.status, 1);
  ok(refused.stderr.includes("Use --force"), refused.stderr);
  await t.ok(["rollback", NETBOOT, "--force"]);
  assertEquals(await state(t.root, NETBOOT), original);
});

Deno.test("concurrent snapshots of one image: one records it, the other is refused as busy or finds it unchanged", async () => {
  await using t = await fixtureRoot();
  await t.ok(["snapshot", NETBOOT]);
  await Deno.writeTextFile(hostPath(t.root, `${NETBOOT_DIR}/kernel`), "k2\n");
  const results = await Promise.all([
    t.run(["snapshot", NETBOOT, "--note", "a"]),
    t.run(["snapshot", NETBOOT, "--note", "b"]),
  ]);
  // The image's lock lets one in at a time: a second one that overlaps fails at once.
  for (const result of results) {
    ok(
      result.status === 0 ||
        (result.status === 1 &&
          result.stderr === `Error: image ${NETBOOT} is busy (snapshot, pid ${Deno.pid})\n`),
      result.stderr,
    );
  }
  const texts = results.map((result) => result.stdout + result.stderr).join("");
  ok(results.some((result) => result.stdout.startsWith(`Snapshot 2 of ${NETBOOT} taken`)), texts);
  const list = JSON.parse((await t.ok(["snapshot", "--list", NETBOOT, "--json"])).stdout);
  assertEquals(list.length, 2, texts);
});

/** The whole tree under the root (the database aside) and the image's rows. */
async function everything(root: string): Promise<string[]> {
  const tree = (await snapshotTree(root)).filter((line) => !/osimg\.sqlite/.test(line));
  return [...await state(root, NETBOOT), ...tree];
}

Deno.test("rollback and snapshot refuse a snapshot id or image name that is a path, changing nothing", async () => {
  await using t = await fixtureRoot();
  await t.ok(["snapshot", NETBOOT]);
  await changeNetboot(t.root);
  const before = await everything(t.root);
  const cases: [string[], string][] = [
    [
      ["rollback", NETBOOT, "../x"],
      "The snapshot id '../x' is invalid: give a snapshot id (a number, see 'snapshot --list') or 7 to 64 hex digits of its digest.",
    ],
    [
      ["rollback", NETBOOT, "../../blobs/x"],
      "The snapshot id '../../blobs/x' is invalid: give a snapshot id (a number, see 'snapshot --list') or 7 to 64 hex digits of its digest.",
    ],
    [
      ["rollback", ".."],
      "The object name '..' is invalid: '.' and '..' name directories, not objects.",
    ],
    [
      ["snapshot", "../x"],
      "The object name '../x' is invalid: it contains '/'.",
    ],
    [
      ["snapshot", "--list", ".."],
      "The object name '..' is invalid: '.' and '..' name directories, not objects.",
    ],
  ];
  for (const [args, message] of cases) {
    const output = await t.run(args);
    assertEquals(output.stderr, `Error: ${message}\n`, args.join(" "));
    assertEquals(output.status, 1);
    assertEquals(await everything(t.root), before);
  }
});

Deno.test("rollback refuses an edited index whose digest is a path, changing nothing", async () => {
  await using t = await fixtureRoot();
  await t.ok(["snapshot", NETBOOT]);
  const indexFile = hostPath(
    t.root,
    `/install/osimg/snapshots/index/${encodeURIComponent(NETBOOT)}.json`,
  );
  const index = JSON.parse(await Deno.readTextFile(indexFile));
  index.snapshots[0].digest = "../../../../etc/x";
  await Deno.writeTextFile(indexFile, JSON.stringify(index));
  const before = await everything(t.root);
  const output = await t.run(["rollback", NETBOOT]);
  assertEquals(
    output.stderr,
    `Error: Cannot read the snapshot index ${indexFile}: the record with id '1' and digest ` +
      "'../../../../etc/x' is damaged (an id is a number, a digest 64 hex digits)\n",
  );
  assertEquals(output.status, 1);
  assertEquals(await everything(t.root), before);
});
