// Byte plumbing shared by the cpio and tar codecs: a pull reader over chunks, member bodies that
// must be read before the archive moves on, and an output batcher that yields ~1 MiB chunks.

import { IntegrityError, InvalidInputError } from "../../core/errors.ts";
import type { Entry, FileContent, SyncContent } from "./entry.ts";

const EMPTY = new Uint8Array(0);

/**
 * Pulls bytes from an async chunk source on demand. Views it returns may alias the source's
 * chunks, so a source must not mutate a chunk after yielding it (streams and file readers
 * yield fresh buffers).
 */
export class ChunkReader {
  #source: AsyncIterator<Uint8Array>;
  #chunk: Uint8Array = EMPTY;
  #offset = 0;
  #ended = false;
  /** Bytes consumed so far: archive offsets in error messages. */
  position = 0;

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.#source = chunks[Symbol.asyncIterator]();
  }

  /** True when bytes are available in the current chunk; false only at the end of the source. */
  async #fill(): Promise<boolean> {
    while (this.#offset >= this.#chunk.byteLength) {
      if (this.#ended) return false;
      const next = await this.#source.next();
      if (next.done) {
        this.#ended = true;
        this.#chunk = EMPTY;
        this.#offset = 0;
        return false;
      }
      this.#chunk = next.value;
      this.#offset = 0;
    }
    return true;
  }

  /**
   * Reads `length` bytes; returns fewer only when the source ends first. The result is a view
   * into the source chunk when it lies within one (no copy), else a fresh copy.
   */
  async read(length: number): Promise<Uint8Array> {
    if (!await this.#fill()) return EMPTY;
    const available = this.#chunk.byteLength - this.#offset;
    if (available >= length) {
      const view = this.#chunk.subarray(this.#offset, this.#offset + length);
      this.#offset += length;
      this.position += length;
      return view;
    }
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length && await this.#fill()) {
      const take = Math.min(length - filled, this.#chunk.byteLength - this.#offset);
      out.set(this.#chunk.subarray(this.#offset, this.#offset + take), filled);
      this.#offset += take;
      this.position += take;
      filled += take;
    }
    return filled === length ? out : out.subarray(0, filled);
  }

  /** Up to `max` bytes from the current chunk without copying; undefined at the end. */
  async readSome(max: number): Promise<Uint8Array | undefined> {
    if (!await this.#fill()) return undefined;
    const take = Math.min(max, this.#chunk.byteLength - this.#offset);
    const view = this.#chunk.subarray(this.#offset, this.#offset + take);
    this.#offset += take;
    this.position += take;
    return view;
  }

  /** Skips `length` bytes; returns how many were skipped (fewer only at the end). */
  async skip(length: number): Promise<number> {
    let skipped = 0;
    while (skipped < length && await this.#fill()) {
      const take = Math.min(length - skipped, this.#chunk.byteLength - this.#offset);
      this.#offset += take;
      this.position += take;
      skipped += take;
    }
    return skipped;
  }

  /**
   * Consumes the rest of the source and returns the offset of its first non-zero byte, or
   * undefined when everything left is zero (the padding writers add after an end marker).
   */
  async firstNonZeroInRest(): Promise<number | undefined> {
    while (await this.#fill()) {
      const view = this.#chunk.subarray(this.#offset);
      const index = view.findIndex((byte) => byte !== 0);
      if (index >= 0) return this.position + index;
      this.#offset += view.byteLength;
      this.position += view.byteLength;
    }
    return undefined;
  }
}

/**
 * The body of one archive member as a FileContent that streams straight from the archive. It
 * can be opened once, and only until `finish()` moves the reader past it.
 */
export class MemberBody {
  readonly content: FileContent;
  #reader: ChunkReader;
  #remaining: number;
  #opened = false;
  #finished = false;
  #describe: () => string;

  /** `describe` names the member for messages ("member \"usr/bin/ls\" at offset 512"). */
  constructor(reader: ChunkReader, size: number, describe: () => string) {
    this.#reader = reader;
    this.#remaining = size;
    this.#describe = describe;
    this.content = { size, open: () => this.#open() };
  }

  async *#open(): AsyncGenerator<Uint8Array> {
    if (this.#opened || this.#finished) {
      throw new Error(
        `Cannot read ${this.#describe()}: its content can be read once, before the next entry`,
      );
    }
    this.#opened = true;
    while (this.#remaining > 0) {
      const chunk = await this.#reader.readSome(Math.min(this.#remaining, 1 << 24));
      if (chunk === undefined) throw this.#truncated();
      this.#remaining -= chunk.byteLength;
      yield chunk;
      if (this.#finished) {
        throw new Error(`Cannot read ${this.#describe()}: the archive has moved past it`);
      }
    }
  }

  #truncated(): IntegrityError {
    return new IntegrityError(
      `Truncated archive: ${this.#describe()} ends after ${
        this.content.size - this.#remaining
      } of ${this.content.size} bytes`,
    );
  }

  /** Skips whatever the consumer did not read; throws IntegrityError when the archive is short. */
  async finish(): Promise<void> {
    this.#finished = true;
    if (this.#remaining > 0) {
      const want = this.#remaining;
      const skipped = await this.#reader.skip(want);
      this.#remaining -= skipped;
      if (skipped < want) throw this.#truncated();
    }
  }
}

/** Output chunk size: big enough to keep per-chunk overhead (compression workers, pipes) low. */
export const BATCH_SIZE = 1 << 20;
/** Content chunks at least this big are passed through as they are instead of copied. */
const PASS_THROUGH = 64 << 10;

/** Output chunks that are a whole BATCH_SIZE buffer of their own, written by nobody else. */
const wholeBatches = new WeakSet<Uint8Array>();

/**
 * BATCH_SIZE buffers given back (the deflate Workers return the blocks they were sent), reused
 * for new batches: a fresh 1 MiB buffer costs 256 page faults on its first write, which made
 * reading a 200 MB tree into fresh buffers take ~1.5-2x as long as into reused ones.
 */
const spareBatches: Uint8Array<ArrayBuffer>[] = [];
const SPARE_LIMIT = 16;

/** A BATCH_SIZE buffer of its own: a spare one when there is one (its old bytes are left). */
export function batchBuffer(): Uint8Array<ArrayBuffer> {
  return spareBatches.pop() ?? new Uint8Array(BATCH_SIZE);
}

/**
 * Gives back a BATCH_SIZE buffer nobody else refers to (one transferred back from a Worker),
 * for batchBuffer to hand out again. Other buffers, and one already given back, are ignored.
 */
export function recycleBatch(buffer: Uint8Array<ArrayBuffer>): void {
  if (
    buffer.byteLength === BATCH_SIZE && buffer.byteOffset === 0 &&
    buffer.buffer.byteLength === BATCH_SIZE && spareBatches.length < SPARE_LIMIT &&
    !spareBatches.includes(buffer)
  ) {
    spareBatches.push(buffer);
  }
}

/**
 * True for a chunk an OutputBatcher yielded as one whole buffer of BATCH_SIZE bytes: nothing
 * else refers to its memory, so a consumer may take it (transfer it to a Worker) without a copy.
 */
export function isWholeBatch(chunk: Uint8Array): boolean {
  return wholeBatches.has(chunk);
}

/**
 * Collects headers, padding and small content chunks into ~1 MiB output chunks. A finished
 * chunk is never written again, so consumers may keep (or transfer) what they are given.
 */
export class OutputBatcher {
  #buffer: Uint8Array = batchBuffer();
  #used = 0;
  #ready: Uint8Array[] = [];
  #total = 0;

  /** Bytes written so far, in all chunks. */
  get total(): number {
    return this.#total;
  }

  /** Returns a zero-filled view of `length` bytes in the output to write a header into. */
  reserve(length: number): Uint8Array {
    // Zeroed here: a reused buffer still holds an earlier stream's bytes.
    return this.#space(length).fill(0);
  }

  /** The next `length` bytes of the output, as they are (the caller overwrites all of them). */
  #space(length: number): Uint8Array {
    if (this.#used + length > this.#buffer.byteLength) {
      this.#flush();
      if (length > this.#buffer.byteLength) this.#buffer = new Uint8Array(length);
    }
    const view = this.#buffer.subarray(this.#used, this.#used + length);
    this.#used += length;
    this.#total += length;
    return view;
  }

  /**
   * Appends content bytes: copied when small; when big, passed through as they are (a view of
   * the caller's chunk) once the open chunk is full.
   */
  push(bytes: Uint8Array): void {
    let rest = bytes;
    if (rest.byteLength >= PASS_THROUGH && this.#used > 0) {
      // Top up the open chunk first, so it goes out full instead of as a sliver (a header or
      // two) before the big data: consumers get ~1 MiB chunks or big content chunks, no crumbs.
      const take = Math.min(this.#buffer.byteLength - this.#used, rest.byteLength);
      this.#space(take).set(rest.subarray(0, take));
      rest = rest.subarray(take);
      if (rest.byteLength === 0) return;
      this.#flush();
    }
    if (rest.byteLength < PASS_THROUGH) {
      this.#space(rest.byteLength).set(rest);
      return;
    }
    this.#ready.push(rest);
    this.#total += rest.byteLength;
  }

  /**
   * Reads `size` content bytes from `source` straight into the output (no copy); yields each
   * chunk as it fills and returns how many bytes the source gave (less when it ended early).
   */
  *readFrom(source: SyncContent, size: number): Generator<Uint8Array, number> {
    let written = 0;
    while (written < size) {
      if (this.#used === this.#buffer.byteLength) {
        this.#flush();
        yield* this.take();
      }
      const room = Math.min(this.#buffer.byteLength - this.#used, size - written);
      const count = source.read(this.#buffer.subarray(this.#used, this.#used + room));
      if (count === 0) break;
      this.#used += count;
      this.#total += count;
      written += count;
    }
    return written;
  }

  #flush(refill = true): void {
    if (this.#used === 0) return;
    const chunk = this.#buffer.subarray(0, this.#used);
    if (this.#used === BATCH_SIZE && this.#buffer.byteLength === BATCH_SIZE) {
      wholeBatches.add(chunk);
    }
    this.#ready.push(chunk);
    // After the final chunk nothing more is written: no new buffer for it.
    this.#buffer = refill ? batchBuffer() : EMPTY;
    this.#used = 0;
  }

  /** Chunks complete so far (and, with `final`, the partial one); the caller yields them. */
  take(final = false): Uint8Array[] {
    if (final) {
      if (this.#used === 0) recycleBatch(this.#buffer as Uint8Array<ArrayBuffer>);
      this.#flush(false);
      this.#buffer = EMPTY;
    }
    const ready = this.#ready;
    this.#ready = [];
    return ready;
  }

  /** True when chunks are ready to be yielded. */
  get hasReady(): boolean {
    return this.#ready.length > 0;
  }
}

/**
 * Writes a file's content (exactly its declared size) into `batcher`, yielding the chunks that
 * fill: straight from the file when the content can be read synchronously, else chunk by chunk.
 * A content that gives more or fewer bytes than it declared fails (contentSizeError).
 */
export async function* writeContent(
  batcher: OutputBatcher,
  content: FileContent,
  path: string,
): AsyncGenerator<Uint8Array> {
  const size = content.size;
  if (content.openSync) {
    using source = content.openSync();
    const written = yield* batcher.readFrom(source, size);
    if (written !== size) throw contentSizeError(path, written, size);
    source.finish();
    return;
  }
  let written = 0;
  for await (const chunk of content.open()) {
    written += chunk.byteLength;
    if (written > size) break;
    batcher.push(chunk);
    if (batcher.hasReady) yield* batcher.take();
  }
  if (written !== size) throw contentSizeError(path, written, size);
}

/**
 * The error for a FileContent that yielded more or fewer bytes than it declared (a file that
 * grows or shrinks while being packed must not corrupt the archive).
 */
export function contentSizeError(path: string, written: number, size: number): IntegrityError {
  const what = written > size
    ? `is larger than its declared ${size} bytes`
    : `ended after ${written} of its declared ${size} bytes`;
  return new IntegrityError(
    `Cannot pack "${path}": its content ${what} (did the file change while being packed?)`,
  );
}

/**
 * Refuses an entry whose name or link target no archive can carry: empty, or holding a NUL
 * (cpio and tar names are C strings; a NUL would silently cut the name).
 */
export function checkEntryNames(entry: Entry, format: string): void {
  const bad = (value: string) => value === "" || value.includes("\0");
  if (bad(entry.path)) {
    throw new InvalidInputError(
      `Cannot write entry ${
        JSON.stringify(entry.path)
      } as ${format}: the name is empty or holds a NUL`,
    );
  }
  if ((entry.kind === "symlink" || entry.kind === "hardlink") && bad(entry.target)) {
    throw new InvalidInputError(
      `Cannot write link "${entry.path}" as ${format}: its target ${
        JSON.stringify(entry.target)
      } is empty or holds a NUL`,
    );
  }
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a name; ASCII (nearly every path in a root) skips the encoder call. */
export function utf8(text: string): Uint8Array {
  const length = text.length;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return encoder.encode(text);
    out[i] = code;
  }
  return out;
}

/** Strict UTF-8 decoder: archive names that are not UTF-8 are reported, not mangled. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes bytes as UTF-8, or throws IntegrityError naming `what`. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new IntegrityError(`${what} is not valid UTF-8`);
  }
}

/**
 * Normalises a member name read from an archive to Entry.path form: "./x" -> "x", "./" and "."
 * -> ".", a trailing "/" dropped. Anything else is kept verbatim ("../x", "/abs"), so the
 * extractor sees hostile names as they are.
 */
export function normaliseMemberPath(name: string): string {
  let path = name;
  if (path.startsWith("./")) path = path.slice(2);
  while (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  return path === "" || path === "." ? "." : path;
}
