// A squashfs image's paths summarized from one streamed `unsquashfs -pf` run: the listing, then every file's bytes hashed in passing, nothing extracted.

import { ChunkReader } from "../../formats/archive/archive_stream.ts";
import {
  parsePseudoLine,
  PSEUDO_DATA_MARKER,
  type PseudoDefinition,
} from "../../formats/archive/squashfs_pseudo.ts";
import { IntegrityError } from "../errors.ts";
import { toolReason } from "../compress/compress.ts";
import { runFilter } from "../compress/external_filter.ts";
import type { ProcessRunner } from "../process.ts";
import type { Sha256Worker } from "../tree/sha256_worker.ts";
import { hashContent, type PathSummary } from "./path_summary.ts";

const MARKER = new TextEncoder().encode(`\n${PSEUDO_DATA_MARKER}`);

/** A growing byte buffer for the listing part of the stream. */
class ByteBuffer {
  #bytes = new Uint8Array(64 * 1024);
  length = 0;

  append(chunk: Uint8Array): void {
    if (this.length + chunk.byteLength > this.#bytes.byteLength) {
      const grown = new Uint8Array(
        Math.max(this.#bytes.byteLength * 2, this.length + chunk.byteLength),
      );
      grown.set(this.#bytes.subarray(0, this.length));
      this.#bytes = grown;
    }
    this.#bytes.set(chunk, this.length);
    this.length += chunk.byteLength;
  }

  /** The offset of `needle` at or after `from`, or -1. */
  indexOf(needle: Uint8Array, from: number): number {
    const bytes = this.#bytes;
    const last = this.length - needle.byteLength;
    outer: for (let index = Math.max(0, from); index <= last; index++) {
      for (let offset = 0; offset < needle.byteLength; offset++) {
        if (bytes[index + offset] !== needle[offset]) continue outer;
      }
      return index;
    }
    return -1;
  }

  slice(start: number, end: number): Uint8Array {
    return this.#bytes.subarray(start, end);
  }
}

/** Parses the listing's lines, joining a line with the next when a name held a newline. */
function parseListing(text: string, label: string): PseudoDefinition[] {
  const definitions: PseudoDefinition[] = [];
  let pending: string | undefined;
  for (const line of text.split("\n")) {
    const candidate = pending === undefined ? line : `${pending}\n${line}`;
    const definition = parsePseudoLine(candidate);
    if (definition) {
      definitions.push(definition);
      pending = undefined;
    } else pending = candidate;
  }
  if (pending !== undefined) {
    throw new IntegrityError(
      `Cannot read the squashfs listing of ${label}: the line ${
        JSON.stringify(pending.slice(0, 200))
      } is not a pseudo file definition`,
    );
  }
  return definitions;
}

/**
 * The summaries of every path in the squashfs image at `hostPath`, read from `unsquashfs -pf`
 * (squashfs-tools 4.5+): its listing gives type, mode, owner, link target, device numbers and
 * hard links; its data section, read once in offset order, gives each file's SHA-256. Memory
 * holds the listing, never a file. The listing carries no xattrs.
 */
export async function summarizeSquashfs(
  runner: ProcessRunner,
  hostPath: string,
  label: string,
  hasher?: Sha256Worker,
): Promise<Map<string, PathSummary>> {
  const argv = ["unsquashfs", "-no-progress", "-pf", "/dev/stdout", hostPath];
  const output = runFilter(
    runner,
    argv,
    (async function* () {})(),
    (_argv, code, stderr) =>
      new IntegrityError(
        `Cannot read the squashfs image ${label}: unsquashfs failed (${
          toolReason(stderr) || `exit status ${code}`
        })`,
      ),
  );
  const iterator = output[Symbol.asyncIterator]();
  const head = new ByteBuffer();
  let markerAt = -1;
  let rest: Uint8Array | undefined;
  try {
    while (markerAt < 0) {
      const next = await iterator.next();
      if (next.done) {
        throw new IntegrityError(
          `Cannot read the squashfs image ${label}: unsquashfs -pf ended before its data section`,
        );
      }
      const searchFrom = head.length - MARKER.byteLength;
      head.append(next.value);
      markerAt = head.indexOf(MARKER, searchFrom);
      if (markerAt >= 0) rest = head.slice(markerAt + MARKER.byteLength, head.length).slice();
    }
    const definitions = parseListing(
      new TextDecoder().decode(head.slice(0, markerAt)),
      label,
    );
    const data = new ChunkReader((async function* () {
      if (rest!.byteLength > 0) yield rest!;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    })());
    const summaries = new Map<string, PathSummary>();
    const files = definitions.filter((definition) => definition.kind === "file")
      .sort((a, b) => a.offset - b.offset);
    // Files whose data squashfs stored once share an offset: hashed once.
    const byOffset = new Map<string, { size: number; sha256: string }>();
    for (const file of files) {
      const key = `${file.offset}:${file.size}`;
      let digest = byOffset.get(key);
      if (!digest) {
        if (file.offset < data.position) {
          throw new IntegrityError(
            `Cannot read the squashfs image ${label}: the data of "${file.path}" overlaps another file's`,
          );
        }
        if (await data.skip(file.offset - data.position) < file.offset - data.position) {
          throw truncated(label, file.path);
        }
        digest = await hashContent(
          bytesOf(data, file.size, label, file.path),
          file.size,
          file.path,
          hasher,
        );
        byOffset.set(key, digest);
      }
      summaries.set(file.path, {
        type: "file",
        mode: file.mode,
        uid: file.uid,
        gid: file.gid,
        size: digest.size,
        sha256: digest.sha256,
      });
    }
    for (const definition of definitions) {
      switch (definition.kind) {
        case "file":
        case "socket":
          break;
        case "hardlink": {
          const first = summaries.get(definition.target);
          if (first?.type !== "file") {
            throw new IntegrityError(
              `Cannot read the squashfs image ${label}: the hard link "${definition.path}" names "${definition.target}", which is not a file`,
            );
          }
          summaries.set(definition.path, { ...first, hardlink: definition.target });
          break;
        }
        case "dir":
        case "fifo":
          summaries.set(definition.path, {
            type: definition.kind,
            mode: definition.mode,
            uid: definition.uid,
            gid: definition.gid,
          });
          break;
        case "symlink":
          summaries.set(definition.path, {
            type: "symlink",
            mode: definition.mode,
            uid: definition.uid,
            gid: definition.gid,
            target: definition.target,
          });
          break;
        case "chardev":
        case "blockdev":
          summaries.set(definition.path, {
            type: definition.kind,
            mode: definition.mode,
            uid: definition.uid,
            gid: definition.gid,
            device: `${definition.devmajor},${definition.devminor}`,
          });
          break;
      }
    }
    // Read to the end, so unsquashfs's exit status is judged.
    while (await data.readSome(1 << 20) !== undefined);
    return summaries;
  } finally {
    await iterator.return?.(undefined);
  }
}

function truncated(label: string, path: string): IntegrityError {
  return new IntegrityError(
    `Cannot read the squashfs image ${label}: unsquashfs -pf ended inside the data of "${path}"`,
  );
}

async function* bytesOf(
  data: ChunkReader,
  size: number,
  label: string,
  path: string,
): AsyncGenerator<Uint8Array> {
  let left = size;
  while (left > 0) {
    const chunk = await data.readSome(Math.min(left, 1 << 20));
    if (chunk === undefined) throw truncated(label, path);
    left -= chunk.byteLength;
    yield chunk;
  }
}
