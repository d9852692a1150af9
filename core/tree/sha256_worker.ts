// SHA-256 in a Worker, so reading a bundle hashes its members on the second core while this
// thread inflates and writes them.
//
// On CPUs without SHA extensions node:crypto hashes at ~150-330 MB/s; hashing inline made
// imgimport of a 2 GB bundle spend 6 of its 13.5 s hashing on the one thread that also inflates
// and writes. The Worker is started from embedded source through a Blob URL (as the deflate
// Workers are), so it works in the single-file bundle; it imports only node:crypto.

const WORKER_SOURCE = `
import { createHash } from "node:crypto";
const hashes = new Map();
self.onmessage = (event) => {
  const message = event.data;
  try {
    if (message.op === "update") {
      let hash = hashes.get(message.id);
      if (!hash) {
        hash = createHash("sha256");
        hashes.set(message.id, hash);
      }
      hash.update(message.data);
      self.postMessage({ op: "ack", bytes: message.data.byteLength });
    } else {
      const hash = hashes.get(message.id) ?? createHash("sha256");
      hashes.delete(message.id);
      self.postMessage({ op: "digest", id: message.id, sha256: hash.digest("hex") });
    }
  } catch (error) {
    self.postMessage({ op: "error", error: String(error && error.message ? error.message : error) });
  }
};
`;

type WorkerAnswer =
  | { op: "ack"; bytes: number }
  | { op: "digest"; id: number; sha256: string }
  | { op: "error"; error: string };

/** One stream being hashed: feed it chunks in order, then ask for the digest once. */
export interface Sha256Stream {
  update(chunk: Uint8Array): void;
  digest(): Promise<string>;
}

/**
 * Hashes any number of streams in one Worker, in the order their chunks are given. Chunks are
 * copied when given, so the caller may reuse its buffers at once. `ready()` holds the caller
 * back while more than `limit` bytes wait in the Worker: memory stays bounded whatever the
 * stream's size.
 *
 * @example
 * ```ts
 * const hasher = new Sha256Worker();
 * try {
 *   const stream = hasher.stream();
 *   for await (const chunk of chunks) {
 *     stream.update(chunk);
 *     await hasher.ready();
 *   }
 *   console.log(await stream.digest());
 * } finally {
 *   hasher.close();
 * }
 * ```
 */
export class Sha256Worker {
  readonly #limit: number;
  #worker: Worker | undefined;
  #url: string | undefined;
  #nextId = 0;
  #inFlight = 0;
  #failure: Error | undefined;
  #closed = false;
  readonly #digests = new Map<
    number,
    { resolve: (sha256: string) => void; reject: (error: Error) => void }
  >();
  #drained: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(limit = 16 * 1024 * 1024) {
    this.#limit = limit;
  }

  stream(): Sha256Stream {
    const id = this.#nextId++;
    let finished = false;
    return {
      update: (chunk) => {
        if (finished) throw new Error("SHA-256 stream already finished");
        this.#check();
        if (chunk.byteLength === 0) return;
        // A copy with its own buffer (a node Buffer's slice() would share, and be detached).
        const data = new Uint8Array(chunk);
        this.#inFlight += data.byteLength;
        this.#start().postMessage({ op: "update", id, data }, [data.buffer]);
      },
      digest: () => {
        finished = true;
        return new Promise<string>((resolve, reject) => {
          if (this.#failure) return reject(this.#failure);
          this.#digests.set(id, { resolve, reject });
          this.#start().postMessage({ op: "end", id });
        });
      },
    };
  }

  /** Resolves once no more than the limit waits in the Worker; rejects if the Worker failed. */
  ready(): Promise<void> {
    this.#check();
    if (this.#inFlight <= this.#limit) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#drained = { resolve, reject };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker?.terminate();
    if (this.#url !== undefined) URL.revokeObjectURL(this.#url);
    this.#fail(new Error("SHA-256 worker is closed"));
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    this.#url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    const worker = new Worker(this.#url, { type: "module", name: "osimg-sha256" });
    worker.onmessage = (event: MessageEvent<WorkerAnswer>) => this.#answer(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail(new Error(`SHA-256 worker failed: ${event.message}`));
    };
    this.#worker = worker;
    return worker;
  }

  #answer(answer: WorkerAnswer): void {
    switch (answer.op) {
      case "ack":
        this.#inFlight -= answer.bytes;
        if (this.#drained && this.#inFlight <= this.#limit / 2) {
          const drained = this.#drained;
          this.#drained = undefined;
          drained.resolve();
        }
        return;
      case "digest": {
        const pending = this.#digests.get(answer.id);
        this.#digests.delete(answer.id);
        pending?.resolve(answer.sha256);
        return;
      }
      case "error":
        this.#fail(new Error(`SHA-256 worker failed: ${answer.error}`));
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const pending of this.#digests.values()) pending.reject(error);
    this.#digests.clear();
    this.#drained?.reject(error);
    this.#drained = undefined;
  }
}
