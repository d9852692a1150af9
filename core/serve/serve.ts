// `osimg serve`: the install and tftp trees published read-only over HTTP and TFTP, in the
// foreground, until SIGTERM or SIGINT lets the transfers in flight finish.

import { type Context, hostPathOf, installDir, tftpDir } from "../context.ts";
import { ConflictError, InvalidInputError, OsimgError, UsageError } from "../errors.ts";
import { type AccessLog, openAccessLog } from "./access_log.ts";
import { type HttpServer, startHttpServer } from "./http_server.ts";
import type { ServedTree } from "./served_trees.ts";
import { BindError, startTftpServer, type TftpServer } from "./tftp_server.ts";

/** An address to listen on. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** What `osimg serve` was asked to do. */
export interface ServeOptions {
  /** undefined: no HTTP server. */
  http?: ListenAddress;
  /** undefined: no TFTP server. */
  tftp?: ListenAddress;
  /** The access log file (the user's path), `-` for stdout; undefined: no log. */
  accessLog?: string;
  /** TFTP's retransmission timeout without a negotiated one (ms). */
  tftpTimeoutMs?: number;
}

/** The servers of one `osimg serve`. */
export interface RunningServe {
  http?: HttpServer;
  tftp?: TftpServer;
  /** The trees served: installdir and tftpdir. */
  trees: readonly ServedTree[];
  /** Stops taking requests, finishes the transfers in flight, flushes the log. */
  stop(): Promise<void>;
}

/**
 * Parses `ADDR:PORT` (`[v6]:PORT` for IPv6, `:PORT` or `PORT` for every address), or `off`.
 *
 * @example
 * ```ts
 * parseListenAddress("--http", "127.0.0.1:8080"); // { hostname: "127.0.0.1", port: 8080 }
 * ```
 */
export function parseListenAddress(flag: string, text: string): ListenAddress | undefined {
  if (text === "off") return undefined;
  const colon = text.lastIndexOf(":");
  let host = colon < 0 ? "" : text.slice(0, colon);
  const portText = colon < 0 ? text : text.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port <= 65535) || /[\s/\[\]]/.test(host)) {
    throw new UsageError(
      `serve: ${flag} '${text}' is not ADDR:PORT (e.g. 0.0.0.0:80, [::]:80, :8080) or 'off'.`,
    );
  }
  return { hostname: host || "0.0.0.0", port };
}

/** The trees served: site.installdir at its own path (/install), site.tftpdir at /tftpboot. */
export async function servedTrees(ctx: Pick<Context, "root" | "store">): Promise<ServedTree[]> {
  const store = await ctx.store();
  const trees: ServedTree[] = [];
  for (const dir of [await installDir(store), await tftpDir(store)]) {
    // The URL path is the management path: xCAT's imgurl and iPXE scripts name files by it.
    trees.push({ prefix: dir.split("/").filter(Boolean), dir: hostPathOf(ctx, dir) });
  }
  return trees;
}

/**
 * Starts the servers. A port that is taken or privileged is one clear error, and whatever had
 * started is stopped again.
 *
 * @example
 * ```ts
 * const running = await startServe(ctx, { http: { hostname: "127.0.0.1", port: 0 } });
 * await running.stop();
 * ```
 */
export async function startServe(
  ctx: Pick<Context, "root" | "store">,
  options: ServeOptions,
): Promise<RunningServe> {
  if (!options.http && !options.tftp) {
    throw new UsageError("serve: both --http and --tftp are 'off'; there is nothing to serve.");
  }
  const trees = await servedTrees(ctx);
  let log: AccessLog | undefined;
  if (options.accessLog !== undefined) {
    try {
      log = await openAccessLog(options.accessLog);
    } catch (error) {
      throw new InvalidInputError(
        `Cannot open the access log '${options.accessLog}': ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  let http: HttpServer | undefined;
  let tftp: TftpServer | undefined;
  try {
    if (options.http) {
      try {
        http = startHttpServer({ ...options.http, trees, log });
      } catch (error) {
        throw listenError("HTTP", "TCP", options.http, error);
      }
    }
    if (options.tftp) {
      try {
        tftp = await startTftpServer({
          ...options.tftp,
          tree: trees[1]!,
          log,
          timeoutMs: options.tftpTimeoutMs,
        });
      } catch (error) {
        throw listenError("TFTP", "UDP", options.tftp, error);
      }
    }
  } catch (error) {
    await http?.shutdown();
    await log?.close();
    throw error;
  }
  return {
    http,
    tftp,
    trees,
    async stop() {
      await Promise.all([http?.shutdown(), tftp?.shutdown()]);
      await log?.close();
    },
  };
}

/** The one-line error of a listen that failed (exported for its test). */
export function listenError(
  service: string,
  protocol: string,
  address: ListenAddress,
  error: unknown,
): OsimgError {
  const where = `${address.hostname}:${address.port}`;
  const code = error instanceof BindError ? error.code : undefined;
  if (error instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") {
    return new ConflictError(
      `Cannot serve ${service} on ${where}: the ${protocol} port is already in use ` +
        `(another server is running; stop it or choose another port).`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.PermissionDenied || code === "EACCES") {
    return new OsimgError(
      `Cannot serve ${service} on ${where}: permission denied (ports below 1024 need root ` +
        `or CAP_NET_BIND_SERVICE).`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable || code === "EADDRNOTAVAIL") {
    return new InvalidInputError(
      `Cannot serve ${service} on ${where}: this machine has no such address.`,
      { cause: error },
    );
  }
  return new OsimgError(`Cannot serve ${service} on ${where}: ${(error as Error).message}`, {
    cause: error,
  });
}

/**
 * Runs the servers in the foreground: reports where they listen, then waits for SIGTERM or
 * SIGINT, stops taking new connections and requests, lets the transfers in flight finish and
 * returns.
 */
export async function serveUntilSignalled(ctx: Context, options: ServeOptions): Promise<void> {
  const running = await startServe(ctx, options);
  const [install, tftpboot] = running.trees;
  if (running.http) {
    const { hostname, port } = running.http.address;
    ctx.reporter.info(
      `Serving HTTP on ${hostname}:${port}: /${install!.prefix.join("/")} from ${install!.dir}, ` +
        `/${tftpboot!.prefix.join("/")} from ${tftpboot!.dir}`,
    );
  }
  if (running.tftp) {
    const { hostname, port } = running.tftp.address;
    ctx.reporter.info(`Serving TFTP on ${hostname}:${port} from ${tftpboot!.dir}`);
  }
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  let stopping: Promise<void> | undefined;
  let onSignal = () => {};
  const stopped = new Promise<void>((resolve) => {
    onSignal = () => {
      if (stopping) return;
      ctx.reporter.info("Stopping: finishing the transfers in flight");
      stopping = running.stop().then(resolve);
    };
  });
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  try {
    await stopped;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
}
