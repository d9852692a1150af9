import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { packImage } from "./pack.ts";
import { defineImage, makeFixtureTree } from "./pack_testing.ts";
import { systemRunner } from "./process.ts";
import { silentProgress } from "./progress.ts";
import { textReporter } from "./reporter.ts";
import { openSqliteStore } from "./sqlite_store.ts";
import { testRoot } from "./testing.ts";

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
