// The access log of `osimg serve`: one line per HTTP request or TFTP transfer, in the Combined
// Log Format plus the duration, buffered so that logging never waits on the disk per request.

/** What one request or transfer did. */
export interface AccessRecord {
  /** The client's address. */
  remote: string;
  /** When the request arrived. */
  time: Date;
  /** The request line: `GET /install/x HTTP/1.1`, or for TFTP `RRQ xcat/xnba.kpxe octet`. */
  request: string;
  /** HTTP status; for TFTP the HTTP status of the outcome (200, 403, 404, 408 timed out). */
  status: number;
  /** Body bytes actually sent (fewer than promised when the client went away). */
  bytes: number;
  referer?: string;
  userAgent?: string;
  /** Milliseconds from the request to the last byte. */
  durationMs: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * One log line: `10.0.0.5 - - [06/Nov/2024:08:49:37 +0000] "GET /tftpboot/x HTTP/1.1" 200 1234
 * "-" "iPXE/1.21.1" 3` (the Combined Log Format, times in UTC, then the duration in ms).
 * Quotes, backslashes and control characters a client sent are escaped, so a line is one line.
 *
 * @example
 * ```ts
 * formatAccessLine({ remote: "10.0.0.5", time: new Date(0), request: "GET / HTTP/1.1",
 *   status: 404, bytes: 0, durationMs: 1 });
 * ```
 */
export function formatAccessLine(record: AccessRecord): string {
  const t = record.time;
  const two = (value: number) => String(value).padStart(2, "0");
  const stamp = `${two(t.getUTCDate())}/${MONTHS[t.getUTCMonth()]}/${t.getUTCFullYear()}:` +
    `${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())} +0000`;
  return `${record.remote} - - [${stamp}] "${escape(record.request)}" ${record.status} ` +
    `${record.bytes} "${escape(record.referer ?? "-")}" "${escape(record.userAgent ?? "-")}" ` +
    `${Math.round(record.durationMs)}\n`;
}

/** Control characters a client may send in a path or a header (escaped in the log). */
// deno-lint-ignore no-control-regex
const LOG_UNSAFE = /[\\"\x00-\x1f\x7f]/g;

function escape(text: string): string {
  return text.replace(
    LOG_UNSAFE,
    (char) =>
      char === "\\" || char === '"'
        ? `\\${char}`
        : `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** Where log text goes: a file opened for appending, or standard output. */
export interface LogSink {
  write(bytes: Uint8Array): Promise<number>;
  close?(): void;
}

/** Buffers log lines and writes them in batches, in order. */
export class AccessLog {
  readonly #sink: LogSink;
  readonly #encoder = new TextEncoder();
  #pending: string[] = [];
  #pendingLength = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(sink: LogSink) {
    this.#sink = sink;
  }

  /** Adds a record; it reaches the sink within a fraction of a second. */
  add(record: AccessRecord): void {
    const line = formatAccessLine(record);
    this.#pending.push(line);
    this.#pendingLength += line.length;
    if (this.#pendingLength >= 1 << 16) this.#flushNow();
    else this.#timer ??= setTimeout(() => this.#flushNow(), 100);
  }

  #flushNow(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const bytes = this.#encoder.encode(this.#pending.join(""));
    this.#pending = [];
    this.#pendingLength = 0;
    this.#writing = this.#writing.then(async () => {
      let offset = 0;
      while (offset < bytes.length) offset += await this.#sink.write(bytes.subarray(offset));
    }).catch(() => {
      // A full disk or a closed pipe must not stop the server; the lines are lost.
    });
  }

  /** Writes what is buffered and waits for it. */
  async flush(): Promise<void> {
    this.#flushNow();
    await this.#writing;
  }

  /** Flushes and closes the sink. */
  async close(): Promise<void> {
    await this.flush();
    this.#sink.close?.();
  }
}

/**
 * The access log `--access-log` names: a file (the user's own path, appended to, created 0644)
 * or `-` for standard output.
 */
export async function openAccessLog(path: string): Promise<AccessLog> {
  // Standard output is written to, never closed.
  if (path === "-") return new AccessLog({ write: (bytes) => Deno.stdout.write(bytes) });
  const file = await Deno.open(path, { write: true, append: true, create: true, mode: 0o644 });
  return new AccessLog(file);
}
