// Test fixture: a static HTTP server on loopback over a directory, logging each request.

import { posix } from "node:path";

/** A running server; dispose to stop it. */
export interface StaticServer extends AsyncDisposable {
  port: number;
  /** "GET /path 200" per request, in order. */
  log: string[];
}

/**
 * Serves the files under `dir` read-only on 127.0.0.1 (a free port). QEMU's user-mode network
 * reaches it from the guest as 10.0.2.2:<port>.
 */
export function serveDirectory(dir: string): StaticServer {
  const log: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const file = posix.join(dir, posix.normalize(path));
    try {
      const info = await Deno.stat(file);
      if (!info.isFile) throw new Deno.errors.NotFound();
      log.push(`${request.method} ${path} 200`);
      const handle = await Deno.open(file);
      return new Response(handle.readable, { headers: { "content-length": String(info.size) } });
    } catch {
      log.push(`${request.method} ${path} 404`);
      return new Response("not found\n", { status: 404 });
    }
  });
  return {
    port: server.addr.port,
    log,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}
