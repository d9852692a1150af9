// Test support for the cpio and tar tests: a feature tree on disk, entries built from it with
// lstat (a test-local stand-in for the walker), real-tool runs and tree/entry descriptions.

import { createHash } from "node:crypto";
import { run } from "./process.ts";
import type { Entry, FileContent } from "../../formats/archive/entry.ts";

/** Feeds `bytes` as chunks of `size` bytes (fresh copies, as a stream would). */
export async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.slice(at, at + size);
}

/** A FileContent that streams a file from disk in fresh 1 MiB buffers. */
export function fileContent(path: string, size: number): FileContent {
  return {
    size,
    async *open() {
      using file = await Deno.open(path);
      while (true) {
        const buffer = new Uint8Array(1 << 20);
        const read = await file.read(buffer);
        if (read === null) return;
        yield buffer.subarray(0, read);
      }
    },
  };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** A binary security.capability value (cap_setuid,cap_setgid+ep) with bytes >= 0x80. */
export const CAPABILITY_SETUID_SETGID = "cap_setuid,cap_setgid+ep";

/** A 255-byte file name (the Linux limit for one component). */
export const NAME_255 = "n".repeat(251) + ".txt";

/**
 * Builds a tree with every entry kind and the metadata the archives must keep. Needs root
 * (mknod, chown).
 */
export async function makeFeatureTree(dir: string): Promise<void> {
  const sh = (script: string) => run(["sh", "-euc", script], { cwd: dir });
  await Deno.mkdir(dir, { recursive: true });
  await sh(`
    mkdir -p bin etc/deep dev tmp shared "ünïcødé" long
    printf 'hello world\\n' > etc/hello
    : > etc/empty
    head -c 5000 /dev/urandom > bin/random
    printf '#!/bin/sh\\necho hi\\n' > bin/tool
    chmod 4755 bin/tool
    cp bin/tool bin/gtool && chmod 2711 bin/gtool
    chmod 1777 tmp
    chmod 2775 shared
    ln bin/random bin/random-link
    ln bin/random etc/deep/random-link2
    : > etc/e1 && ln etc/e1 etc/e2
    ln -s ../etc/hello bin/rel-link
    ln -s /etc/alternatives/awk bin/abs-link
    mknod dev/null c 1 3
    mknod dev/loop0 b 7 0
    mknod dev/big c 259 65536
    mkfifo dev/initctl
    printf 'unicode\\n' > "ünïcødé/fïlé ☃"
    printf 'owned\\n' > etc/owned && chown 1234:5678 etc/owned
    ln -s hello etc/owned-link && chown -h 4321:8765 etc/owned-link
    printf 'cap\\n' > bin/ping && setcap cap_net_raw+ep bin/ping
    printf 'cap2\\n' > bin/su && setcap ${CAPABILITY_SETUID_SETGID} bin/su
    setfattr -n user.comment -v 'a comment' etc/hello
    setfattr -n user.binary -v 0x00ff80fe0a3d etc/empty
    printf 'long\\n' > long/${NAME_255}
    d=long/${"d".repeat(120)}/${"e".repeat(120)}
    mkdir -p "$d" && printf 'deep\\n' > "$d/${"f".repeat(90)}"
    ln -s "$d/${"f".repeat(90)}" "long/${"s".repeat(20)}"
    find . -exec touch -h -d @1700000000 {} +
    touch -d @1600000000 etc/hello
  `);
}

/** Reads every xattr of a path (not following symlinks) as raw bytes, sorted by name. */
export async function readXattrs(path: string): Promise<Map<string, Uint8Array>> {
  const text = new TextDecoder().decode(
    await run(["getfattr", "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", path]),
  );
  const xattrs = new Map<string, Uint8Array>();
  for (const line of text.split("\n")) {
    const match = /^([^#=][^=]*)=0x([0-9a-f]*)$/.exec(line);
    if (!match) continue;
    const value = match[2]!;
    xattrs.set(
      match[1]!,
      Uint8Array.from(
        { length: value.length / 2 },
        (_, i) => parseInt(value.slice(2 * i, 2 * i + 2), 16),
      ),
    );
  }
  return xattrs;
}

/** Paths under `dir` in archive order: sorted by name within each directory, depth first. */
async function sortedPaths(dir: string, rel = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(rel ? `${dir}/${rel}` : dir)) names.push(entry.name);
  names.sort();
  const out: string[] = [];
  for (const name of names) {
    const path = rel ? `${rel}/${name}` : name;
    out.push(path);
    if ((await Deno.lstat(`${dir}/${path}`)).isDirectory) out.push(...await sortedPaths(dir, path));
  }
  return out;
}

/**
 * Entries for a tree, root "." first, then sorted depth first. Hard-linked files: the first
 * name is a `file` with `links`, later ones `hardlink`s to it.
 */
export async function entriesFromTree(dir: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  const firstOfInode = new Map<number, string>();
  for (const path of [".", ...await sortedPaths(dir)]) {
    const full = `${dir}/${path}`;
    const info = await Deno.lstat(full);
    const uid = info.uid ?? 0;
    const gid = info.gid ?? 0;
    const meta = {
      path,
      mode: (info.mode ?? 0) & 0o7777,
      uid,
      gid,
      uname: uid === 0 ? "root" : "",
      gname: gid === 0 ? "root" : "",
      mtime: Math.floor((info.mtime?.getTime() ?? 0) / 1000),
      xattrs: await readXattrs(full),
    };
    const type = (info.mode ?? 0) & 0o170000;
    const rdev = info.rdev ?? 0;
    // glibc makedev layout.
    const devmajor = ((rdev >>> 8) & 0xfff) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
    const devminor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
    if (info.isDirectory) entries.push({ ...meta, kind: "dir" });
    else if (info.isSymlink) {
      entries.push({ ...meta, kind: "symlink", target: await Deno.readLink(full) });
    } else if (info.isFile) {
      const first = (info.nlink ?? 1) > 1 ? firstOfInode.get(info.ino!) : undefined;
      if (first !== undefined) {
        entries.push({ ...meta, kind: "hardlink", target: first });
      } else {
        if ((info.nlink ?? 1) > 1) firstOfInode.set(info.ino!, path);
        entries.push({
          ...meta,
          kind: "file",
          content: fileContent(full, info.size),
          links: info.nlink ?? 1,
        });
      }
    } else if (type === 0o020000) entries.push({ ...meta, kind: "chardev", devmajor, devminor });
    else if (type === 0o060000) entries.push({ ...meta, kind: "blockdev", devmajor, devminor });
    else if (type === 0o010000) entries.push({ ...meta, kind: "fifo" });
    else throw new Error(`unexpected file type at ${full}`);
  }
  return entries;
}

/**
 * One line per path under `dir` (root excluded): type, mode, owner, mtime (not for symlinks,
 * which the tools do not restore alike), size and digest, link target, device numbers,
 * hard-link group (by first path) and, when asked, xattrs.
 */
export async function describeTree(
  dir: string,
  options: { xattrs: boolean; dirMtimes?: boolean },
): Promise<string[]> {
  const lines: string[] = [];
  const firstOfInode = new Map<number, string>();
  for (const path of await sortedPaths(dir)) {
    const full = `${dir}/${path}`;
    const info = await Deno.lstat(full);
    const mode = ((info.mode ?? 0) & 0o7777).toString(8);
    let line = `${path} mode=${mode} owner=${info.uid}:${info.gid}`;
    const type = (info.mode ?? 0) & 0o170000;
    if (info.isSymlink) line += ` symlink->${await Deno.readLink(full)}`;
    else {
      if (!info.isDirectory || options.dirMtimes !== false) {
        line += ` mtime=${Math.floor((info.mtime?.getTime() ?? 0) / 1000)}`;
      }
      if (info.isDirectory) line += " dir";
      else if (info.isFile) {
        line += ` file size=${info.size} sha256=${sha256(await Deno.readFile(full))}`;
        if ((info.nlink ?? 1) > 1) {
          const first = firstOfInode.get(info.ino!) ?? path;
          firstOfInode.set(info.ino!, first);
          line += ` nlink=${info.nlink} group=${first}`;
        }
      } else if (type === 0o020000 || type === 0o060000) {
        line += ` ${type === 0o020000 ? "char" : "block"} rdev=${info.rdev}`;
      } else if (type === 0o010000) line += " fifo";
    }
    if (options.xattrs) {
      for (const [name, value] of await readXattrs(full)) line += ` ${name}=${hex(value)}`;
    }
    lines.push(line);
  }
  return lines;
}

/**
 * Reads an entry stream into one line per entry (content digested, xattrs in hex), so two
 * readings can be compared. Reads every file's content, as a consumer must.
 */
export async function describeEntries(entries: AsyncIterable<Entry>): Promise<string[]> {
  const lines: string[] = [];
  for await (const entry of entries) {
    const { kind, path, mode, uid, gid, uname, gname, mtime } = entry;
    let line = JSON.stringify({ kind, path, mode, uid, gid, uname, gname, mtime });
    switch (entry.kind) {
      case "file": {
        const hash = createHash("sha256");
        let size = 0;
        for await (const chunk of entry.content.open()) {
          hash.update(chunk);
          size += chunk.byteLength;
        }
        line += ` size=${size}/${entry.content.size} sha256=${hash.digest("hex")} links=${
          entry.links ?? 1
        }`;
        break;
      }
      case "symlink":
      case "hardlink":
        line += ` target=${entry.target}`;
        break;
      case "chardev":
      case "blockdev":
        line += ` dev=${entry.devmajor},${entry.devminor}`;
        break;
      case "dir":
      case "fifo":
        break;
    }
    for (const [name, value] of [...entry.xattrs].sort(([a], [b]) => a < b ? -1 : 1)) {
      line += ` ${name}=${hex(value)}`;
    }
    lines.push(line);
  }
  return lines;
}
