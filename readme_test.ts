// The README's tour and demo, run as written: the front door must not drift from the program.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { testRoot } from "./testdata/support/testing.ts";
import { cfglocLocation, parseStoreLocation } from "./core/store/open_store.ts";
import { postgresConnection } from "./core/store/postgres_connection.ts";

const PROJECT = fromFileUrl(new URL(".", import.meta.url));
/** The scratch root the tour names; the test moves it into its own temporary directory. */
const TOUR_ROOT = "/tmp/osimg-tour";

/** The shell block that follows "A tour," in README.md. */
async function tourScript(): Promise<string> {
  const readme = await Deno.readTextFile(`${PROJECT}/README.md`);
  const match = /\nA tour,[^\n]*\n\n```sh\n([\s\S]*?)\n```\n/.exec(readme);
  if (!match) throw new Error("README.md has no tour block (```sh after 'A tour,')");
  return match[1]!;
}

Deno.test("the README tour runs as written from the clone, command by command", async () => {
  const script = await tourScript();
  ok(script.includes(`export OSIMG_ROOT=${TOUR_ROOT}`), "the tour sets its own root");
  ok(!/\scn\[|\sgpu\[/.test(script), "noderanges with brackets are quoted (the shell may glob)");
  const work = await Deno.makeTempDir({ prefix: "osimg-tour-" });
  try {
    // Only the scratch root's path changes, so parallel runs and a user's own tour never meet.
    const file = `${work}/tour.sh`;
    await Deno.writeTextFile(file, script.replaceAll(TOUR_ROOT, `${work}/root`));
    const result = await new Deno.Command("bash", {
      // -x prints each command before its output, -e stops at the first failing one.
      args: ["-O", "expand_aliases", "-e", "-o", "pipefail", "-x", file],
      cwd: PROJECT,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: work, NO_COLOR: "1" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(result.stdout);
    const stderr = new TextDecoder().decode(result.stderr);
    assertEquals(result.code, 0, `${stderr}\n${stdout}`);
    ok(stdout.includes("The demo finished."), stdout);
    ok(
      /Object name: gpu02\n(?:.*\n)*?\s+ip=10\.0\.1\.2\n/.test(stdout),
      "gpu02's ip from the regex",
    );
    ok(
      stdout.includes("Object name: rocky9-x86_64-netboot-gpu") ||
        /rocky9-x86_64-netboot-gpu/.test(stdout),
    );
    ok(/zstd/.test(stderr) && /xCAT/.test(stderr), "imgexport warns that xCAT cannot read zstd");
    ok(stdout.includes("    profile: compute → broken\n"), "diff shows the changed attribute");
    ok(/\n\s+profile=compute\n/.test(stdout), "rollback restored the profile");
    ok(stdout.includes("cn02: netboot debian12-x86_64-compute\n"), "nodeset printed the state");
    ok(stdout.includes("cn04: offline\n"), "nodeset stat read the demo's offline node");
    for (
      const left of [
        "root/install/netboot/debian12/x86_64/compute/rootimg.cpio.zst",
        "root/tftpboot/xcat/xnba/nodes/cn03",
        "root/tftpboot/xcat/osimage/debian12-x86_64-netboot-compute/kernel",
        "root.tgz",
      ]
    ) {
      ok((await Deno.stat(`${work}/${left}`)).isFile, left);
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("demo with --root leaves its first management node there and refuses a used root", async () => {
  await using t = await testRoot();
  const root = `${t.root}/site`;
  const first = await t.ok(["--root", root, "demo"]);
  ok(first.stdout.includes(`The demo finished. Its files are in ${root}.`), first.stdout);
  const image = await t.ok([
    "--root",
    root,
    "lsdef",
    "-t",
    "osimage",
    "-o",
    "debian12-x86_64-netboot-compute",
  ]);
  ok(image.stdout.includes("rootimgdir=/install/netboot/debian12/x86_64/compute"), image.stdout);
  const before = await Array.fromAsync(Deno.readDir(root));
  const again = await t.run(["--root", root, "demo"]);
  assertEquals(again.status, 1);
  ok(
    again.stderr.startsWith(
      `Error: The demo needs an empty or new root, and '${root}' is not empty.`,
    ),
  );
  assertEquals((await Array.fromAsync(Deno.readDir(root))).length, before.length);
});

Deno.test("the README's PostgreSQL URLs and cfgloc line are what osimg reads", async () => {
  const readme = await Deno.readTextFile(`${PROJECT}/README.md`);
  const section = readme.slice(readme.indexOf("### A shared PostgreSQL database"));
  const urls = [...section.matchAll(/postgres(?:ql)?:\/\/[^\s'`]*/g)].map((match) => match[0])
    .filter((url) => url !== "postgres://..." && url !== "postgresql://");
  ok(urls.length >= 4, urls.join(" "));
  for (const url of urls) {
    assertEquals(parseStoreLocation(url, "/").kind, "postgresql", url);
    const connection = postgresConnection(url, {});
    ok(connection.database === "xcatdb", url);
  }
  assertEquals(postgresConnection(urls[2]!, {}).host, "/var/run/postgresql");
  assertEquals(postgresConnection(urls[1]!, {}).sslmode, "verify-full");
  const cfgloc = /`(Pg:dbname=[^`]*)`/.exec(section)?.[1];
  assertEquals(cfglocLocation(cfgloc!, "cfgloc"), {
    kind: "postgresql",
    url: "postgresql://xcatadm:password@10.0.0.1/xcatdb",
  });
});
