// Tests of the TFTP server: real clients (curl, busybox), and a hand-written client that
// negotiates options, loses packets on purpose and checks the retransmissions.

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import dgram from "node:dgram";
import {
  decodeTftp,
  encodeAck,
  encodeError,
  encodeRequest,
  type TftpPacket,
} from "../../formats/tftp/tftp_packet.ts";
import { run } from "../../testdata/support/process.ts";
import { AccessLog, type LogSink } from "./access_log.ts";
import { startTftpServer } from "./tftp_server.ts";

/** A tftp root with a few files and a server on a free port. */
async function tftpRoot(options: { maxRetries?: number } = {}) {
  const base = await Deno.makeTempDir({ prefix: "osimg-tftp-" });
  const root = `${base}/tftpboot`;
  await Deno.mkdir(`${root}/xcat`, { recursive: true });
  const blob = new Uint8Array(300_000);
  for (let index = 0; index < blob.length; index++) blob[index] = (index * 7919) & 0xff;
  await Deno.writeFile(`${root}/xcat/blob`, blob);
  await Deno.writeTextFile(`${root}/xcat/small`, "#!gpxe\nexit\n");
  await Deno.writeFile(`${root}/xcat/exact`, new Uint8Array(1024).fill(9));
  await Deno.writeTextFile(`${base}/secret`, "secret\n");
  const lines: string[] = [];
  const sink: LogSink = {
    write(bytes) {
      lines.push(new TextDecoder().decode(bytes));
      return Promise.resolve(bytes.length);
    },
  };
  const log = new AccessLog(sink);
  const server = await startTftpServer({
    hostname: "127.0.0.1",
    port: 0,
    tree: { prefix: [], dir: root },
    log,
    timeoutMs: 300,
    maxRetries: options.maxRetries,
  });
  return {
    base,
    root,
    blob,
    port: server.address.port,
    server,
    async logLines() {
      await log.flush();
      return lines.join("").trimEnd().split("\n");
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(base, { recursive: true });
    },
  };
}

/** A UDP client that sees every packet and decides what to answer. */
async function handClient(serverPort: number) {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const queue: { packet: TftpPacket; port: number; at: number }[] = [];
  let wake: (() => void) | undefined;
  socket.on("message", (message: Uint8Array, remote: dgram.RemoteInfo) => {
    queue.push({ packet: decodeTftp(message), port: remote.port, at: performance.now() });
    wake?.();
  });
  return {
    send(bytes: Uint8Array, port = serverPort) {
      socket.send(bytes, port, "127.0.0.1");
    },
    async receive(timeoutMs = 3000) {
      const deadline = performance.now() + timeoutMs;
      while (queue.length === 0) {
        const left = deadline - performance.now();
        if (left <= 0) return undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
      return queue.shift();
    },
    [Symbol.dispose]() {
      socket.close();
    },
  };
}

function data(packet: TftpPacket | undefined): { block: number; data: Uint8Array } {
  if (packet?.op !== "DATA") throw new Error(`expected DATA, got ${JSON.stringify(packet)}`);
  return packet;
}

Deno.test("serve tftp: curl downloads whole files at the default and a negotiated block size", async () => {
  await using t = await tftpRoot();
  const out = `${t.base}/out`;
  for (const blksize of ["512", "1468", "8192"]) {
    await run([
      "curl",
      "-sS",
      "--tftp-blksize",
      blksize,
      "-o",
      out,
      `tftp://127.0.0.1:${t.port}/xcat/blob`,
    ]);
    deepStrictEqual(await Deno.readFile(out), t.blob, blksize);
  }
  await run(["curl", "-sS", "-o", out, `tftp://127.0.0.1:${t.port}/xcat/exact`]);
  deepStrictEqual(await Deno.readFile(out), new Uint8Array(1024).fill(9));
});

Deno.test("serve tftp: busybox tftp downloads with blksize (and a leading slash in the name)", async () => {
  await using t = await tftpRoot();
  const out = `${t.base}/out`;
  await run([
    "busybox",
    "tftp",
    "-g",
    "-r",
    "/xcat/blob",
    "-l",
    out,
    "-b",
    "4096",
    "127.0.0.1",
    String(t.port),
  ]);
  deepStrictEqual(await Deno.readFile(out), t.blob);
});

Deno.test("serve tftp: options are answered with an OACK (blksize, tsize, timeout, windowsize)", async () => {
  await using t = await tftpRoot();
  using client = await handClient(t.port);
  client.send(encodeRequest("RRQ", "xcat/blob", "octet", {
    blksize: "1024",
    tsize: "0",
    timeout: "2",
    windowsize: "4",
    unknownoption: "1",
  }));
  const oack = await client.receive();
  ok(oack && oack.port !== t.port, "answered from the transfer's own port");
  deepStrictEqual(oack.packet, {
    op: "OACK",
    options: new Map([["blksize", "1024"], ["tsize", "300000"], ["timeout", "2"], [
      "windowsize",
      "4",
    ]]),
  });
  client.send(encodeAck(0), oack.port);
  for (let block = 1; block <= 4; block++) {
    const packet = data((await client.receive())?.packet);
    strictEqual(packet.block, block);
    strictEqual(packet.data.length, 1024);
  }
  // The client ends the transfer with an error packet (RFC 1350 §7): the server stops at once.
  client.send(encodeError(0, "enough"), oack.port);
  while (t.server.activeTransfers() > 0) await new Promise((resolve) => setTimeout(resolve, 20));
});

Deno.test("serve tftp: without options, data starts at block 1 in 512-byte blocks", async () => {
  await using t = await tftpRoot();
  using client = await handClient(t.port);
  client.send(encodeRequest("RRQ", "xcat/small", "octet"));
  const first = await client.receive();
  const packet = data(first?.packet);
  strictEqual(packet.block, 1);
  strictEqual(new TextDecoder().decode(packet.data), "#!gpxe\nexit\n");
  client.send(encodeAck(1), first!.port);
  await t.server.shutdown();
  deepStrictEqual(
    (await t.logLines()).map((line) => / "(RRQ[^"]*)" (\d+ \d+) /.exec(line)?.slice(1)),
    [
      ["RRQ xcat/small octet", "200 12"],
    ],
  );
});

Deno.test("serve tftp: a block whose ACK is lost is sent again after the timeout", async () => {
  await using t = await tftpRoot();
  using client = await handClient(t.port);
  client.send(encodeRequest("RRQ", "xcat/blob", "octet", { blksize: "65464" }));
  const oack = await client.receive();
  strictEqual(oack?.packet.op, "OACK");
  const tid = oack!.port;
  client.send(encodeAck(0), tid);
  const received: Uint8Array[] = [];
  let dropped = false;
  while (true) {
    const arrival = await client.receive();
    const packet = data(arrival?.packet);
    if (packet.block === 2 && !dropped) {
      // Lose the ACK of block 2: the server must send block 2 again, once its timeout passes.
      dropped = true;
      const again = await client.receive();
      strictEqual(data(again?.packet).block, 2);
      ok(again!.at - arrival!.at >= 250, `retransmitted after ${again!.at - arrival!.at} ms`);
      deepStrictEqual(data(again?.packet).data, packet.data);
    }
    if (packet.block === received.length + 1) received.push(packet.data);
    client.send(encodeAck(packet.block), tid);
    if (packet.data.length < 65464) break;
  }
  ok(dropped);
  deepStrictEqual(new Uint8Array(await new Blob(received as BlobPart[]).arrayBuffer()), t.blob);
});

Deno.test("serve tftp: with a window, an ACK from the middle of it resends from the next block", async () => {
  await using t = await tftpRoot();
  using client = await handClient(t.port);
  client.send(encodeRequest("RRQ", "xcat/blob", "octet", { blksize: "1000", windowsize: "4" }));
  const tid = (await client.receive())!.port;
  client.send(encodeAck(0), tid);
  const firstWindow = [];
  for (let index = 0; index < 4; index++) {
    firstWindow.push(data((await client.receive())?.packet).block);
  }
  deepStrictEqual(firstWindow, [1, 2, 3, 4]);
  // Block 3 "was lost": acknowledge 2 (RFC 7440 §4).
  client.send(encodeAck(2), tid);
  const next = [];
  for (let index = 0; index < 4; index++) next.push(data((await client.receive())?.packet).block);
  deepStrictEqual(next, [3, 4, 5, 6]);
  client.send(encodeError(0, "enough"), tid);
});

Deno.test("serve tftp: a client that stops acknowledging is given up after the retries", async () => {
  await using t = await tftpRoot({ maxRetries: 2 });
  using client = await handClient(t.port);
  client.send(encodeRequest("RRQ", "xcat/blob", "octet"));
  let sends = 0;
  while (await client.receive(1000)) sends++;
  strictEqual(sends, 3); // the first send and two retransmissions
  while (t.server.activeTransfers() > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  ok((await t.logLines()).some((line) => line.includes('"RRQ xcat/blob octet" 408 0')));
});

Deno.test("serve tftp: block numbers wrap past 65535 and the file still arrives whole", async () => {
  await using t = await tftpRoot();
  const size = 70_000 * 8 + 3;
  const big = new Uint8Array(size);
  for (let index = 0; index < size; index++) big[index] = (index >> 3) & 0xff;
  await Deno.writeFile(`${t.root}/xcat/wrap`, big);
  using client = await handClient(t.port);
  client.send(encodeRequest("RRQ", "xcat/wrap", "octet", { blksize: "8", windowsize: "64" }));
  const tid = (await client.receive())!.port;
  client.send(encodeAck(0), tid);
  const chunks: Uint8Array[] = [];
  let expected = 1;
  while (true) {
    const packet = data((await client.receive())?.packet);
    if (packet.block !== (expected & 0xffff)) continue;
    chunks.push(packet.data.slice());
    expected++;
    const last = packet.data.length < 8;
    if (last || (expected - 1) % 64 === 0) client.send(encodeAck(packet.block), tid);
    if (last) break;
  }
  deepStrictEqual(new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer()), big);
});

Deno.test("serve tftp: many clients at once each get their whole file", async () => {
  await using t = await tftpRoot();
  const downloads = Array.from({ length: 20 }, async (_, index) => {
    const out = `${t.base}/out${index}`;
    await run([
      "curl",
      "-sS",
      "--tftp-blksize",
      String(512 + index * 100),
      "-o",
      out,
      `tftp://127.0.0.1:${t.port}/xcat/blob`,
    ]);
    return await Deno.readFile(out);
  });
  for (const bytes of await Promise.all(downloads)) deepStrictEqual(bytes, t.blob);
});

async function refusal(t: { port: number }, request: Uint8Array): Promise<TftpPacket | undefined> {
  using client = await handClient(t.port);
  client.send(request);
  return (await client.receive())?.packet;
}

Deno.test("serve tftp: a write request is refused: the server is read-only", async () => {
  await using t = await tftpRoot();
  deepStrictEqual(await refusal(t, encodeRequest("WRQ", "xcat/new", "octet")), {
    op: "ERROR",
    code: 2,
    message: "Access violation: this server is read-only",
  });
  strictEqual(await Deno.stat(`${t.root}/xcat/new`).catch(() => "absent"), "absent");
});

Deno.test("serve tftp: netascii mode is refused clearly", async () => {
  await using t = await tftpRoot();
  deepStrictEqual(await refusal(t, encodeRequest("RRQ", "xcat/small", "netascii")), {
    op: "ERROR",
    code: 4,
    message: "Transfer mode 'netascii' is not supported; request the file in octet mode",
  });
});

Deno.test("serve tftp: a missing file is error 1, File not found", async () => {
  await using t = await tftpRoot();
  deepStrictEqual(await refusal(t, encodeRequest("RRQ", "xcat/none", "octet")), {
    op: "ERROR",
    code: 1,
    message: "File not found",
  });
});

Deno.test("serve tftp attack: '..' in the file name is an access violation", async () => {
  await using t = await tftpRoot();
  deepStrictEqual(await refusal(t, encodeRequest("RRQ", "xcat/../../secret", "octet")), {
    op: "ERROR",
    code: 2,
    message: "Access violation: the path has a '..' segment",
  });
});

Deno.test("serve tftp attack: a backslash path is an access violation", async () => {
  await using t = await tftpRoot();
  const packet = await refusal(t, encodeRequest("RRQ", "..\\secret", "octet"));
  deepStrictEqual(packet, {
    op: "ERROR",
    code: 2,
    message: "Access violation: the path has a backslash",
  });
});

Deno.test("serve tftp attack: a symlink pointing outside the tftp root is not served", async () => {
  await using t = await tftpRoot();
  await Deno.symlink(`${t.base}/secret`, `${t.root}/xcat/link`);
  deepStrictEqual(await refusal(t, encodeRequest("RRQ", "xcat/link", "octet")), {
    op: "ERROR",
    code: 1,
    message: "File not found",
  });
});

Deno.test("serve tftp: a packet from another port gets 'Unknown transfer ID' and the transfer goes on", async () => {
  await using t = await tftpRoot();
  using client = await handClient(t.port);
  using stranger = await handClient(t.port);
  client.send(encodeRequest("RRQ", "xcat/small", "octet"));
  const first = await client.receive();
  strictEqual(data(first?.packet).block, 1);
  stranger.send(encodeAck(1), first!.port);
  deepStrictEqual((await stranger.receive())?.packet, {
    op: "ERROR",
    code: 5,
    message: "Unknown transfer ID",
  });
  client.send(encodeAck(1), first!.port);
  while (t.server.activeTransfers() > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  ok((await t.logLines()).some((line) => line.includes('"RRQ xcat/small octet" 200 12')));
});
