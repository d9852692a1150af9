// A signature's hashes (BLAKE2b-512 and SHA-256) of a stream, taken in a Worker while the main thread writes the stream.
//
// imgexport --sign must hash every byte of the bundle it writes. Inline, the two hashes cost
// ~1.8 s of main-thread CPU per 700 MB bundle here (+15% on imgexport); in a Worker they run
// beside the thread that tars and feeds the compressors. Started from embedded source through a
// Blob URL, as the SHA-256 and deflate Workers are, so it works in the single-file bundle.

import type { StreamDigests } from "./file_signature.ts";

const WORKER_SOURCE = `
import { createHash } from "node:crypto";
const blake2b = createHash("blake2b512");
const sha256 = createHash("sha256");
let size = 0;
self.onmessage = (event) => {
  const message = event.data;
  try {
    if (message.op === "update") {
      blake2b.update(message.data);
      sha256.update(message.data);
      size += message.data.byteLength;
      self.postMessage({ op: "ack", bytes: message.data.byteLength });
    } else {
      const digest = new Uint8Array(blake2b.digest());
      self.postMessage({ op: "digests", blake2b512: digest, sha256: sha256.digest("hex"), size });
    }
  } catch (error) {
    self.postMessage({ op: "error", error: String(error && error.message ? error.message : error) });
  }
};
`;

type WorkerAnswer =
  | { op: "ack"; bytes: number }
  | ({ op: "digests" } & StreamDigests)
  | { op: "error"; error: string };

/**
 * Hashes one stream in a Worker. `update` copies the chunk (the caller may reuse its buffer);
 * `ready()` holds the caller back while more than `limit` bytes wait, so memory stays bounded.
 *
 * @example
 * ```ts
 * const hasher = new PrehashWorker();
 * try {
 *   for await (const chunk of chunks) {
 *     hasher.update(chunk);
 *     await hasher.ready();
 *   }
 *   const { blake2b512, sha256, size } = await hasher.digests();
 * } finally {
 *   hasher.close();
 * }
 * ```
 */
export class PrehashWorker {
  readonly #limit: number;
  readonly #worker: Worker;
  readonly #url: string;
  #inFlight = 0;
  #failure: Error | undefined;
  #drained: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #result:
    | { resolve: (digests: StreamDigests) => void; reject: (error: Error) => void }
    | undefined;

  constructor(limit = 16 * 1024 * 1024) {
    this.#limit = limit;
    this.#url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    this.#worker = new Worker(this.#url, { type: "module", name: "osimg-prehash" });
    this.#worker.onmessage = (event: MessageEvent<WorkerAnswer>) => this.#answer(event.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail(new Error(`signature hash worker failed: ${event.message}`));
    };
  }

  update(chunk: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    if (chunk.byteLength === 0) return;
    const data = new Uint8Array(chunk);
    this.#inFlight += data.byteLength;
    this.#worker.postMessage({ op: "update", data }, [data.buffer]);
  }

  /** Resolves once no more than the limit waits in the Worker; rejects if it failed. */
  ready(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#inFlight <= this.#limit) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#drained = { resolve, reject };
    });
  }

  /** The digests of everything given to `update`. */
  digests(): Promise<StreamDigests> {
    return new Promise((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      this.#result = { resolve, reject };
      this.#worker.postMessage({ op: "end" });
    });
  }

  close(): void {
    this.#worker.terminate();
    URL.revokeObjectURL(this.#url);
    this.#fail(new Error("signature hash worker is closed"));
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
      case "digests":
        this.#result?.resolve({
          blake2b512: answer.blake2b512,
          sha256: answer.sha256,
          size: answer.size,
        });
        this.#result = undefined;
        return;
      case "error":
        this.#fail(new Error(`signature hash worker failed: ${answer.error}`));
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#drained?.reject(error);
    this.#drained = undefined;
    this.#result?.reject(error);
    this.#result = undefined;
  }
}
