// The HTTP/1.1 side of `osimg serve`: GET and HEAD of the served trees with byte ranges,
// validators and conditional requests, on Deno.serve (keep-alive, graceful shutdown).

import {
  type ByteRange,
  contentRange,
  httpDate,
  multipartLayout,
  parseHttpDate,
  parseRange,
  type RangeRequest,
  unsatisfiedRange,
} from "../../formats/http/byte_ranges.ts";
import { requestSegments } from "../../formats/http/request_path.ts";
import type { AccessLog } from "./access_log.ts";
import {
  entityTag,
  type OpenedFile,
  openResolved,
  type ResolvedFile,
  resolveServedFile,
  type ServedTree,
} from "./served_trees.ts";
import { SMALL_FILE, type SmallFile, SmallFileCache } from "./small_file_cache.ts";

/** Where and what the HTTP server serves. */
export interface HttpServerOptions {
  hostname: string;
  port: number;
  trees: readonly ServedTree[];
  log?: AccessLog;
}

/** A running HTTP server. */
export interface HttpServer {
  /** The address it listens on (the real port when 0 was asked). */
  address: { hostname: string; port: number };
  /** Refuses new connections, lets the requests in flight finish, then resolves. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Reads of a multipart/byteranges body (the one body that passes through JavaScript): the size
 * of Deno's own stream buffers, so a client holds one such chunk in flight and no more.
 */
const RANGE_READ_SIZE = 64 << 10;

/**
 * Starts the HTTP server. Throws Deno's AddrInUse / PermissionDenied when the address cannot be
 * bound (the caller turns them into one line).
 *
 * @example
 * ```ts
 * const server = startHttpServer({ hostname: "0.0.0.0", port: 80, trees });
 * await server.shutdown();
 * ```
 */
export function startHttpServer(options: HttpServerOptions): HttpServer {
  const cache = new SmallFileCache();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen() {},
    onError() {
      return plain(500, "Internal Server Error");
    },
  }, (request, info) => handle(request, info, options, cache));
  const addr = server.addr as Deno.NetAddr;
  return {
    address: { hostname: addr.hostname, port: addr.port },
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}

/** Hands a response back, logging it once it is sent; `body` counts what a stream really sent. */
type Logged = (response: Response, body?: { sent(): number }) => Response;

/**
 * One request. Everything up to the response is synchronous for a small file (resolve, one
 * stat, the cached bytes): no promise between the request and its response.
 */
function handle(
  request: Request,
  info: Deno.ServeHandlerInfo,
  options: HttpServerOptions,
  cache: SmallFileCache,
): Response | Promise<Response> {
  const rawPath = pathOf(request.url);
  const logged = options.log ? accessLogger(options.log, request, info, rawPath) : unlogged;
  if (request.method !== "GET" && request.method !== "HEAD") {
    return logged(plain(405, "Method Not Allowed", { allow: "GET, HEAD" }));
  }
  let segments: string[];
  try {
    segments = requestSegments(rawPath);
  } catch {
    return logged(plain(400, "Bad Request"));
  }
  const resolved = resolveServedFile(options.trees, segments);
  if (typeof resolved === "string") return logged(plain(404, "Not Found"));
  if (resolved.size <= SMALL_FILE) {
    let small: SmallFile | undefined;
    try {
      small = cache.read(resolved);
    } catch (error) {
      resolved.release();
      throw error;
    }
    if (small) {
      resolved.release();
      return respondWithBytes(request, small, logged);
    }
  }
  return openAndRespond(request, resolved, logged);
}

const unlogged: Logged = (response) => response;

/** Logs the response when it is fully sent (or the client went away): bytes as really sent. */
function accessLogger(
  log: AccessLog,
  request: Request,
  info: Deno.ServeHandlerInfo,
  rawPath: string,
): Logged {
  const started = performance.now();
  const time = new Date();
  // Read now: the request and its connection are gone by the time the response is sent.
  const remote = (info.remoteAddr as Deno.NetAddr).hostname ?? "-";
  const referer = request.headers.get("referer") ?? undefined;
  const userAgent = request.headers.get("user-agent") ?? undefined;
  const method = request.method;
  return (response, body) => {
    const record = (bytes: number) =>
      log.add({
        remote,
        time,
        request: `${method} ${rawPath} HTTP/1.1`,
        status: response.status,
        bytes,
        referer,
        userAgent,
        durationMs: performance.now() - started,
      });
    const promised = method === "HEAD" ? 0 : Number(response.headers.get("content-length") ?? 0);
    info.completed.then(
      () => record(body ? body.sent() : promised),
      () => record(body ? body.sent() : 0),
    );
    return response;
  };
}

/** The headers every 200/206 carries, and what the request asked for. */
type Preamble =
  | { headers: Record<string, string>; wanted: Exclude<RangeRequest, { kind: "unsatisfiable" }> }
  | Response;

/**
 * What validators, conditions, HEAD and Range make of a request for a file of `size` bytes:
 * a finished response (304, 416, HEAD's 200) or the headers and ranges of the body to send.
 */
function preamble(
  request: Request,
  size: number,
  etag: string,
  mtime: Date,
  lastModified: string,
): Preamble {
  const headers: Record<string, string> = {
    "accept-ranges": "bytes",
    "etag": etag,
    "last-modified": lastModified,
    "content-type": "application/octet-stream",
  };
  if (notModified(request, etag, mtime)) {
    return new Response(null, { status: 304, headers: withoutBodyHeaders(headers) });
  }
  const rangeHeader = request.method === "GET" && rangeStillValid(request, etag, lastModified)
    ? request.headers.get("range")
    : null;
  const wanted = parseRange(rangeHeader, size);
  if (wanted.kind === "unsatisfiable") {
    return plain(416, "Range Not Satisfiable", { "content-range": unsatisfiedRange(size) });
  }
  if (request.method === "HEAD") {
    return new Response(null, {
      status: 200,
      headers: { ...headers, "content-length": String(size) },
    });
  }
  return { headers, wanted };
}

/** A small file from memory: whole, one range, or several as multipart/byteranges. */
function respondWithBytes(request: Request, small: SmallFile, logged: Logged): Response {
  const { bytes } = small;
  const size = bytes.length;
  const pre = preamble(
    request,
    size,
    small.etag,
    small.info.mtime ?? new Date(0),
    small.lastModified,
  );
  if (pre instanceof Response) return logged(pre);
  const { headers, wanted } = pre;
  if (wanted.kind === "none") {
    headers["content-length"] = String(size);
    return logged(new Response(bytes, { status: 200, headers }));
  }
  if (wanted.ranges.length === 1) {
    const range = wanted.ranges[0]!;
    headers["content-length"] = String(range.end - range.start + 1);
    headers["content-range"] = contentRange(range, size);
    return logged(
      new Response(bytes.subarray(range.start, range.end + 1), { status: 206, headers }),
    );
  }
  const boundary = `osimg-${crypto.randomUUID()}`;
  const layout = multipartLayout(wanted.ranges, size, headers["content-type"]!, boundary);
  const encoder = new TextEncoder();
  const body = new Uint8Array(layout.length);
  let at = 0;
  for (const { range, head } of layout.parts) {
    at += encoder.encodeInto(head, body.subarray(at)).written;
    body.set(bytes.subarray(range.start, range.end + 1), at);
    at += range.end - range.start + 1;
  }
  encoder.encodeInto(layout.tail, body.subarray(at));
  headers["content-type"] = `multipart/byteranges; boundary=${boundary}`;
  headers["content-length"] = String(layout.length);
  return logged(new Response(body, { status: 206, headers }));
}

/** A file that is not served from memory: opened, and streamed from its handle. */
async function openAndRespond(
  request: Request,
  resolved: ResolvedFile,
  logged: Logged,
): Promise<Response> {
  const opened = await openResolved(resolved);
  if (typeof opened === "string") return logged(plain(404, "Not Found"));
  try {
    return await respondWithFile(request, opened, logged);
  } catch (error) {
    opened.file.close();
    throw error;
  }
}

async function respondWithFile(
  request: Request,
  opened: OpenedFile,
  logged: Logged,
): Promise<Response> {
  const { file, info } = opened;
  const size = info.size;
  const mtime = info.mtime ?? new Date(0);
  const pre = preamble(request, size, entityTag(info), mtime, httpDate(mtime));
  if (pre instanceof Response) {
    file.close();
    return logged(pre);
  }
  const { headers, wanted } = pre;
  if (wanted.kind === "none") {
    // The whole file: the handle's own stream, which Deno.serve copies without JS in between.
    headers["content-length"] = String(size);
    return logged(new Response(file.readable, { status: 200, headers }));
  }
  if (wanted.ranges.length === 1) {
    const range = wanted.ranges[0]!;
    headers["content-length"] = String(range.end - range.start + 1);
    headers["content-range"] = contentRange(range, size);
    // The handle's own stream from the range's start, copied natively like a whole file:
    // Deno.serve ends the body at the Content-Length it was given (and closes the handle), so
    // a range in the middle costs no JavaScript per chunk and no buffer beyond the native copy's.
    await file.seek(range.start, Deno.SeekMode.Start);
    return logged(new Response(file.readable, { status: 206, headers }));
  }
  const boundary = `osimg-${crypto.randomUUID()}`;
  const layout = multipartLayout(wanted.ranges, size, headers["content-type"]!, boundary);
  const body = rangeBody(file, layout.parts, layout.tail);
  headers["content-type"] = `multipart/byteranges; boundary=${boundary}`;
  headers["content-length"] = String(layout.length);
  return logged(new Response(body.stream, { status: 206, headers }), body);
}

/**
 * If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2); the date compares at the
 * one-second resolution Last-Modified has.
 */
function notModified(request: Request, etag: string, mtime: Date): boolean {
  const noneMatch = request.headers.get("if-none-match");
  if (noneMatch !== null) {
    return noneMatch.split(",").some((tag) => {
      const candidate = tag.trim().replace(/^W\//, "");
      return candidate === "*" || candidate === etag;
    });
  }
  const since = parseHttpDate(request.headers.get("if-modified-since"));
  return since !== undefined && Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}

/** If-Range: the range applies only to the representation the client already has part of. */
function rangeStillValid(request: Request, etag: string, lastModified: string): boolean {
  const ifRange = request.headers.get("if-range");
  if (ifRange === null) return true;
  const value = ifRange.trim();
  // A weak tag never validates a range (RFC 9110 §13.1.5).
  if (value.startsWith('"') || value.startsWith("W/")) return value === etag;
  return value === lastModified;
}

/** A ranged body read from the open handle; `sent()` is what has been handed to the socket. */
function rangeBody(
  file: Deno.FsFile,
  parts: readonly { range: ByteRange; head: string }[],
  tail: string,
): { stream: ReadableStream<Uint8Array>; sent(): number } {
  const encoder = new TextEncoder();
  let sent = 0;
  let partIndex = 0;
  let position = -1;
  let headDone = false;
  let closed = false;
  const finish = () => {
    if (!closed) file.close();
    closed = true;
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const part = parts[partIndex];
        if (!part) {
          if (tail) {
            const bytes = encoder.encode(tail);
            sent += bytes.length;
            controller.enqueue(bytes);
          }
          finish();
          controller.close();
          return;
        }
        if (!headDone) {
          headDone = true;
          position = part.range.start;
          await file.seek(position, Deno.SeekMode.Start);
          if (part.head) {
            const bytes = encoder.encode(part.head);
            sent += bytes.length;
            controller.enqueue(bytes);
            return;
          }
        }
        const left = part.range.end + 1 - position;
        const buffer = new Uint8Array(Math.min(RANGE_READ_SIZE, left));
        let filled = 0;
        while (filled < buffer.length) {
          const count = await file.read(buffer.subarray(filled));
          if (count === null) break;
          filled += count;
        }
        if (filled === 0) {
          // The file shrank under us (truncated in place, not renamed over): the promised
          // length cannot be kept, so the response is cut off rather than padded.
          throw new Error("the file shrank while it was served");
        }
        position += filled;
        sent += filled;
        controller.enqueue(buffer.subarray(0, filled));
        if (position > part.range.end) {
          partIndex++;
          headDone = false;
        }
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    cancel() {
      finish();
    },
  }, { highWaterMark: 0 });
  return { stream, sent: () => sent };
}

function withoutBodyHeaders(headers: Record<string, string>): Record<string, string> {
  const { "content-type": _type, "accept-ranges": _ranges, ...rest } = headers;
  return rest;
}

function plain(status: number, text: string, extra: Record<string, string> = {}): Response {
  return new Response(`${status} ${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...extra },
  });
}

/** The request target's path as the client sent it (Deno.serve keeps it raw in `url`). */
function pathOf(url: string): string {
  const schemeEnd = url.indexOf("://");
  const slash = url.indexOf("/", schemeEnd < 0 ? 0 : schemeEnd + 3);
  return slash < 0 ? "/" : url.slice(slash);
}
