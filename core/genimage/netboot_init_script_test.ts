// The netboot init's shell functions run by busybox sh: statelite on a directory with `mount`
// recorded, the image-server failover with stubs and against real loopback servers.

import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import {
  IMAGE_FETCH_FUNCTIONS,
  NETBOOT_INIT,
  ROOT_PATH_FUNCTION,
  STATELITE_FUNCTIONS,
} from "./netboot_init_script.ts";
import { staticBusybox } from "../../testdata/support/debian_kernel.ts";

/** Runs `body` after the statelite functions in busybox sh; stdout, with mount stubbed to log. */
async function statelite(body: string, newroot = "/nonexistent"): Promise<string> {
  const script = `say() { echo "say: $*"; }\n` +
    `mount() { echo "mount $*"; }\n` +
    `NEWROOT='${newroot}'\nNODE=cn01\ntmpfs_options=mode=755\n` +
    STATELITE_FUNCTIONS + body;
  const output = await new Deno.Command(staticBusybox(), {
    args: ["sh", "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (output.code !== 0) throw new Error(`exit ${output.code}: ${stderr}`);
  return new TextDecoder().decode(output.stdout);
}

Deno.test("statelite init: parse_nfs_root reads root=nfs:, NFSROOT= and imgurl=nfs:// forms and refuses others", async () => {
  const show = `show() { if parse_nfs_root "$1"; then echo "$NFS_SERVER|$NFS_PATH|$NFS_OPTIONS"; ` +
    `else echo refused; fi; }\n`;
  assertEquals(
    await statelite(
      show +
        "show nfs:10.0.0.1:/install/netboot/img/rootimg:ro,vers=3\n" +
        "show nfs:10.0.0.1:/export\n" +
        "show 10.0.0.1:/export/root\n" +
        "show nfs://mn/install/root\n" +
        "show http://mn/rootimg.cpio.gz\n" +
        "show nfs:server-only\n" +
        "show nfs://server-only\n",
    ),
    "10.0.0.1|/install/netboot/img/rootimg|ro,vers=3\n" +
      "10.0.0.1|/export|\n" +
      "10.0.0.1|/export/root|\n" +
      "mn|/install/root|\n" +
      "refused\nrefused\nrefused\n",
  );
});

Deno.test("statelite init: NFS root read-only with nolock, a tmpfs for the litefile entries, persistent ones under STATEMNT/<node>", async () => {
  const newroot = await Deno.makeTempDir({ prefix: "osimg-statelite-" });
  try {
    // What liteimg leaves in the image: the originals under .default, the save list.
    await Deno.mkdir(`${newroot}/.default/etc/ssh`, { recursive: true });
    await Deno.mkdir(`${newroot}/.default/var/log`, { recursive: true });
    await Deno.mkdir(`${newroot}/.statelite/tmpfs`, { recursive: true });
    await Deno.mkdir(`${newroot}/.statelite/persistent`, { recursive: true });
    await Deno.writeTextFile(`${newroot}/.default/etc/hosts`, "127.0.0.1 localhost\n");
    await Deno.writeTextFile(`${newroot}/.default/etc/ssh/sshd_config`, "Port 22\n");
    await Deno.writeTextFile(
      `${newroot}/.statelite/litefile.save`,
      "link\t/etc/hosts\nlink,persistent\t/etc/ssh/sshd_config\ntmpfs\t/var/log/\n",
    );
    const out = await statelite(
      `STATEMNT=10.0.0.1:/statelite\nNFS_SERVER=10.0.0.1\nNFS_PATH=/img\nNFS_OPTIONS=\n` +
        `statelite_root && echo ok\n`,
      newroot,
    );
    assertEquals(
      out.replaceAll(newroot, "<root>"),
      "mount -t nfs -o ro,nolock 10.0.0.1:/img <root>\n" +
        "mount -t tmpfs -o mode=755 tmpfs <root>/.statelite/tmpfs\n" +
        "mount -t nfs -o nolock,rsize=32768,tcp,timeo=14 10.0.0.1:/statelite <root>/.statelite/persistent\n" +
        // A non-link entry: its copy is mounted over the image's own path.
        "mount --bind <root>/.statelite/tmpfs/var/log <root>/var/log\n" +
        "ok\n",
    );
    // link: a copy of the default in the tmpfs; link,persistent: kept in the node's directory.
    assertEquals(
      await Deno.readTextFile(`${newroot}/.statelite/tmpfs/etc/hosts`),
      "127.0.0.1 localhost\n",
    );
    assertEquals(
      await Deno.readLink(`${newroot}/.statelite/tmpfs/etc/ssh/sshd_config`),
      "/.statelite/persistent/cn01/etc/ssh/sshd_config",
    );
    assertEquals(
      await Deno.readTextFile(`${newroot}/.statelite/persistent/cn01/etc/ssh/sshd_config`),
      "Port 22\n",
    );
    // A second boot keeps what the node changed in its persistent file.
    await Deno.writeTextFile(
      `${newroot}/.statelite/persistent/cn01/etc/ssh/sshd_config`,
      "Port 2222\n",
    );
    await statelite(
      `STATEMNT=10.0.0.1:/statelite\nNFS_SERVER=10.0.0.1\nNFS_PATH=/img\nstatelite_root\n`,
      newroot,
    );
    assertEquals(
      await Deno.readTextFile(`${newroot}/.statelite/persistent/cn01/etc/ssh/sshd_config`),
      "Port 2222\n",
    );
  } finally {
    await Deno.remove(newroot, { recursive: true });
  }
});

Deno.test("statelite init: a persistent entry without STATEMNT= is kept in memory, with a console note", async () => {
  const newroot = await Deno.makeTempDir({ prefix: "osimg-statelite-" });
  try {
    await Deno.mkdir(`${newroot}/.statelite/tmpfs`, { recursive: true });
    await Deno.writeTextFile(`${newroot}/.statelite/litefile.save`, "link,persistent\t/etc/x\n");
    const out = await statelite(
      `NFS_SERVER=s\nNFS_PATH=/p\nNFS_OPTIONS=rw,vers=3\nstatelite_root && echo ok\n`,
      newroot,
    );
    assertEquals(
      out.replaceAll(newroot, "<root>"),
      "mount -t nfs -o rw,vers=3,nolock s:/p <root>\n" +
        "mount -t tmpfs -o mode=755 tmpfs <root>/.statelite/tmpfs\n" +
        "say: statelite: /etc/x is persistent but no STATEMNT= is given; it is kept in memory\n" +
        "ok\n",
    );
    assertEquals(await Deno.readTextFile(`${newroot}/.statelite/tmpfs/etc/x`), "");
  } finally {
    await Deno.remove(newroot, { recursive: true });
  }
});

Deno.test("the netboot init is valid busybox sh with the statelite functions in it", async () => {
  const output = await new Deno.Command(staticBusybox(), {
    args: ["sh", "-n", "-c", NETBOOT_INIT],
    stderr: "piped",
  }).output();
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  assertEquals(NETBOOT_INIT.includes(STATELITE_FUNCTIONS), true);
});

Deno.test("netboot init: in_newroot follows the image's absolute links inside the new root (Debian's /sbin/init -> /lib/systemd/systemd)", async () => {
  const newroot = await Deno.makeTempDir({ prefix: "osimg-newroot-" });
  try {
    await Deno.mkdir(`${newroot}/usr/lib/systemd`, { recursive: true });
    await Deno.mkdir(`${newroot}/usr/sbin`, { recursive: true });
    await Deno.symlink("usr/lib", `${newroot}/lib`);
    await Deno.symlink("usr/sbin", `${newroot}/sbin`);
    await Deno.writeTextFile(`${newroot}/usr/lib/systemd/systemd`, "");
    await Deno.symlink("/lib/systemd/systemd", `${newroot}/usr/sbin/init`);
    await Deno.symlink("init", `${newroot}/usr/sbin/relative-init`);
    const script = `NEWROOT='${newroot}'\n${ROOT_PATH_FUNCTION}\n` +
      `in_newroot /sbin/init\nin_newroot /sbin/relative-init\nin_newroot /bin/missing\n`;
    const output = await new Deno.Command(staticBusybox(), {
      args: ["sh", "-c", script],
      stdout: "piped",
    }).output();
    assertEquals(
      new TextDecoder().decode(output.stdout).replaceAll(newroot, "<root>"),
      "<root>/lib/systemd/systemd\n<root>/lib/systemd/systemd\n<root>/bin/missing\n",
    );
    assertEquals(NETBOOT_INIT.includes(ROOT_PATH_FUNCTION), true);
  } finally {
    await Deno.remove(newroot, { recursive: true });
  }
});

/** Runs `body` after the image-fetch functions in busybox sh; its stdout and stderr. */
async function imageFetch(body: string): Promise<{ stdout: string; stderr: string }> {
  const script = `say() { echo "say: $*"; }\nNEWROOT=/nonexistent\n` + IMAGE_FETCH_FUNCTIONS + body;
  const output = await new Deno.Command(staticBusybox(), {
    args: ["sh", "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (output.code !== 0) throw new Error(`exit ${output.code}: ${stderr}`);
  return { stdout: new TextDecoder().decode(output.stdout), stderr };
}

Deno.test("netboot init: image_urls lists imgurl='s URLs, then imgservers= in the first URL's host and port, each once", async () => {
  const { stdout } = await imageFetch(
    `image_urls 'http://10.0.0.1:80//install/netboot/img/rootimg.cpio.gz' ''; echo --\n` +
      `image_urls 'http://a/r.cpio.gz,http://b:8080/x/r.cpio.gz,http://a/r.cpio.gz' ''; echo --\n` +
      `image_urls 'http://10.0.0.1:80//install/r.sfs' '10.0.0.2,10.0.0.3,10.0.0.1'; echo --\n` +
      `image_urls 'https://mn/install/r.tar.gz?x=1' 'sn1'; echo --\n` +
      // A server's own port (IPv6 in brackets too) is kept.
      `image_urls 'http://mn:80//i/r.sfs' 'sn1:8080,[fd00::2],[fd00::3]:81'; echo --\n` +
      // No scheme in the first URL: there is no host to replace, the servers are left out.
      `image_urls 'r.cpio.gz' 'sn1'; echo --\n`,
  );
  assertEquals(
    stdout,
    "http://10.0.0.1:80//install/netboot/img/rootimg.cpio.gz\n--\n" +
      "http://a/r.cpio.gz\nhttp://b:8080/x/r.cpio.gz\n--\n" +
      "http://10.0.0.1:80//install/r.sfs\nhttp://10.0.0.2:80//install/r.sfs\n" +
      "http://10.0.0.3:80//install/r.sfs\n--\n" +
      "https://mn/install/r.tar.gz?x=1\nhttps://sn1/install/r.tar.gz?x=1\n--\n" +
      "http://mn:80//i/r.sfs\nhttp://sn1:8080//i/r.sfs\nhttp://[fd00::2]:80//i/r.sfs\n" +
      "http://[fd00::3]:81//i/r.sfs\n--\n" +
      "r.cpio.gz\n--\n",
  );
});

Deno.test("netboot init: backoff_seconds doubles from 5 s to at most 60 s, plus a random 0-50% from /dev/urandom", async () => {
  const { stdout } = await imageFetch(
    `for round in 1 2 3 4 5 9; do for i in 1 2 3 4 5 6 7 8 9 10 11 12; do ` +
      `echo "$round $(backoff_seconds $round)"; done; done\n`,
  );
  const bounds: Record<string, [number, number]> = {
    "1": [5, 7],
    "2": [10, 15],
    "3": [20, 30],
    "4": [40, 60],
    "5": [60, 90],
    "9": [60, 90],
  };
  const seen = new Map<string, Set<number>>();
  for (const line of stdout.trim().split("\n")) {
    const [round, value] = line.split(" ");
    const [low, high] = bounds[round!]!;
    const seconds = Number(value);
    ok(seconds >= low && seconds <= high, `round ${round}: ${seconds} s not in ${low}-${high}`);
    seen.set(round!, (seen.get(round!) ?? new Set()).add(seconds));
  }
  // The jitter varies: twelve draws from 31 values are not all the same.
  ok(seen.get("9")!.size > 1, `no jitter: ${[...seen.get("9")!]}`);
});

Deno.test("netboot init: a failed server moves to the next, its half-unpacked root cleared; a failed round backs off and starts again", async () => {
  const newroot = await Deno.makeTempDir({ prefix: "osimg-failover-" });
  try {
    // Server a writes part of a root and fails; b fails at once in round 1; in round 2, b
    // serves, and must find the new root empty.
    const { stdout } = await imageFetch(
      `NEWROOT='${newroot}'\n` +
        `sleep() { echo "sleep $1"; }\n` +
        `backoff_seconds() { echo 6; }\n` +
        `tries_b=0\n` +
        `fetch_root() {\n` +
        `  case "$1" in\n` +
        `    http://a/*) mkdir -p "$NEWROOT/etc" && echo half > "$NEWROOT/etc/partial"; return 1 ;;\n` +
        `    http://b/*) tries_b=$((tries_b + 1)); [ "$tries_b" -ge 2 ] || return 1\n` +
        `      [ -z "$(ls -A "$NEWROOT")" ] || { echo "not cleared: $(ls -A "$NEWROOT")"; return 1; }\n` +
        `      echo whole > "$NEWROOT/init" ;;\n` +
        `  esac\n` +
        `}\n` +
        `fetch_with_failover "$(image_urls http://a/r.cpio.gz,http://b/r.cpio.gz '')"\n` +
        `echo "IMGURL=$IMGURL"\n`,
    );
    assertEquals(
      stdout,
      "say: fetching the root from http://a/r.cpio.gz (attempt 1, image server 1 of 2)\n" +
        "say: could not fetch and unpack http://a/r.cpio.gz (attempt 1); trying the next image server\n" +
        "say: fetching the root from http://b/r.cpio.gz (attempt 2, image server 2 of 2)\n" +
        "say: could not fetch and unpack http://b/r.cpio.gz (attempt 2); retrying in 6 s\n" +
        "sleep 6\n" +
        "say: fetching the root from http://a/r.cpio.gz (attempt 3, image server 1 of 2)\n" +
        "say: could not fetch and unpack http://a/r.cpio.gz (attempt 3); trying the next image server\n" +
        "say: fetching the root from http://b/r.cpio.gz (attempt 4, image server 2 of 2)\n" +
        "IMGURL=http://b/r.cpio.gz\n",
    );
    assertEquals(await Deno.readTextFile(`${newroot}/init`), "whole\n");
    await rejects(Deno.stat(`${newroot}/etc`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(newroot, { recursive: true });
  }
});

/** A one-shot HTTP server on loopback doing `answer` with each connection; its port. */
function rawServer(
  answer: (conn: Deno.TcpConn) => Promise<void>,
): { port: number; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.TcpConn>();
  const served = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      answer(conn).catch(() => {}).finally(() => {
        open.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed by answer
        }
      });
    }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await served.catch(() => {});
    },
  };
}

/** Reads the request head, then writes a 200 with `length` announced and `body` sent. */
async function respond(conn: Deno.TcpConn, length: number, body: Uint8Array): Promise<void> {
  await conn.read(new Uint8Array(4096));
  const head = `HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`;
  await conn.write(new TextEncoder().encode(head));
  let written = 0;
  while (written < body.length) written += await conn.write(body.subarray(written));
}

Deno.test("netboot init: download gives the whole body, and fails on a body cut short and on a refused connection", async () => {
  const body = crypto.getRandomValues(new Uint8Array(60_000));
  const whole = rawServer((conn) => respond(conn, body.length, body));
  const cut = rawServer((conn) => respond(conn, body.length, body.subarray(0, 20_000)));
  const refused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const refusedPort = refused.addr.port;
  refused.close();
  const dir = await Deno.makeTempDir({ prefix: "osimg-download-" });
  try {
    const { stdout } = await imageFetch(
      `download http://127.0.0.1:${whole.port}/r > '${dir}/whole'; echo "whole $?"\n` +
        `download http://127.0.0.1:${cut.port}/r > '${dir}/cut'; echo "cut $?"\n` +
        `download http://127.0.0.1:${refusedPort}/r > '${dir}/refused'; echo "refused $?"\n`,
    );
    assertEquals(stdout, "whole 0\ncut 1\nrefused 1\n");
    assertEquals(await Deno.readFile(`${dir}/whole`), body);
  } finally {
    await whole.close();
    await cut.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netboot init: download stops a server that accepts and then sends nothing, saying so", async () => {
  let release = () => {};
  const stalled = new Promise<void>((resolve) => release = resolve);
  const server = rawServer(async (conn) => {
    await respond(conn, 1_000_000, new Uint8Array(1000));
    await stalled;
  });
  try {
    const { stdout, stderr } = await imageFetch(
      `FETCH_TIMEOUT=2\ndownload http://127.0.0.1:${server.port}/r > /dev/null; echo "status $?"\n`,
    );
    assertEquals(stdout, "status 143\n");
    ok(
      stderr.includes(
        `say: http://127.0.0.1:${server.port}/r sent nothing for 2 s; giving up on it`,
      ),
      stderr,
    );
  } finally {
    release();
    await server.close();
  }
});
