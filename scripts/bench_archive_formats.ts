// Benchmark: the cpio newc and tar writers and readers alone (no compression) on a real tree,
// against GNU cpio and GNU tar writing the same tree to a pipe, in the same run.
//
// Usage: deno run -A scripts/bench_archive_formats.ts [DIR]   (default /usr/share)
// Prints MB/s of each way. The archive bytes are counted, not stored; readers read a copy of the
// archive kept in memory, chunked as 1 MiB pieces as a decompressor would hand them over.

import { cpioStream, readCpio } from "../formats/archive/cpio_newc.ts";
import { readTar, tarStream } from "../formats/archive/tar.ts";
import type { Entry } from "../formats/archive/entry.ts";
import { walkTree } from "../core/tree/walk.ts";

const dir = Deno.args[0] ?? "/usr/share";

async function timed<T>(
  label: string,
  bytes: (result: T) => number,
  work: () => Promise<T>,
): Promise<T> {
  const start = performance.now();
  const result = await work();
  const seconds = (performance.now() - start) / 1000;
  const size = bytes(result);
  console.log(
    `${label.padEnd(44)} ${seconds.toFixed(2).padStart(7)} s  ${
      (size / 1e6).toFixed(0).padStart(6)
    } MB  ${(size / 1e6 / seconds).toFixed(0).padStart(5)} MB/s`,
  );
  return result;
}

async function shell(script: string): Promise<number> {
  const output = await new Deno.Command("sh", { args: ["-c", script], cwd: dir, stdout: "piped" })
    .output();
  if (!output.success) throw new Error(`${script} failed`);
  return Number(new TextDecoder().decode(output.stdout).trim());
}

async function keep(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const kept: Uint8Array[] = [];
  for await (const chunk of chunks) kept.push(chunk.slice());
  return kept;
}

async function* rechunk(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) {
    for (let at = 0; at < part.byteLength; at += 1 << 20) yield part.subarray(at, at + (1 << 20));
  }
}

async function readAll(entries: AsyncIterable<Entry>): Promise<number> {
  let count = 0;
  for await (const entry of entries) {
    count++;
    if (entry.kind === "file") { for await (const _ of entry.content.open()); }
  }
  return count;
}

const total = (parts: Uint8Array[]) => parts.reduce((sum, part) => sum + part.byteLength, 0);
console.log(`tree: ${dir}; load ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3)}`);
// Warm the page cache so the first way measured is not penalised.
await shell("tar -cf - . | wc -c");

let gnuCpio = 0;
await timed("GNU cpio: find | sort | cpio -o -H newc | wc", () => gnuCpio, async () => {
  gnuCpio = await shell("find . -xdev | LC_ALL=C sort | cpio -o -H newc --quiet | wc -c");
});
let gnuTar = 0;
await timed("GNU tar: tar --sort=name -cf - . | wc", () => gnuTar, async () => {
  gnuTar = await shell("tar --sort=name --one-file-system -cf - . | wc -c");
});
let walked = 0;
await timed("walkTree alone, reading every file", () => walked, async () => {
  for await (const entry of walkTree(dir, { xattrs: false })) {
    if (entry.kind === "file") {
      for await (const chunk of entry.content.open()) walked += chunk.byteLength;
    }
  }
});
const cpio = await timed(
  "osimg: walkTree -> cpioStream (kept in memory)",
  total,
  () => keep(cpioStream(walkTree(dir, { xattrs: false }))),
);
const tar = await timed(
  "osimg: walkTree -> tarStream (kept in memory)",
  total,
  () => keep(tarStream(walkTree(dir, { xattrs: false }))),
);
await timed(
  "osimg: readCpio over 1 MiB chunks",
  () => total(cpio),
  () => readAll(readCpio(rechunk(cpio))),
);
await timed(
  "osimg: readTar over 1 MiB chunks",
  () => total(tar),
  () => readAll(readTar(rechunk(tar))),
);
