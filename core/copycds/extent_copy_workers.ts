// Files copied out of an image file by Workers, one per core, each with its own descriptor of the image.
//
// Copying distro media is tens of thousands of file creations plus a gigabyte of page-cache
// copies: system-call bound, one core busy in bsdtar. Here every core creates and fills files
// (copy_file_range(2) through FFI, read/write where the kernel refuses the pair) while the main
// thread walks the tree and makes its directories. The Workers start from embedded source through
// a Blob URL, as the deflate and SHA-256 Workers do, so they work in the single-file bundle.

import { cpus } from "node:os";

const WORKER_SOURCE = `
import { closeSync, fchmodSync, futimesSync, openSync, readSync, writeSync } from "node:fs";
let copyFileRange = null;
try {
  const lib = Deno.dlopen("libc.so.6", {
    copy_file_range: { parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"], result: "isize" },
  });
  copyFileRange = lib.symbols.copy_file_range;
} catch {
  // No FFI (not allowed, or no glibc): read and write below.
}
const buffer = new Uint8Array(1024 * 1024);
let image = -1;

class CutShort extends Error {}

/** The kernel's copy of one extent; false when it refuses this pair before writing anything. */
function kernelCopy(offset, length, out) {
  const position = new BigInt64Array([BigInt(offset)]);
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, 1 << 30);
    const copied = Number(copyFileRange(image, position, out, null, BigInt(want), 0));
    if (copied < 0) {
      if (done === 0) return false;
      throw new CutShort("copy_file_range failed after " + done + " of " + length + " bytes");
    }
    if (copied === 0) throw new CutShort("the image ended " + (length - done) + " bytes short");
    done += copied;
  }
  return true;
}

function bufferedCopy(offset, length, out) {
  let done = 0;
  while (done < length) {
    const read = readSync(image, buffer, 0, Math.min(buffer.byteLength, length - done), offset + done);
    if (read === 0) throw new CutShort("the image ended " + (length - done) + " bytes short");
    let written = 0;
    while (written < read) written += writeSync(out, buffer, written, read - written);
    done += read;
  }
}

function copyFile(file) {
  // "wx" (O_EXCL): never lands on, or follows, anything already there.
  const out = openSync(file.host, "wx", 0o600);
  try {
    for (let at = 0; at < file.extents.length; at += 2) {
      const offset = file.extents[at], length = file.extents[at + 1];
      if (length === 0) continue;
      if (copyFileRange === null || !kernelCopy(offset, length, out)) {
        copyFileRange = null;
        bufferedCopy(offset, length, out);
      }
    }
    fchmodSync(out, file.mode);
    futimesSync(out, file.mtime, file.mtime);
  } finally {
    closeSync(out);
  }
}

self.onmessage = (event) => {
  const message = event.data;
  if (message.op === "open") {
    image = openSync(message.image, "r");
    return;
  }
  let current = null;
  try {
    for (const file of message.files) {
      current = file;
      copyFile(file);
    }
    self.postMessage({ op: "done", batch: message.batch });
  } catch (error) {
    self.postMessage({
      op: "failed",
      batch: message.batch,
      path: current ? current.path : "",
      cutShort: error instanceof CutShort,
      message: String(error && error.message ? error.message : error),
    });
  }
};
`;

/** One file for a Worker: where it goes, its extents in the image, its mode and time. */
export interface ExtentCopyFile {
  /** The path inside the media, for messages. */
  path: string;
  /** The absolute path to create (O_EXCL) in a directory that already exists. */
  host: string;
  /** [offset, length] pairs in the image, in order. */
  extents: number[];
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
}

/** Why a Worker could not copy a file: its path in the media and what the system said. */
export interface ExtentCopyFailure {
  path: string;
  /** The image ended, or the kernel stopped, before the file's extents did. */
  cutShort: boolean;
  message: string;
}

type WorkerAnswer =
  | { op: "done"; batch: number }
  | ({ op: "failed"; batch: number } & ExtentCopyFailure);

/** Files per message and bytes per message: enough to make a message cheap, few enough to share. */
const BATCH_FILES = 64;
const BATCH_BYTES = 8 * 1024 * 1024;
/** Messages waiting per Worker: one being copied, one ready behind it. */
const QUEUED_PER_WORKER = 2;

interface Pending {
  files: ExtentCopyFile[];
  bytes: number;
}

/**
 * A pool of copy Workers over one image file. `add` queues a file and waits while every Worker
 * has its fill of work; `finish` waits for every file and reports the first failure (if any),
 * after which nothing more is started. `close` stops the Workers.
 *
 * @example
 * ```ts
 * const pool = new ExtentCopyWorkers("/srv/media.iso", (bytes) => progress.advance(bytes));
 * try {
 *   for (const file of files) await pool.add(file, file.size);
 *   const failure = await pool.finish();
 *   if (failure) throw new Error(`${failure.path}: ${failure.message}`);
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export class ExtentCopyWorkers {
  readonly #url: string;
  readonly #workers: { worker: Worker; queued: number }[] = [];
  readonly #batches = new Map<number, { worker: number; bytes: number }>();
  readonly #copied: (bytes: number) => void;
  #pending: Pending = { files: [], bytes: 0 };
  #nextBatch = 0;
  #failure: ExtentCopyFailure | undefined;
  #wake: (() => void) | undefined;

  constructor(image: string, copied: (bytes: number) => void, workers = cpus().length) {
    this.#copied = copied;
    this.#url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    for (let index = 0; index < Math.max(1, workers); index++) {
      const worker = new Worker(this.#url, { type: "module", name: `osimg-copy-${index}` });
      worker.onmessage = (event: MessageEvent<WorkerAnswer>) => this.#answer(event.data);
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#fail({ path: "", cutShort: false, message: `copy worker failed: ${event.message}` });
      };
      worker.postMessage({ op: "open", image });
      this.#workers.push({ worker, queued: 0 });
    }
  }

  /** True once a file failed: the caller stops adding. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Queues one file of `bytes` bytes; resolves when the pool can take more. */
  async add(file: ExtentCopyFile, bytes: number): Promise<void> {
    this.#pending.files.push(file);
    this.#pending.bytes += bytes;
    if (this.#pending.files.length < BATCH_FILES && this.#pending.bytes < BATCH_BYTES) return;
    await this.#send();
  }

  /** Waits for every queued file; the first failure, or undefined when all were copied. */
  async finish(): Promise<ExtentCopyFailure | undefined> {
    if (this.#pending.files.length > 0 && !this.#failure) await this.#send();
    while (this.#batches.size > 0) await this.#changed();
    return this.#failure;
  }

  close(): void {
    for (const { worker } of this.#workers) worker.terminate();
    URL.revokeObjectURL(this.#url);
  }

  async #send(): Promise<void> {
    let index = this.#leastQueued();
    while (this.#workers[index]!.queued >= QUEUED_PER_WORKER && !this.#failure) {
      await this.#changed();
      index = this.#leastQueued();
    }
    if (this.#failure) return;
    const batch = this.#nextBatch++;
    const slot = this.#workers[index]!;
    slot.queued++;
    this.#batches.set(batch, { worker: index, bytes: this.#pending.bytes });
    slot.worker.postMessage({ op: "copy", batch, files: this.#pending.files });
    this.#pending = { files: [], bytes: 0 };
  }

  #leastQueued(): number {
    let best = 0;
    this.#workers.forEach((slot, index) => {
      if (slot.queued < this.#workers[best]!.queued) best = index;
    });
    return best;
  }

  #answer(answer: WorkerAnswer): void {
    const batch = this.#batches.get(answer.batch);
    if (!batch) return;
    this.#batches.delete(answer.batch);
    this.#workers[batch.worker]!.queued--;
    if (answer.op === "done") this.#copied(batch.bytes);
    else this.#fail({ path: answer.path, cutShort: answer.cutShort, message: answer.message });
    this.#signal();
  }

  #fail(failure: ExtentCopyFailure): void {
    this.#failure ??= failure;
    // A Worker that died answers nothing more: what it held is lost, not pending.
    if (failure.path === "") this.#batches.clear();
    this.#signal();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
