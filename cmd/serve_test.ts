// Tests of `osimg serve` as a command: a real process stopped by SIGTERM with a transfer in
// flight, and startup errors as one line.

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import dgram from "node:dgram";
import { testRoot } from "../testdata/support/testing.ts";
import { listenError } from "../core/serve/serve.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Reads stderr lines of a child until one matches. */
async function waitForLine(
  lines: AsyncIterator<string>,
  pattern: RegExp,
): Promise<RegExpExecArray> {
  while (true) {
    const { done, value } = await lines.next();
    if (done) throw new Error(`the server ended before printing ${pattern}`);
    const found = pattern.exec(value);
    if (found) return found;
  }
}

async function* textLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const parts = pending.split("\n");
    pending = parts.pop()!;
    yield* parts;
  }
  if (pending) yield pending;
}

Deno.test("osimg serve: SIGTERM finishes the download in flight, refuses new connections, exits 0", async () => {
  await using t = await testRoot();
  await Deno.mkdir(`${t.root}/install/netboot`, { recursive: true });
  const size = 64 << 20;
  await Deno.writeFile(`${t.root}/install/netboot/rootimg.cpio.gz`, new Uint8Array(size).fill(7));
  const log = `${t.root}/access.log`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "--root",
      t.root,
      "serve",
      "--http",
      "127.0.0.1:0",
      "--tftp",
      "off",
      "--access-log",
      log,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = textLines(child.stderr);
  const [, port] = await waitForLine(lines, /^Serving HTTP on 127\.0\.0\.1:(\d+): \/install from /);
  const response = await fetch(`http://127.0.0.1:${port}/install/netboot/rootimg.cpio.gz`);
  const reader = response.body!.getReader();
  let received = (await reader.read()).value!.length;
  ok(received < size);
  child.kill("SIGTERM");
  await waitForLine(lines, /^Stopping: finishing the transfers in flight$/);
  // The listener closes as the stop begins, while the download is still held open here.
  let refused = false;
  for (let attempt = 0; attempt < 100 && !refused; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: Number(port) })).close();
      await new Promise((resolve) => setTimeout(resolve, 20));
    } catch (error) {
      ok(error instanceof Deno.errors.ConnectionRefused);
      refused = true;
    }
  }
  ok(refused, "new connections are refused during the stop");
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.length;
  }
  strictEqual(received, size);
  for await (const _ of lines) { /* drain */ }
  strictEqual((await child.status).code, 0);
  match(
    await Deno.readTextFile(log),
    new RegExp(`"GET /install/netboot/rootimg.cpio.gz HTTP/1.1" 200 ${size} `),
  );
});

Deno.test("osimg serve: a TCP port in use is one error line, exit 1", async () => {
  await using t = await testRoot();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const result = await t.run(["serve", "--http", `127.0.0.1:${port}`, "--tftp", "off"]);
  strictEqual(result.status, 1);
  strictEqual(
    result.stderr,
    `Error: Cannot serve HTTP on 127.0.0.1:${port}: the TCP port is already in use ` +
      `(another server is running; stop it or choose another port).\n`,
  );
});

Deno.test("osimg serve: a UDP port in use for TFTP is one error line, exit 1, HTTP not left running", async () => {
  await using t = await testRoot();
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const port = socket.address().port;
  using free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const httpPort = (free.addr as Deno.NetAddr).port;
  free.close();
  const result = await t.run([
    "serve",
    "--http",
    `127.0.0.1:${httpPort}`,
    "--tftp",
    `127.0.0.1:${port}`,
  ]);
  strictEqual(result.status, 1);
  match(
    result.stderr,
    /^Error: Cannot serve TFTP on 127\.0\.0\.1:\d+: the UDP port is already in use/,
  );
  strictEqual(result.stderr.split("\n").length, 2);
  socket.close();
  // The HTTP server that had started was stopped: its port is free again.
  Deno.listen({ hostname: "127.0.0.1", port: httpPort }).close();
});

Deno.test("osimg serve: a privileged port without the right is one clear line", () => {
  const error = listenError(
    "HTTP",
    "TCP",
    { hostname: "0.0.0.0", port: 80 },
    new Deno.errors.PermissionDenied("Permission denied"),
  );
  strictEqual(
    error.message,
    "Cannot serve HTTP on 0.0.0.0:80: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE).",
  );
  strictEqual(error.exitCode, 1);
});

Deno.test("osimg serve: a malformed address is a usage error (exit 2)", async () => {
  await using t = await testRoot();
  const result = await t.run(["serve", "--http", "localhost", "--tftp", "off"]);
  strictEqual(result.status, 2);
  strictEqual(
    result.stderr,
    "Error: serve: --http 'localhost' is not ADDR:PORT (e.g. 0.0.0.0:80, [::]:80, :8080) or 'off'.\n",
  );
  const none = await t.run(["serve", "--http", "off", "--tftp", "off"]);
  strictEqual(none.status, 2);
  deepStrictEqual(
    none.stderr,
    "Error: serve: both --http and --tftp are 'off'; there is nothing to serve.\n",
  );
});
