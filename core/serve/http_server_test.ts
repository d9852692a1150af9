// Tests of the HTTP server against real sockets: ranges, validators, keep-alive, confinement
// (each attack on its own), a file renamed over mid-download, the access log.

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { snapshotTree } from "../../testdata/support/testing.ts";
import { AccessLog } from "./access_log.ts";
import { startHttpServer } from "./http_server.ts";

const SECRET = "root:x:0:0:secret\n";
/** 300 000 bytes, each its offset modulo 251: any misplaced byte shows. */
const BIG = Uint8Array.from({ length: 300_000 }, (_, index) => index % 251);

/** A management root with /install and /tftpboot, a secret beside them, and a server on it. */
async function servedRoot(options: { log?: AccessLog } = {}) {
  const base = await Deno.makeTempDir({ prefix: "osimg-serve-" });
  const root = `${base}/root`;
  await Deno.mkdir(`${root}/install/netboot/img`, { recursive: true });
  await Deno.mkdir(`${root}/tftpboot/xcat/xnba/nodes`, { recursive: true });
  await Deno.writeTextFile(`${root}/install/netboot/img/hello.txt`, "hello, world\n");
  await Deno.writeTextFile(`${root}/tftpboot/xcat/xnba/nodes/cn01`, "#!gpxe\nexit\n");
  // Bigger than what is served from memory: streamed from its handle.
  await Deno.writeFile(`${root}/install/netboot/img/big.bin`, BIG);
  await Deno.writeTextFile(`${base}/secret`, SECRET);
  await Deno.writeTextFile(`${root}/secret`, SECRET);
  const server = startHttpServer({
    hostname: "127.0.0.1",
    port: 0,
    trees: [
      { prefix: ["install"], dir: `${root}/install` },
      { prefix: ["tftpboot"], dir: `${root}/tftpboot` },
    ],
    log: options.log,
  });
  const url = (path: string) => `http://127.0.0.1:${server.address.port}${path}`;
  return {
    base,
    root,
    server,
    url,
    port: server.address.port,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(base, { recursive: true });
    },
  };
}

/** Sends `text` as it is (no client-side normalization) and reads until the server closes. */
async function raw(port: number, text: string): Promise<string> {
  return new TextDecoder().decode(await rawBytes(port, text));
}

/** raw(), the bytes as they came. */
async function rawBytes(port: number, text: string): Promise<Uint8Array> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  await connection.write(new TextEncoder().encode(text));
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  while (true) {
    const count = await connection.read(buffer).catch(() => null);
    if (count === null) break;
    chunks.push(buffer.slice(0, count));
  }
  connection.close();
  return new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

function rawGet(port: number, target: string): Promise<string> {
  return raw(port, `GET ${target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`);
}

Deno.test("serve http: GET gives the file with Content-Length, ETag and Last-Modified", async () => {
  await using s = await servedRoot();
  const response = await fetch(s.url("/install/netboot/img/hello.txt"));
  strictEqual(response.status, 200);
  strictEqual(await response.text(), "hello, world\n");
  strictEqual(response.headers.get("content-length"), "13");
  strictEqual(response.headers.get("accept-ranges"), "bytes");
  match(response.headers.get("etag")!, /^"[0-9a-f]+-d-[0-9a-f]+"$/);
  const mtime = (await Deno.stat(`${s.root}/install/netboot/img/hello.txt`)).mtime!;
  strictEqual(response.headers.get("last-modified"), mtime.toUTCString());
});

Deno.test("serve http: xCAT's double-slash imgurl and /tftpboot paths are served", async () => {
  await using s = await servedRoot();
  const image = await fetch(s.url("//install/netboot/img/hello.txt"));
  strictEqual(await image.text(), "hello, world\n");
  const script = await fetch(s.url("/tftpboot/xcat/xnba/nodes/cn01"));
  strictEqual(await script.text(), "#!gpxe\nexit\n");
});

Deno.test("serve http: HEAD gives the headers of GET and no body", async () => {
  await using s = await servedRoot();
  const response = await fetch(s.url("/install/netboot/img/hello.txt"), { method: "HEAD" });
  strictEqual(response.status, 200);
  strictEqual(response.headers.get("content-length"), "13");
  strictEqual(await response.text(), "");
});

Deno.test("serve http: a single range is a 206 with Content-Range and exact length", async () => {
  await using s = await servedRoot();
  for (
    const [range, body, contentRange] of [
      ["bytes=0-4", "hello", "bytes 0-4/13"],
      ["bytes=7-", "world\n", "bytes 7-12/13"],
      ["bytes=-6", "world\n", "bytes 7-12/13"],
      ["bytes=7-1000", "world\n", "bytes 7-12/13"],
    ]
  ) {
    const response = await fetch(s.url("/install/netboot/img/hello.txt"), {
      headers: { range: range! },
    });
    strictEqual(response.status, 206, range);
    strictEqual(await response.text(), body, range);
    strictEqual(response.headers.get("content-range"), contentRange, range);
    strictEqual(response.headers.get("content-length"), String(body!.length), range);
  }
});

Deno.test("serve http: several ranges are one multipart/byteranges body of exact length", async () => {
  await using s = await servedRoot();
  const response = await fetch(s.url("/install/netboot/img/hello.txt"), {
    headers: { range: "bytes=0-4,7-11" },
  });
  strictEqual(response.status, 206);
  const type = response.headers.get("content-type")!;
  const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)![1]!;
  const body = await response.text();
  strictEqual(Number(response.headers.get("content-length")), body.length);
  strictEqual(
    body,
    `--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-4/13\r\n\r\nhello` +
      `\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 7-11/13\r\n\r\nworld` +
      `\r\n--${boundary}--\r\n`,
  );
});

Deno.test("serve http: a range past the end is 416 with Content-Range bytes */size", async () => {
  await using s = await servedRoot();
  const response = await fetch(s.url("/install/netboot/img/hello.txt"), {
    headers: { range: "bytes=100-" },
  });
  strictEqual(response.status, 416);
  strictEqual(response.headers.get("content-range"), "bytes */13");
  strictEqual(await response.text(), "416 Range Not Satisfiable\n");
});

Deno.test("serve http: If-None-Match and If-Modified-Since give 304 without a body", async () => {
  await using s = await servedRoot();
  const first = await fetch(s.url("/install/netboot/img/hello.txt"));
  await first.body?.cancel();
  const etag = first.headers.get("etag")!;
  const byTag = await fetch(s.url("/install/netboot/img/hello.txt"), {
    headers: { "if-none-match": `"other", ${etag}` },
  });
  strictEqual(byTag.status, 304);
  strictEqual(await byTag.text(), "");
  strictEqual(byTag.headers.get("etag"), etag);
  const byDate = await fetch(s.url("/install/netboot/img/hello.txt"), {
    headers: { "if-modified-since": first.headers.get("last-modified")! },
  });
  strictEqual(byDate.status, 304);
  await byDate.body?.cancel();
  const stale = await fetch(s.url("/install/netboot/img/hello.txt"), {
    headers: { "if-none-match": '"other"' },
  });
  strictEqual(stale.status, 200);
  await stale.body?.cancel();
});

Deno.test("serve http: If-Range applies the range only to the same file version", async () => {
  await using s = await servedRoot();
  const first = await fetch(s.url("/install/netboot/img/hello.txt"));
  await first.body?.cancel();
  const same = await fetch(s.url("/install/netboot/img/hello.txt"), {
    headers: { range: "bytes=0-4", "if-range": first.headers.get("etag")! },
  });
  strictEqual(same.status, 206);
  strictEqual(await same.text(), "hello");
  const changed = await fetch(s.url("/install/netboot/img/hello.txt"), {
    headers: { range: "bytes=0-4", "if-range": '"1-2-3"' },
  });
  strictEqual(changed.status, 200);
  strictEqual(await changed.text(), "hello, world\n");
});

Deno.test("serve http: keep-alive serves two requests on one connection", async () => {
  await using s = await servedRoot();
  const text = await raw(
    s.port,
    "GET /install/netboot/img/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n" +
      "GET /tftpboot/xcat/xnba/nodes/cn01 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
  );
  strictEqual(text.match(/^HTTP\/1\.1 200 OK/gm)?.length, 2);
  ok(text.includes("hello, world\n") && text.endsWith("#!gpxe\nexit\n"));
});

Deno.test("serve http: methods other than GET and HEAD are 405 with Allow", async () => {
  await using s = await servedRoot();
  const response = await fetch(s.url("/install/netboot/img/hello.txt"), {
    method: "PUT",
    body: "x",
  });
  strictEqual(response.status, 405);
  strictEqual(response.headers.get("allow"), "GET, HEAD");
  strictEqual(await response.text(), "405 Method Not Allowed\n");
  strictEqual(await Deno.readTextFile(`${s.root}/install/netboot/img/hello.txt`), "hello, world\n");
});

Deno.test("serve http: a missing file is 404; a directory is 404, never listed", async () => {
  await using s = await servedRoot();
  for (const path of ["/install/netboot/img/nothing", "/install/netboot/img/", "/install", "/"]) {
    const response = await fetch(s.url(path));
    strictEqual(response.status, 404, path);
    strictEqual(await response.text(), "404 Not Found\n", path);
  }
});

/** One escape attempt: refused with `status`, the secret never sent, nothing on disk changed. */
async function assertRefused(target: string, status: number) {
  await using s = await servedRoot();
  const before = await snapshotTree(s.base);
  const response = await rawGet(s.port, target);
  ok(response.startsWith(`HTTP/1.1 ${status} `), response.split("\r\n")[0]);
  ok(!response.includes("secret"), "the secret was sent");
  deepStrictEqual(await snapshotTree(s.base), before);
}

Deno.test("serve http attack: '..' segments in the raw target are 400", async () => {
  await assertRefused("/install/../secret", 400);
  await assertRefused("/install/../../secret", 400);
});

Deno.test("serve http attack: percent-encoded '..' (%2e%2e) is 400", async () => {
  await assertRefused("/install/%2e%2e/secret", 400);
  await assertRefused("/install/%2E%2E/%2e%2e/secret", 400);
});

Deno.test("serve http attack: an encoded slash (..%2f) is 400", async () => {
  await assertRefused("/install/..%2f..%2fsecret", 400);
});

Deno.test("serve http attack: double encoding (%252e%252e) is not decoded twice: 404", async () => {
  await assertRefused("/install/%252e%252e/secret", 404);
});

Deno.test("serve http attack: a NUL byte (%00) is 400", async () => {
  await assertRefused("/install/netboot/img/hello.txt%00.png", 400);
});

Deno.test("serve http attack: backslashes are 400", async () => {
  await assertRefused("/install/..\\secret", 400);
  await assertRefused("/install/..%5csecret", 400);
});

Deno.test("serve http attack: a path outside both trees is 404", async () => {
  await assertRefused("/secret", 404);
  await assertRefused("//secret", 404);
});

Deno.test("serve http attack: a symlink pointing outside the tree is 404", async () => {
  await using s = await servedRoot();
  await Deno.symlink(`${s.base}/secret`, `${s.root}/install/netboot/img/link`);
  await Deno.symlink("../../../secret", `${s.root}/install/netboot/img/relative`);
  await Deno.symlink(s.base, `${s.root}/install/netboot/dirlink`);
  for (const path of ["img/link", "img/relative", "dirlink/secret"]) {
    const response = await rawGet(s.port, `/install/netboot/${path}`);
    ok(response.startsWith("HTTP/1.1 404 "), path);
    ok(!response.includes("secret"), path);
  }
});

Deno.test("serve http: a symlink that stays inside the tree is followed", async () => {
  await using s = await servedRoot();
  await Deno.symlink("hello.txt", `${s.root}/install/netboot/img/latest`);
  const response = await fetch(s.url("/install/netboot/img/latest"));
  strictEqual(await response.text(), "hello, world\n");
});

Deno.test("serve http: a FIFO in the tree is 404 and does not block the server", async () => {
  await using s = await servedRoot();
  const fifo = `${s.root}/install/netboot/img/fifo`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  strictEqual(made.code, 0);
  const response = await fetch(s.url("/install/netboot/img/fifo"));
  strictEqual(response.status, 404);
  await response.body?.cancel();
});

Deno.test("serve http: a file renamed over mid-download is served whole from the old inode", async () => {
  await using s = await servedRoot();
  const path = `${s.root}/install/netboot/img/rootimg.cpio.gz`;
  const oldBytes = new Uint8Array(8 << 20).fill(0x41);
  const newBytes = new Uint8Array(5 << 20).fill(0x42);
  await Deno.writeFile(path, oldBytes);
  const response = await fetch(s.url("/install/netboot/img/rootimg.cpio.gz"));
  const reader = response.body!.getReader();
  const first = await reader.read();
  ok(!first.done && first.value.length < oldBytes.length, "the download is still running");
  // packimage's publish: a new file renamed over the old path.
  await Deno.writeFile(`${path}.new`, newBytes);
  await Deno.rename(`${path}.new`, path);
  const chunks = [first.value!];
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const body = new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
  strictEqual(body.length, oldBytes.length);
  ok(body.every((byte) => byte === 0x41), "only old bytes");
  const after = await fetch(s.url("/install/netboot/img/rootimg.cpio.gz"));
  strictEqual((await after.arrayBuffer()).byteLength, newBytes.length);
  ok(after.headers.get("etag") !== response.headers.get("etag"));
});

Deno.test("serve http: the access log has one line per request with status and bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osimg-log-" });
  const logPath = `${dir}/access.log`;
  const file = await Deno.open(logPath, { write: true, create: true, append: true });
  const log = new AccessLog(file);
  {
    await using s = await servedRoot({ log });
    await (await fetch(s.url("/install/netboot/img/hello.txt"), {
      headers: { "user-agent": 'iPXE/1.21 "x"' },
    })).text();
    await (await fetch(s.url("/install/netboot/img/hello.txt"), {
      headers: { range: "bytes=0-4" },
    }))
      .text();
    await (await fetch(s.url("/nothing"))).text();
    await rawGet(s.port, "/install/%2e%2e/secret");
  }
  await log.close();
  const lines = (await Deno.readTextFile(logPath)).trimEnd().split("\n");
  strictEqual(lines.length, 4);
  const pattern =
    /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "([^"\\]|\\.)*" \d{3} \d+ "([^"\\]|\\.)*" "([^"\\]|\\.)*" \d+$/;
  for (const line of lines) match(line, pattern);
  const summary = lines.map((line) => /" (\d{3} \d+) "/.exec(line)![1]).sort();
  deepStrictEqual(summary, ["200 13", "206 5", "400 0", "404 0"]);
  ok(lines.some((line) => line.includes('"iPXE/1.21 \\"x\\""')));
  ok(lines.some((line) => line.includes('"GET /install/%2e%2e/secret HTTP/1.1" 400')));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("serve http: ranges of a file too big for memory are byte-exact (middle, tail, suffix)", async () => {
  await using s = await servedRoot();
  for (
    const [range, start, end] of [
      ["bytes=1000-1999", 1000, 1999],
      ["bytes=70000-", 70000, 299_999],
      ["bytes=-5000", 295_000, 299_999],
      ["bytes=0-299999", 0, 299_999],
    ] as const
  ) {
    const response = await fetch(s.url("/install/netboot/img/big.bin"), { headers: { range } });
    strictEqual(response.status, 206, range);
    strictEqual(response.headers.get("content-range"), `bytes ${start}-${end}/300000`, range);
    strictEqual(response.headers.get("content-length"), String(end - start + 1), range);
    deepStrictEqual(new Uint8Array(await response.arrayBuffer()), BIG.slice(start, end + 1), range);
  }
});

Deno.test("serve http: a middle range of a big file ends at its length; the connection serves the next request", async () => {
  await using s = await servedRoot();
  const bytes = await rawBytes(
    s.port,
    "GET /install/netboot/img/big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=251-1254\r\n\r\n" +
      "GET /install/netboot/img/hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
  );
  // Latin-1 keeps one character per byte.
  const text = new TextDecoder("latin1").decode(bytes);
  ok(text.startsWith("HTTP/1.1 206 "));
  const first = text.indexOf("\r\n\r\n") + 4;
  deepStrictEqual(bytes.slice(first, first + 1004), BIG.slice(251, 1255));
  ok(text.slice(first + 1004).startsWith("HTTP/1.1 200 OK"), "the next response follows at once");
  ok(text.endsWith("\r\n\r\nhello, world\n"));
});

Deno.test("serve http: several ranges of a big file are one multipart body of exact length", async () => {
  await using s = await servedRoot();
  const response = await fetch(s.url("/install/netboot/img/big.bin"), {
    headers: { range: "bytes=10-19,100000-229999" },
  });
  strictEqual(response.status, 206);
  const boundary = /boundary=(\S+)$/.exec(response.headers.get("content-type")!)![1]!;
  const body = new Uint8Array(await response.arrayBuffer());
  strictEqual(Number(response.headers.get("content-length")), body.length);
  const head = (index: number, range: string) =>
    `${index === 0 ? "" : "\r\n"}--${boundary}\r\nContent-Type: application/octet-stream\r\n` +
    `Content-Range: bytes ${range}/300000\r\n\r\n`;
  const encoder = new TextEncoder();
  const expected = [
    encoder.encode(head(0, "10-19")),
    BIG.slice(10, 20),
    encoder.encode(head(1, "100000-229999")),
    BIG.slice(100_000, 230_000),
    encoder.encode(`\r\n--${boundary}--\r\n`),
  ];
  deepStrictEqual(body, new Uint8Array(await new Blob(expected as BlobPart[]).arrayBuffer()));
});

/** Waits until files written now are old enough to be kept in memory (SETTLE_MS). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1100));

Deno.test("serve http: a small file renamed over between two requests is served new, with a new ETag", async () => {
  await using s = await servedRoot();
  const path = `${s.root}/tftpboot/xcat/xnba/nodes/cn01`;
  await settle();
  const before = await fetch(s.url("/tftpboot/xcat/xnba/nodes/cn01"));
  strictEqual(await before.text(), "#!gpxe\nexit\n");
  await Deno.writeTextFile(`${path}.new`, "#!gpxe\nboot\n");
  await Deno.rename(`${path}.new`, path);
  const after = await fetch(s.url("/tftpboot/xcat/xnba/nodes/cn01"));
  strictEqual(await after.text(), "#!gpxe\nboot\n");
  ok(after.headers.get("etag") !== before.headers.get("etag"));
});

Deno.test("serve http: a small file kept in memory and rewritten in place is served new", async () => {
  await using s = await servedRoot();
  const path = `${s.root}/tftpboot/xcat/xnba/nodes/cn01`;
  await settle();
  strictEqual(
    await (await fetch(s.url("/tftpboot/xcat/xnba/nodes/cn01"))).text(),
    "#!gpxe\nexit\n",
  );
  // Same size, same inode: only the ctime (and mtime) tell.
  await Deno.writeTextFile(path, "#!gpxe\nboot\n");
  strictEqual(
    await (await fetch(s.url("/tftpboot/xcat/xnba/nodes/cn01"))).text(),
    "#!gpxe\nboot\n",
  );
});

Deno.test("serve http attack: a symlink served once, then swapped to point outside, is 404", async () => {
  await using s = await servedRoot();
  const link = `${s.root}/install/netboot/img/latest`;
  await Deno.symlink("hello.txt", link);
  await settle();
  strictEqual(await (await fetch(s.url("/install/netboot/img/latest"))).text(), "hello, world\n");
  await Deno.symlink(`${s.base}/secret`, `${link}.new`);
  await Deno.rename(`${link}.new`, link);
  const response = await rawGet(s.port, "/install/netboot/img/latest");
  ok(response.startsWith("HTTP/1.1 404 "));
  ok(!response.includes("secret"));
});

Deno.test("serve http attack: a directory served once, then swapped for a symlink to outside, is 404", async () => {
  await using s = await servedRoot();
  await Deno.mkdir(`${s.base}/outside`);
  await Deno.writeTextFile(`${s.base}/outside/hello.txt`, SECRET);
  await settle();
  strictEqual(
    await (await fetch(s.url("/install/netboot/img/hello.txt"))).text(),
    "hello, world\n",
  );
  await Deno.rename(`${s.root}/install/netboot/img`, `${s.root}/install/netboot/img.old`);
  await Deno.symlink(`${s.base}/outside`, `${s.root}/install/netboot/img`);
  const response = await rawGet(s.port, "/install/netboot/img/hello.txt");
  ok(response.startsWith("HTTP/1.1 404 "));
  ok(!response.includes("secret"));
});
