import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { DEFAULT_DB } from "../main.ts";
import { exportImage } from "./bundle/bundle_export.ts";
import { buildFixture, NETBOOT, NETBOOT_DIR } from "../testdata/support/bundle_export_fixture.ts";
import { importBundle } from "./bundle/bundle_import.ts";
import { makeBundle, netbootFiles, rootState } from "../testdata/support/bundle_testing.ts";
import type { Context } from "./context.ts";
import { packImage } from "./pack/pack.ts";
import { defineImage, makeFixtureTree } from "../testdata/support/pack_testing.ts";
import { hostPath } from "./paths.ts";
import { systemRunner } from "./process.ts";
import { silentProgress } from "./progress.ts";
import { textReporter, withoutLines } from "./reporter.ts";
import { openSqliteStore } from "./store/sqlite_store.ts";
import type { Store } from "./store/store.ts";
import { testRoot } from "../testdata/support/testing.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";

Deno.test("textReporter writes lines to stdout and prefixed warnings and notes to stderr", () => {
  const written: string[] = [];
  const reporter = textReporter({
    out: (text) => void written.push(`out:${text}`),
    err: (text) => void written.push(`err:${text}`),
  });
  reporter.line("Packing contents of /install/x/rootimg");
  reporter.warn("The object name 'CN01' contains capital letters");
  reporter.note("./run/socket is a socket");
  reporter.info("-o, -p and -a options are obsoleted");
  reporter.line("");
  assertEquals(written, [
    "out:Packing contents of /install/x/rootimg\n",
    "err:Warning: The object name 'CN01' contains capital letters\n",
    "err:Note: ./run/socket is a socket\n",
    "err:-o, -p and -a options are obsoleted\n",
    "out:\n",
  ]);
});

Deno.test("packimage's lines and notes go through the context's reporter, never to the streams", async () => {
  await using t = await testRoot();
  const { rootimgHost } = await defineImage(t.root, "img");
  await makeFixtureTree(rootimgHost);
  const store = openSqliteStore(`${t.root}/etc/xcat/osimg.sqlite`);
  const streams: string[] = [];
  const reported: string[] = [];
  try {
    await packImage(
      {
        root: t.root,
        dbPath: `${t.root}/etc/xcat/osimg.sqlite`,
        cwd: t.root,
        env: {},
        io: {
          out: (text) => void streams.push(text),
          err: (text) => void streams.push(text),
          readStdin: () => Promise.resolve(""),
          stdoutIsTerminal: false,
          stderrIsTerminal: false,
        },
        reporter: {
          line: (text) => void reported.push(`line ${text}`),
          warn: (text) => void reported.push(`warn ${text}`),
          note: (text) => void reported.push(`note ${text}`),
          info: (text) => void reported.push(`info ${text}`),
        },
        debug: false,
        color: false,
        runner: systemRunner,
        now: () => new Date(),
        store: () => Promise.resolve(store),
        progress: () => silentProgress,
      },
      "img",
      { method: "cpio", compression: "gzip", syncFiles: true, verbose: false },
    );
  } finally {
    store.close();
  }
  assertEquals(streams, []);
  assertEquals(reported, [
    "line Packing contents of /install/netboot/test/x86_64/img/rootimg",
    "line archive method:cpio",
    "line compress method:gzip",
    // The fixture's file capabilities and SELinux label, which cpio cannot carry.
    "note 2 entries have extended attributes (file capabilities, SELinux labels), which cpio " +
    "cannot carry; they are not in the archive. Use '-m tar' to keep them.",
  ]);
});

/** A context whose reporter records every call and whose streams record every write. */
function recordingContext(
  root: string,
  store: Store,
): { ctx: Context; reported: string[]; streams: string[] } {
  const reported: string[] = [];
  const streams: string[] = [];
  const ctx: Context = {
    root,
    dbPath: hostPath(root, DEFAULT_DB),
    cwd: root,
    env: {},
    io: {
      out: (text) => void streams.push(text),
      err: (text) => void streams.push(text),
      readStdin: () => Promise.resolve(""),
      stdoutIsTerminal: false,
      stderrIsTerminal: false,
    },
    reporter: {
      line: (text) => void reported.push(`line ${text}`),
      warn: (text) => void reported.push(`warn ${text}`),
      note: (text) => void reported.push(`note ${text}`),
      info: (text) => void reported.push(`info ${text}`),
    },
    debug: false,
    color: false,
    runner: systemRunner,
    now: () => new Date(),
    store: () => Promise.resolve(store),
    progress: () => silentProgress,
  };
  return { ctx, reported, streams };
}

Deno.test("imgexport's lines and warnings go through the context's reporter, never to the streams", async () => {
  await using t = await testRoot();
  await buildFixture(t.root);
  const store = openSqliteStore(hostPath(t.root, DEFAULT_DB));
  const { ctx, reported, streams } = recordingContext(t.root, store);
  try {
    await exportImage(ctx, { image: NETBOOT, destination: "out.tgz", verbose: true });
  } finally {
    store.close();
  }
  assertEquals(streams, []);
  assertEquals(reported, [
    `line Exporting ${NETBOOT} to ${t.root}/out.tgz...`,
    // The fixture's osimage row has nfsrootopts, which released xCAT lacks.
    `warn The osimage column 'nfsrootopts' (vers=4) of '${NETBOOT}' is not exported: ` +
    "released xCAT has no such column and would fail to import the row",
    // -v: every file bundled, in bundle order.
    "line /install/custom/netboot/rh/compute.otherpkgs.pkglist",
    "line /install/custom/netboot/rh/compute.rhels8.x86_64.exlist",
    "line /install/custom/netboot/rh/compute.rhels8.x86_64.pkglist",
    "line /install/custom/netboot/rh/compute.rhels8.x86_64.postinstall",
    "line /install/custom/netboot/rh/compute.synclist",
    `line ${NETBOOT_DIR}/initrd-stateless.gz`,
    `line ${NETBOOT_DIR}/kernel`,
    `line ${NETBOOT_DIR}/rootimg.cpio.gz`,
    `line Compressing ${NETBOOT} bundle.  Please be patient.`,
    "line Done!",
  ]);
});

Deno.test("imgimport's lines and warnings go through the context's reporter, never to the streams", async () => {
  await using t = await testRoot();
  await t.ok(["mkdef", "-t", "node", "-o", "cn1", "groups=compute"]);
  const bundle = `${t.root}/x.tgz`;
  const files = netbootFiles(IMAGE);
  const manifest = `${IMAGE}/manifest.xml`;
  // A column of a newer xCAT: planning drops it with a warning.
  files[manifest] = (files[manifest] as string).replace(
    "<osarch>x86_64</osarch>",
    "<osarch>x86_64</osarch>\n    <futurecolumn>1</futurecolumn>",
  );
  await makeBundle(bundle, { files });
  const store = openSqliteStore(hostPath(t.root, DEFAULT_DB));
  const { ctx, reported, streams } = recordingContext(t.root, store);
  try {
    await importBundle(ctx, "x.tgz", { verbose: true, postscripts: "cn1" });
  } finally {
    store.close();
  }
  assertEquals(streams, []);
  assertEquals(reported, [
    "line Unbundling image...",
    `line Bundle file is located at ${bundle}`,
    // The bundle reader's warning comes as soon as the bundle is read, planning's after it.
    `warn The bundle "x.tgz" has no SHA256SUMS for "${IMAGE}": its contents cannot be verified (a bundle made by xCAT).`,
    "warn The manifest's <osimage> has the column 'futurecolumn', which the osimage table " +
    "does not have; it is ignored.",
    // What xCAT prints while placing the files, once they are in place.
    `line Adding ${IMAGE}`,
    "line /install/netboot/rhels8.8.0/x86_64/compute/kernel",
    "line /install/netboot/rhels8.8.0/x86_64/compute/initrd-stateless.gz",
    "line /install/netboot/rhels8.8.0/x86_64/compute/rootimg.cpio.gz",
    "line /opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.pkglist",
    "line /install/custom/netboot/rh/compute.synclist",
    "line /install/custom/netboot/rh/compute.otherpkgs.pkglist",
    "line /opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.postinstall",
    "line /opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.exlist",
    "line /install/postscripts/myscript1",
    "line /install/mydir",
    "line Adding postscripts.",
    `line Successfully imported the image ${IMAGE}.`,
  ]);
});

Deno.test("imgimport shows planning's warnings only once planning has succeeded", async () => {
  await using t = await testRoot();
  const files = netbootFiles(IMAGE);
  const manifest = `${IMAGE}/manifest.xml`;
  // Planning warns about the column, then refuses the extra's destination outside the
  // allowed directories: the refusal is shown alone, as it always was.
  files[manifest] = (files[manifest] as string)
    .replace(
      "<osarch>x86_64</osarch>",
      "<osarch>x86_64</osarch>\n    <futurecolumn>1</futurecolumn>",
    )
    .replace("<dest>/install/mydir</dest>", "<dest>/etc/mydir</dest>");
  await makeBundle(`${t.root}/x.tgz`, { files });
  await t.ok(["tabdump", "osimage"]); // the database exists before the state is taken
  const before = await rootState(t);
  const store = openSqliteStore(hostPath(t.root, DEFAULT_DB));
  const { ctx, reported, streams } = recordingContext(t.root, store);
  let message = "";
  try {
    await importBundle(ctx, "x.tgz").catch((error) => void (message = error.message));
  } finally {
    store.close();
  }
  ok(message.includes('"/etc/mydir"'), message);
  assertEquals(streams, []);
  assertEquals(reported, [
    "line Unbundling image...",
    `warn The bundle "x.tgz" has no SHA256SUMS for "${IMAGE}": its contents cannot be verified (a bundle made by xCAT).`,
  ]);
  assertEquals(await rootState(t), before);
});

Deno.test("withoutLines keeps a reporter's warnings, notes and messages and drops its lines", () => {
  const reported: string[] = [];
  const reporter = withoutLines({
    line: (text) => void reported.push(`line ${text}`),
    warn: (text) => void reported.push(`warn ${text}`),
    note: (text) => void reported.push(`note ${text}`),
    info: (text) => void reported.push(`info ${text}`),
  });
  reporter.line("Successfully imported the image img.");
  reporter.warn("w");
  reporter.note("n");
  reporter.info("Undid an interrupted import (1) left by an earlier run.");
  assertEquals(reported, [
    "warn w",
    "note n",
    "info Undid an interrupted import (1) left by an earlier run.",
  ]);
});
