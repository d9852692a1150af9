import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { testRoot } from "./testdata/support/testing.ts";
import { testPostgres } from "./testdata/support/postgres_server.ts";
import { VERBS } from "./cmd/mod.ts";
import { runCli } from "./main.ts";

const PROJECT = fromFileUrl(new URL(".", import.meta.url));

Deno.test("--help lists every verb and each verb has --help", async () => {
  await using t = await testRoot();
  const { stdout } = await t.ok(["--help"]);
  for (const verb of VERBS) {
    const command = await verb.load();
    assertEquals(command.name, verb.name, "the table loads the verb it names");
    ok(stdout.includes(`  ${command.name} `), `${command.name} missing from --help`);
    const help = await t.ok([command.name, "--help"]);
    ok(help.stdout.length > 20 && /usage/i.test(help.stdout), command.name);
    assertEquals((await t.ok([command.name, "-h"])).stdout, help.stdout);
  }
});

Deno.test("an unknown verb or flag is one line and exit 2", async () => {
  await using t = await testRoot();
  const verb = await t.run(["frobnicate"]);
  assertEquals(verb.status, 2);
  assertEquals(
    verb.stderr,
    "Error: Unknown verb 'frobnicate'. Run 'osimg --help' for the list of verbs.\n",
  );
  const flag = await t.run(["lsdef", "--bogus"]);
  assertEquals(flag.status, 2);
  assertEquals(flag.stderr.trim().split("\n").length, 1);
  ok(flag.stderr.startsWith("Error: lsdef: Unknown option '--bogus'"), flag.stderr);
  const none = await t.run([]);
  assertEquals(none.status, 2);
});

Deno.test("--debug adds the cause chain", async () => {
  await using t = await testRoot();
  const plain = await t.run(["tabrestore", `${t.root}/missing.csv`]);
  assertEquals(plain.stderr.trim().split("\n").length, 1);
  const debug = await t.run(["--debug", "tabrestore", `${t.root}/missing.csv`]);
  ok(debug.stderr.includes("NotFound"), debug.stderr);
});

Deno.test("OSIMG_ROOT and --db choose where the database lives", async () => {
  const root = await Deno.makeTempDir();
  try {
    const run = (args: string[], env: Record<string, string>) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${PROJECT}main.ts`, ...args],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const first = await run(["chdef", "-t", "site", "clustersite", "domain=a"], {
      OSIMG_ROOT: root,
    });
    assertEquals(first.code, 0, new TextDecoder().decode(first.stderr));
    await Deno.stat(`${root}/etc/xcat/osimg.sqlite`);
    const second = await run(
      ["--db", `${root}/other.sqlite`, "chdef", "-t", "site", "clustersite", "domain=b"],
      { OSIMG_ROOT: root },
    );
    assertEquals(second.code, 0);
    await Deno.stat(`${root}/other.sqlite`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the bundled program runs the demo from an empty directory, offline, acts as a verb through a link, and reaches PostgreSQL", async () => {
  const work = await Deno.makeTempDir({ prefix: "osimg-bundle-" });
  try {
    const dist = `${work}/dist`;
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${PROJECT}scripts/bundle.ts`, dist],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(bundled.code, 0, new TextDecoder().decode(bundled.stderr));
    const empty = `${work}/empty`;
    await Deno.mkdir(empty);
    await Deno.mkdir(`${work}/denodir`);
    // `unshare -n` gives the run a network namespace with no network at all.
    const env = {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      DENO_DIR: `${work}/denodir`,
      DENO: Deno.execPath(),
      HOME: empty,
    };
    const demo = await new Deno.Command("unshare", {
      args: ["-n", `${dist}/osimg`, "demo"],
      cwd: empty,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(demo.stdout);
    assertEquals(demo.code, 0, out + new TextDecoder().decode(demo.stderr));
    ok(out.includes("The demo finished."), out);
    assertEquals([...Deno.readDirSync(empty)].length, 0, "the demo wrote into the cwd");
    await Deno.symlink(`${dist}/osimg`, `${work}/tabdump`);
    const linked = await new Deno.Command("unshare", {
      args: ["-n", `${work}/tabdump`, "--root", `${work}/root`, "site"],
      cwd: empty,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(linked.code, 0, new TextDecoder().decode(linked.stderr));
    assertEquals(new TextDecoder().decode(linked.stdout), "#key,value,comments,disable\n");
    // The PostgreSQL driver is inside the one file: the test server, over its Unix socket (a
    // path, reachable without a network).
    await using database = await (await testPostgres()).database();
    const commands = [
      ["mkdef", "-t", "osimage", "-o", "bundled", "profile=p"],
      ["lsdef", "-t", "osimage"],
    ];
    for (const args of commands) {
      const onServer = await new Deno.Command("unshare", {
        args: ["-n", `${dist}/osimg`, "--root", `${work}/root`, "--db", database.url, ...args],
        cwd: empty,
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(onServer.code, 0, new TextDecoder().decode(onServer.stderr));
      if (args[0] === "lsdef") {
        assertEquals(new TextDecoder().decode(onServer.stdout), "bundled  (osimage)\n");
      }
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("errors are coloured only on a terminal, and never with NO_COLOR", async () => {
  const run = async (terminal: boolean, env: Record<string, string>) => {
    let stderr = "";
    const status = await runCli(["tabdump", "nosuch"], {
      env,
      cwd: "/",
      io: {
        out: () => {},
        err: (text) => void (stderr += text),
        readStdin: () => Promise.resolve(""),
        stdoutIsTerminal: terminal,
        stderrIsTerminal: terminal,
      },
    });
    assertEquals(status, 1);
    return stderr;
  };
  assertEquals(await run(false, {}), "Error: No such table: nosuch\n");
  ok((await run(true, {})).includes("\x1b[31m"));
  assertEquals(await run(true, { NO_COLOR: "1" }), "Error: No such table: nosuch\n");
});

Deno.test("long work shows progress on a terminal and stays quiet otherwise", async () => {
  const root = await Deno.makeTempDir({ prefix: "osimg-progress-" });
  try {
    const rootimg = `${root}/install/netboot/d/x86_64/p/rootimg`;
    await Deno.mkdir(`${rootimg}/etc`, { recursive: true });
    await Deno.writeFile(`${rootimg}/etc/data`, new Uint8Array(4 << 20));
    const run = async (terminal: boolean, args: string[]) => {
      let stderr = "";
      const status = await runCli(["--root", root, ...args], {
        env: { PATH: Deno.env.get("PATH") ?? "" },
        cwd: root,
        io: {
          out: () => {},
          err: (text) => void (stderr += text),
          readStdin: () => Promise.resolve(""),
          stdoutIsTerminal: terminal,
          stderrIsTerminal: terminal,
        },
      });
      assertEquals(status, 0, stderr);
      return stderr;
    };
    await run(false, [
      "mkdef",
      "-t",
      "osimage",
      "-o",
      "img",
      "provmethod=netboot",
      "osvers=d",
      "osarch=x86_64",
      "profile=p",
    ]);
    assertEquals(await run(false, ["packimage", "img"]), "");
    ok((await run(true, ["packimage", "img"])).includes("\r\x1b[2K"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
