// The HTTP/1.1 side of `osimg serve`: GET and HEAD of the served trees with byte ranges,
// validators and conditional requests, on Deno.serve (keep-alive, graceful shutdown).

import {
  type ByteRange,
  contentRange,
  httpDate,
  multipartLayout,
  parseHttpDate,
  parseRange,
  unsatisfiedRange,
} from "../../formats/http/byte_ranges.ts";
import { requestSegments } from "../../formats/http/request_path.ts";
import type { AccessLog } from "./access_log.ts";
import { entityTag, type OpenedFile, openServedFile, type ServedTree } from "./served_trees.ts";

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
 * Reads of a ranged body: big enough that a gigabyte range is a thousand reads, small enough
 * that 200 clients hold 200 MB at most.
 */
const RANGE_READ_SIZE = 256 << 10;

/**
 * Files up to this size are read whole and sent as bytes: for iPXE scripts and boot configs a
 * stream costs more than the read.
 */
const SMALL_FILE = 64 << 10;

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
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen() {},
    onError() {
      return plain(500, "Internal Server Error");
    },
  }, (request, info) => handle(request, info, options));
  const addr = server.addr as Deno.NetAddr;
  return {
    address: { hostname: addr.hostname, port: addr.port },
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}

async function handle(
  request: Request,
  info: Deno.ServeHandlerInfo,
  options: HttpServerOptions,
): Promise<Response> {
  const started = performance.now();
  const time = new Date();
  const rawPath = pathOf(request.url);
  // Read now: the request and its connection are gone by the time the response is sent.
  const remote = (info.remoteAddr as Deno.NetAddr).hostname ?? "-";
  const referer = request.headers.get("referer") ?? undefined;
  const userAgent = request.headers.get("user-agent") ?? undefined;
  // Logged when the response is fully sent (or the client went away): bytes as really sent.
  const logged = (response: Response, body: { sent(): number } | undefined) => {
    const log = options.log;
    if (!log) return response;
    const record = (bytes: number) =>
      log.add({
        remote,
        time,
        request: `${request.method} ${rawPath} HTTP/1.1`,
        status: response.status,
        bytes,
        referer,
        userAgent,
        durationMs: performance.now() - started,
      });
    const promised = request.method === "HEAD"
      ? 0
      : Number(response.headers.get("content-length") ?? 0);
    info.completed.then(
      () => record(body ? body.sent() : promised),
      () => record(body ? body.sent() : 0),
    );
    return response;
  };

  if (request.method !== "GET" && request.method !== "HEAD") {
    return logged(plain(405, "Method Not Allowed", { allow: "GET, HEAD" }), undefined);
  }
  let segments: string[];
  try {
    segments = requestSegments(rawPath);
  } catch {
    return logged(plain(400, "Bad Request"), undefined);
  }
  const opened = await openServedFile(options.trees, segments);
  if (typeof opened === "string") return logged(plain(404, "Not Found"), undefined);
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
  logged: (response: Response, body: { sent(): number } | undefined) => Response,
): Promise<Response> {
  const { file, info } = opened;
  const size = info.size;
  const etag = entityTag(info);
  const mtime = info.mtime ?? new Date(0);
  const lastModified = httpDate(mtime);
  const headers: Record<string, string> = {
    "accept-ranges": "bytes",
    "etag": etag,
    "last-modified": lastModified,
    "content-type": "application/octet-stream",
  };
  const head = request.method === "HEAD";
  const close = () => file.close();

  if (notModified(request, etag, mtime)) {
    close();
    return logged(
      new Response(null, { status: 304, headers: withoutBodyHeaders(headers) }),
      undefined,
    );
  }

  const rangeHeader = request.method === "GET" && rangeStillValid(request, etag, lastModified)
    ? request.headers.get("range")
    : null;
  const wanted = parseRange(rangeHeader, size);
  if (wanted.kind === "unsatisfiable") {
    close();
    return logged(
      plain(416, "Range Not Satisfiable", { "content-range": unsatisfiedRange(size) }),
      undefined,
    );
  }
  if (head) {
    close();
    return logged(
      new Response(null, { status: 200, headers: { ...headers, "content-length": String(size) } }),
      undefined,
    );
  }
  if (wanted.kind === "none" && size <= SMALL_FILE) {
    const bytes = new Uint8Array(size);
    let filled = 0;
    try {
      while (filled < size) {
        const count = await file.read(bytes.subarray(filled));
        if (count === null) break;
        filled += count;
      }
    } finally {
      close();
    }
    if (filled !== size) throw new Error("the file shrank while it was read");
    return logged(
      new Response(bytes, { status: 200, headers: { ...headers, "content-length": String(size) } }),
      undefined,
    );
  }
  if (wanted.kind === "none") {
    // The whole file: the handle's own stream, which Deno.serve copies without JS in between.
    return logged(
      new Response(file.readable, {
        status: 200,
        headers: { ...headers, "content-length": String(size) },
      }),
      undefined,
    );
  }
  if (wanted.ranges.length === 1) {
    const range = wanted.ranges[0]!;
    const rangeHeaders = {
      ...headers,
      "content-length": String(range.end - range.start + 1),
      "content-range": contentRange(range, size),
    };
    if (range.end === size - 1) {
      // A resumed download (`bytes=N-`): the handle's own stream from N, copied natively.
      await file.seek(range.start, Deno.SeekMode.Start);
      return logged(new Response(file.readable, { status: 206, headers: rangeHeaders }), undefined);
    }
    const body = rangeBody(file, [{ range, head: "" }], "");
    return logged(
      new Response(body.stream, {
        status: 206,
        headers: rangeHeaders,
      }),
      body,
    );
  }
  const boundary = `osimg-${crypto.randomUUID()}`;
  const layout = multipartLayout(wanted.ranges, size, headers["content-type"]!, boundary);
  const body = rangeBody(file, layout.parts, layout.tail);
  return logged(
    new Response(body.stream, {
      status: 206,
      headers: {
        ...headers,
        "content-type": `multipart/byteranges; boundary=${boundary}`,
        "content-length": String(layout.length),
      },
    }),
    body,
  );
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
