// The TFTP side of `osimg serve`: read-only RFC 1350 with the blksize, tsize, timeout (RFCs
// 2347-2349) and windowsize (RFC 7440) options, one socket and ephemeral port per transfer.

import dgram from "node:dgram";
import {
  decodeTftp,
  encodeData,
  encodeError,
  encodeOack,
  TftpErrorCode,
  type TftpPacket,
} from "../../formats/tftp/tftp_packet.ts";
import { requestSegments } from "../../formats/http/request_path.ts";
import type { AccessLog } from "./access_log.ts";
import { openServedFile, type ServedTree } from "./served_trees.ts";

/** Where and what the TFTP server serves, and how patient it is. */
export interface TftpServerOptions {
  hostname: string;
  port: number;
  /** The TFTP root (site.tftpdir); request names are relative to it. */
  tree: ServedTree;
  log?: AccessLog;
  /** Retransmission timeout when the client does not negotiate one (ms, default 1000). */
  timeoutMs?: number;
  /** Retransmissions of one packet before the transfer is abandoned (default 5). */
  maxRetries?: number;
}

/** A running TFTP server. */
export interface TftpServer {
  address: { hostname: string; port: number };
  /** Stops taking requests, lets the transfers in flight finish, then resolves. */
  shutdown(): Promise<void>;
  finished: Promise<void>;
  /** Transfers in flight (tests, and a shutdown that waits for them). */
  activeTransfers(): number;
}

/** The largest block size: RFC 2348's limit, which fits a 64 KiB IPv4 datagram. */
const MAX_BLKSIZE = 65464;
/** The largest window the server agrees to (RFC 7440 lets it answer less than asked). */
const MAX_WINDOW = 64;

/** Why a bind failed, with the system's code (EADDRINUSE, EACCES). */
export class BindError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function bound(socket: dgram.Socket, hostname: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      socket.close();
      reject(new BindError(error.code ?? "", error.message));
    };
    socket.once("error", onError);
    socket.bind({ address: hostname, port, exclusive: true }, () => {
      socket.off("error", onError);
      resolve();
    });
  });
}

function socketType(hostname: string): "udp4" | "udp6" {
  return hostname.includes(":") ? "udp6" : "udp4";
}

/**
 * Starts the TFTP server on `hostname:port`. Rejects with a BindError when the port is taken
 * or needs privileges.
 *
 * @example
 * ```ts
 * const tftp = await startTftpServer({ hostname: "0.0.0.0", port: 69, tree });
 * await tftp.shutdown();
 * ```
 */
export async function startTftpServer(options: TftpServerOptions): Promise<TftpServer> {
  const listener = dgram.createSocket(socketType(options.hostname));
  await bound(listener, options.hostname, options.port);
  const address = listener.address();
  const transfers = new Map<string, Promise<void>>();
  let closing = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));

  listener.on("message", (message: Uint8Array, remote: dgram.RemoteInfo) => {
    if (closing) return;
    const key = `${remote.address}:${remote.port}`;
    // A client that repeats its request while the transfer runs gets that transfer, not two.
    if (transfers.has(key)) return;
    let packet: TftpPacket;
    try {
      packet = decodeTftp(message);
    } catch {
      return; // not TFTP: no answer, as a request that got lost
    }
    const started = performance.now();
    const time = new Date();
    const run = serveRequest(packet, remote, options).then((outcome) => {
      options.log?.add({
        remote: remote.address,
        time,
        request: outcome.request,
        status: outcome.status,
        bytes: outcome.bytes,
        userAgent: "tftp",
        durationMs: performance.now() - started,
      });
    }).catch(() => {}).finally(() => transfers.delete(key));
    transfers.set(key, run);
  });

  return {
    address: { hostname: address.address, port: address.port },
    async shutdown() {
      if (!closing) {
        closing = true;
        await new Promise<void>((resolve) => listener.close(() => resolve()));
      }
      while (transfers.size > 0) await Promise.all([...transfers.values()]);
      resolveFinished();
    },
    finished,
    activeTransfers: () => transfers.size,
  };
}

/** How a request ended, for the access log. */
interface Outcome {
  request: string;
  status: number;
  bytes: number;
}

/** Answers one request from its own socket (the server's transfer ID, RFC 1350 §4). */
async function serveRequest(
  packet: TftpPacket,
  remote: dgram.RemoteInfo,
  options: TftpServerOptions,
): Promise<Outcome> {
  const socket = dgram.createSocket(socketType(options.hostname));
  await bound(socket, options.hostname, 0);
  const send = (bytes: Uint8Array) =>
    new Promise<void>((resolve) =>
      socket.send(bytes, remote.port, remote.address, () => resolve())
    );
  const refuse = async (request: string, code: number, message: string, status: number) => {
    await send(encodeError(code, message));
    return { request, status, bytes: 0 };
  };
  try {
    if (packet.op === "WRQ") {
      return await refuse(
        `WRQ ${packet.filename} ${packet.mode}`,
        TftpErrorCode.ACCESS_VIOLATION,
        "Access violation: this server is read-only",
        403,
      );
    }
    if (packet.op !== "RRQ") {
      return await refuse(
        packet.op,
        TftpErrorCode.ILLEGAL_OPERATION,
        "Illegal TFTP operation: expected a read request",
        400,
      );
    }
    const request = `RRQ ${packet.filename} ${packet.mode}`;
    if (packet.mode !== "octet") {
      return await refuse(
        request,
        TftpErrorCode.ILLEGAL_OPERATION,
        `Transfer mode '${packet.mode}' is not supported; request the file in octet mode`,
        400,
      );
    }
    let segments: string[];
    try {
      segments = requestSegments(packet.filename, { decode: false });
    } catch (error) {
      return await refuse(
        request,
        TftpErrorCode.ACCESS_VIOLATION,
        `Access violation: ${(error as Error).message}`,
        403,
      );
    }
    const opened = await openServedFile([options.tree], [...options.tree.prefix, ...segments]);
    if (typeof opened === "string") {
      return await refuse(request, TftpErrorCode.FILE_NOT_FOUND, "File not found", 404);
    }
    try {
      const result = await sendFile(
        socket,
        remote,
        opened.file,
        opened.info.size,
        packet.options,
        options,
      );
      return { request, status: result.status, bytes: result.bytes };
    } finally {
      opened.file.close();
    }
  } finally {
    socket.close();
  }
}

/** The options the server accepts, and the values it will use. */
interface Negotiated {
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  /** What goes in the OACK (empty: no OACK, data starts at once). */
  reply: Map<string, string>;
}

function negotiate(
  asked: ReadonlyMap<string, string>,
  size: number,
  defaultTimeoutMs: number,
): Negotiated {
  const reply = new Map<string, string>();
  const integer = (name: string): number | undefined => {
    const text = asked.get(name);
    return text !== undefined && /^\d{1,10}$/.test(text) ? Number(text) : undefined;
  };
  let blksize = 512;
  const wantedBlksize = integer("blksize");
  if (wantedBlksize !== undefined && wantedBlksize >= 8) {
    blksize = Math.min(wantedBlksize, MAX_BLKSIZE);
    reply.set("blksize", String(blksize));
  }
  // RFC 2349: a client sends tsize 0 in a read request and learns the size in the OACK.
  if (integer("tsize") !== undefined) reply.set("tsize", String(size));
  let timeoutMs = defaultTimeoutMs;
  const wantedTimeout = integer("timeout");
  if (wantedTimeout !== undefined && wantedTimeout >= 1 && wantedTimeout <= 255) {
    timeoutMs = wantedTimeout * 1000;
    reply.set("timeout", String(wantedTimeout));
  }
  let windowsize = 1;
  const wantedWindow = integer("windowsize");
  if (wantedWindow !== undefined && wantedWindow >= 1 && wantedWindow <= 65535) {
    windowsize = Math.min(wantedWindow, MAX_WINDOW);
    reply.set("windowsize", String(windowsize));
  }
  return { blksize, windowsize, timeoutMs, reply };
}

/**
 * Sends the file: an OACK first when options were accepted (acknowledged as block 0), then
 * windows of `windowsize` blocks; an ACK acknowledges every block up to it and the next window
 * starts after it (RFC 7440 §4, which also covers an ACK from the middle of a window after a
 * loss). Only a timeout retransmits: a repeated ACK never does, which is the Sorcerer's
 * Apprentice fix of RFC 1123 §4.2.3.1. Block numbers wrap to 0 after 65535 for files past
 * 65535 blocks, as tftp-hpa and iPXE expect.
 */
async function sendFile(
  socket: dgram.Socket,
  remote: dgram.RemoteInfo,
  file: Deno.FsFile,
  size: number,
  asked: ReadonlyMap<string, string>,
  options: TftpServerOptions,
): Promise<{ status: number; bytes: number }> {
  const { blksize, windowsize, timeoutMs, reply } = negotiate(
    asked,
    size,
    options.timeoutMs ?? 1000,
  );
  const maxRetries = options.maxRetries ?? 5;
  const lastBlock = Math.floor(size / blksize) + 1;
  const inbox: TftpPacket[] = [];
  let wake: (() => void) | undefined;
  socket.on("message", (message: Uint8Array, from: dgram.RemoteInfo) => {
    if (from.address !== remote.address || from.port !== remote.port) {
      // RFC 1350 §4: a packet from another transfer ID gets an error and changes nothing here.
      socket.send(
        encodeError(TftpErrorCode.UNKNOWN_TRANSFER_ID, "Unknown transfer ID"),
        from.port,
        from.address,
      );
      return;
    }
    try {
      inbox.push(decodeTftp(message));
    } catch {
      return;
    }
    wake?.();
  });
  const next = (deadline: number): Promise<TftpPacket | undefined> => {
    const queued = inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve(undefined);
      }, Math.max(0, deadline - performance.now()));
      wake = () => {
        wake = undefined;
        clearTimeout(timer);
        resolve(inbox.shift());
      };
    });
  };
  const send = (bytes: Uint8Array) =>
    new Promise<void>((resolve) =>
      socket.send(bytes, remote.port, remote.address, () => resolve())
    );
  /** The bytes of blocks first..last in one read (a window is one system call, not one per block). */
  const readBlocks = async (first: number, last: number): Promise<Uint8Array> => {
    const start = (first - 1) * blksize;
    const length = Math.max(0, Math.min(last * blksize, size) - start);
    const buffer = new Uint8Array(length);
    await file.seek(start, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < length) {
      const count = await file.read(buffer.subarray(filled));
      if (count === null) break;
      filled += count;
    }
    return buffer.subarray(0, filled);
  };

  let acked = 0; // every block up to this one has been acknowledged
  let sentBytes = 0;
  if (reply.size > 0) {
    // The OACK is acknowledged as block 0 (RFC 2347).
    let tries = 0;
    while (true) {
      await send(encodeOack(reply));
      const deadline = performance.now() + timeoutMs;
      let answered = false;
      while (!answered) {
        const packet = await next(deadline);
        if (!packet) break;
        if (packet.op === "ERROR") return { status: 499, bytes: 0 };
        if (packet.op === "ACK" && packet.block === 0) answered = true;
      }
      if (answered) break;
      if (++tries > maxRetries) return { status: 408, bytes: 0 };
    }
  }
  let tries = 0;
  while (acked < lastBlock) {
    const windowEnd = Math.min(acked + windowsize, lastBlock);
    const window = await readBlocks(acked + 1, windowEnd);
    for (let block = acked + 1; block <= windowEnd; block++) {
      const offset = (block - acked - 1) * blksize;
      // Queued on the socket without waiting for each: the window leaves in one burst.
      socket.send(
        encodeData(block, window.subarray(offset, offset + blksize)),
        remote.port,
        remote.address,
      );
    }
    const deadline = performance.now() + timeoutMs;
    let progressed = false;
    while (!progressed) {
      const packet = await next(deadline);
      if (!packet) break;
      if (packet.op === "ERROR") return { status: 499, bytes: sentBytes };
      if (packet.op !== "ACK") continue;
      // The 16-bit block number, mapped to the block in (acked, windowEnd] it can only mean.
      const ahead = (packet.block - acked + 0x10000) & 0xffff;
      if (ahead === 0 || acked + ahead > windowEnd) continue; // a repeat or a stale ACK
      const newlyAcked = acked + ahead;
      sentBytes += Math.min(size, newlyAcked * blksize) - Math.min(size, acked * blksize);
      acked = newlyAcked;
      progressed = true;
    }
    if (progressed) {
      tries = 0;
      continue;
    }
    if (++tries > maxRetries) return { status: 408, bytes: sentBytes };
  }
  return { status: 200, bytes: sentBytes };
}
