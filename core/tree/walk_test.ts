// Tests for core/tree/walk.ts on a real tree with every file type, checked against find, stat and
// getfattr; order, hard links, clamping, filter, a real mount, and files that change.

import { deepStrictEqual as assertEquals, ok, rejects, throws } from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Entry } from "../../formats/archive/entry.ts";
import { IntegrityError, InvalidInputError, NotFoundError } from "../errors.ts";
import {
  comparePaths,
  compareUtf8,
  decodeDevice,
  encodeDevice,
  READ_CHUNK,
  SMALL_FILE,
  type WalkOptions,
  walkTree,
} from "./walk.ts";

async function sh(script: string, cwd?: string): Promise<string> {
  const output = await new Deno.Command("sh", { args: ["-euc", script], cwd, stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout);
  if (output.code !== 0) {
    throw new Error(
      `sh failed (${output.code}): ${script}\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return text;
}

async function walkAll(
  root: string,
  options: WalkOptions = {},
): Promise<{ entries: Entry[]; skipped: [string, string][] }> {
  const entries: Entry[] = [];
  const skipped: [string, string][] = [];
  for await (
    const entry of walkTree(root, {
      ...options,
      onSkip: (path, reason) => skipped.push([path, reason]),
    })
  ) {
    entries.push(entry);
  }
  return { entries, skipped };
}

async function readAll(entry: Entry): Promise<Uint8Array> {
  if (entry.kind !== "file") throw new Error(`${entry.path} is not a file`);
  const parts: Uint8Array[] = [];
  for await (const part of entry.content.open()) parts.push(part);
  return new Uint8Array(await new Blob(parts as Uint8Array<ArrayBuffer>[]).arrayBuffer());
}

/** Reads a file entry through openSync, `piece` bytes at a time, and checks its end. */
function readAllSync(entry: Entry, piece: number): Uint8Array {
  if (entry.kind !== "file" || entry.content.openSync === undefined) {
    throw new Error(`${entry.path} cannot be read synchronously`);
  }
  const out = new Uint8Array(entry.content.size + piece);
  let filled = 0;
  using source = entry.content.openSync();
  for (;;) {
    const count = source.read(out.subarray(filled, filled + piece));
    if (count === 0) break;
    filled += count;
  }
  source.finish();
  return out.subarray(0, filled);
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

const BIG_SIZE = 3 * READ_CHUNK + 5;

/**
 * The fixture: one of each file type, hard links, special modes, owners, xattrs (binary and a
 * capability), names that sort differently as UTF-16 and as bytes. Built once, as root (mknod,
 * chown and setcap need it; CI runs as root).
 */
const TREE = await Deno.makeTempDir({ prefix: "osimg-walk-" });
await sh(
  `
  mkdir -p a/deep/er sticky sgid mnt empty
  printf 'hello\\n' > a/file.txt
  printf 'suid' > suid && chmod 4755 suid
  chmod 1777 sticky && chmod 2750 sgid
  ln -s a/file.txt rel-link && ln -s /etc/passwd abs-link && ln -s dangling-target dangling
  printf 'shared' > hl1 && ln hl1 a/hl2 && ln hl1 zz-hl3
  mknod chr c 1 3 && mknod blk b 7 0 && mknod bigdev b 259 65536
  mkfifo fifo
  python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')"
  printf 'cap' > cap && setcap cap_net_raw+ep cap
  printf 'x' > xattr && setfattr -n user.x -v 0x00ff80410a xattr && setfattr -n user.a -v plain xattr
  : > empty-file
  head -c ${BIG_SIZE} /dev/urandom > big
  head -c ${SMALL_FILE} /dev/urandom > exactly-small
  printf 'o' > owned && chown 1234:5678 owned
  touch -d @1000 a/deep/er/old
  printf 'u' > 'é' && printf 'u' > "$(printf '\\357\\277\\275')" && printf 'u' > "$(printf '\\360\\237\\230\\200')"
  printf 'B' > B && printf 'a-b' > a-b && printf 'a.b' > a.b
  `,
  TREE,
);

/** find's view of the tree: path, type, mode, uid, gid, mtime, size, nlink. */
async function findListing(root: string, xdev = true): Promise<Map<string, string>> {
  const out = await sh(
    `find . ${xdev ? "-xdev" : ""} ! -type s -printf '%P\\t%y\\t%m\\t%U\\t%G\\t%T@\\t%s\\t%n\\0'`,
    root,
  );
  const listing = new Map<string, string>();
  for (const record of out.split("\0").filter((line) => line !== "")) {
    const [path, ...rest] = record.split("\t");
    listing.set(path === "" ? "." : path!, rest.join("\t"));
  }
  return listing;
}

const KIND_OF_FIND_TYPE: Record<string, Entry["kind"][]> = {
  f: ["file", "hardlink"],
  d: ["dir"],
  l: ["symlink"],
  c: ["chardev"],
  b: ["blockdev"],
  p: ["fifo"],
};

Deno.test("walkTree: every entry matches find and stat (type, mode, owner, mtime, devices)", async () => {
  const { entries, skipped } = await walkAll(TREE);
  const listing = await findListing(TREE);
  assertEquals(entries.map((entry) => entry.path).sort(), [...listing.keys()].sort());
  for (const entry of entries) {
    const [type, mode, uid, gid, mtime, size] = listing.get(entry.path)!.split("\t");
    ok(KIND_OF_FIND_TYPE[type!]!.includes(entry.kind), `${entry.path}: ${type} vs ${entry.kind}`);
    assertEquals(entry.mode, parseInt(mode!, 8), entry.path);
    assertEquals([entry.uid, entry.gid], [Number(uid), Number(gid)], entry.path);
    assertEquals(entry.mtime, Math.floor(Number(mtime)), entry.path);
    assertEquals([entry.uname, entry.gname], ["", ""]);
    if (entry.kind === "file") assertEquals(entry.content.size, Number(size), entry.path);
    if (entry.kind === "symlink") {
      assertEquals(entry.target, await Deno.readLink(`${TREE}/${entry.path}`));
    }
    if (entry.kind === "chardev" || entry.kind === "blockdev") {
      const [major, minor] = (await sh(`stat -c '%t %T' ${entry.path}`, TREE)).trim().split(" ");
      assertEquals([entry.devmajor, entry.devminor], [parseInt(major!, 16), parseInt(minor!, 16)]);
    }
  }
  const byPath = new Map(entries.map((entry) => [entry.path, entry]));
  assertEquals(byPath.get("suid")!.mode, 0o4755);
  assertEquals(byPath.get("sticky")!.mode, 0o1777);
  assertEquals(byPath.get("sgid")!.mode, 0o2750);
  assertEquals([byPath.get("owned")!.uid, byPath.get("owned")!.gid], [1234, 5678]);
  const bigdev = byPath.get("bigdev")!;
  ok(bigdev.kind === "blockdev" && bigdev.devmajor === 259 && bigdev.devminor === 65536);
  const chr = byPath.get("chr")!;
  ok(chr.kind === "chardev" && chr.devmajor === 1 && chr.devminor === 3);
  assertEquals(byPath.get("abs-link"), { ...byPath.get("abs-link")!, target: "/etc/passwd" });
  assertEquals(byPath.get("fifo")!.kind, "fifo");
  assertEquals(skipped, [["sock", "socket (archives cannot hold sockets)"]]);
});

Deno.test("walkTree: root first as '.', depth-first, names in UTF-8 byte order", async () => {
  const { entries } = await walkAll(TREE);
  assertEquals(entries[0]!.path, ".");
  assertEquals(entries[0]!.kind, "dir");
  const paths = entries.map((entry) => entry.path);
  const top = paths.filter((path) => path !== "." && !path.includes("/"));
  assertEquals(top, [
    "B",
    "a",
    "a-b",
    "a.b",
    "abs-link",
    "big",
    "bigdev",
    "blk",
    "cap",
    "chr",
    "dangling",
    "empty",
    "empty-file",
    "exactly-small",
    "fifo",
    "hl1",
    "mnt",
    "owned",
    "rel-link",
    "sgid",
    "sticky",
    "suid",
    "xattr",
    "zz-hl3",
    "é",
    "\ufffd", // U+FFFD: EF BF BD
    "\u{1f600}", // U+1F600: F0 9F 98 80 sorts after EF as a byte, before it as UTF-16
  ]);
  // a directory before its children, and its whole subtree before the next sibling
  assertEquals(paths.slice(paths.indexOf("a"), paths.indexOf("a-b")), [
    "a",
    "a/deep",
    "a/deep/er",
    "a/deep/er/old",
    "a/file.txt",
    "a/hl2",
  ]);
});

Deno.test("walkTree: hard links are one file and later hardlink entries to its first path", async () => {
  const { entries } = await walkAll(TREE);
  const links = entries.filter((entry) => ["a/hl2", "hl1", "zz-hl3"].includes(entry.path));
  assertEquals(links.map((entry) => [entry.path, entry.kind]), [
    ["a/hl2", "file"],
    ["hl1", "hardlink"],
    ["zz-hl3", "hardlink"],
  ]);
  const [first, second, third] = links;
  ok(first!.kind === "file" && first!.links === 3);
  ok(second!.kind === "hardlink" && second!.target === "a/hl2");
  ok(third!.kind === "hardlink" && third!.target === "a/hl2");
  const single = entries.find((entry) => entry.path === "suid")!;
  ok(single.kind === "file" && single.links === undefined);
  // filtered out first name: the next one becomes the file
  const { entries: filtered } = await walkAll(TREE, { filter: (path) => path !== "a" });
  const hl1 = filtered.find((entry) => entry.path === "hl1")!;
  ok(hl1.kind === "file" && hl1.links === 3);
  const hl3 = filtered.find((entry) => entry.path === "zz-hl3")!;
  ok(hl3.kind === "hardlink" && hl3.target === "hl1");
});

Deno.test("walkTree: contents stream from disk, re-openable, large files in chunks", async () => {
  const { entries } = await walkAll(TREE);
  const byPath = new Map(entries.map((entry) => [entry.path, entry]));
  for (const path of ["big", "exactly-small", "a/file.txt", "empty-file", "a/hl2"]) {
    const onDisk = await Deno.readFile(`${TREE}/${path}`);
    const entry = byPath.get(path)!;
    assertEquals(sha256(await readAll(entry)), sha256(onDisk), path);
    assertEquals(sha256(await readAll(entry)), sha256(onDisk), `${path}, second open`);
    // Straight into the caller's buffer: never past the declared size, whatever the room.
    for (const piece of [1, 4095, READ_CHUNK, 4 * READ_CHUNK]) {
      assertEquals(sha256(readAllSync(entry, piece)), sha256(onDisk), `${path}, openSync ${piece}`);
    }
  }
  const big = byPath.get("big")!;
  ok(big.kind === "file");
  const sizes: number[] = [];
  for await (const chunk of big.content.open()) sizes.push(chunk.byteLength);
  assertEquals(sizes, [READ_CHUNK, READ_CHUNK, READ_CHUNK, 5]);
  const empty = byPath.get("empty-file")!;
  ok(empty.kind === "file");
  assertEquals((await readAll(empty)).byteLength, 0);
});

Deno.test("walkTree: xattrs as raw bytes, security.capability included, match getfattr", async () => {
  const { entries } = await walkAll(TREE);
  const byPath = new Map(entries.map((entry) => [entry.path, entry]));
  const xattr = byPath.get("xattr")!.xattrs;
  assertEquals([...xattr.keys()], ["user.a", "user.x"]);
  assertEquals([...xattr.get("user.x")!], [0x00, 0xff, 0x80, 0x41, 0x0a]);
  assertEquals(new TextDecoder().decode(xattr.get("user.a")), "plain");
  for (const path of ["cap", "xattr"]) {
    const dump = await sh(`getfattr --absolute-names -d -m - -e hex ${path}`, TREE);
    const expected = new Map(
      dump.split("\n").filter((line) => line.includes("=0x")).map((line) => {
        const [name, hex] = line.split("=0x");
        return [name!, hex!];
      }),
    );
    const ours = new Map(
      [...byPath.get(path)!.xattrs].map(([name, value]) => [
        name,
        [...value].map((byte) => byte.toString(16).padStart(2, "0")).join(""),
      ]),
    );
    assertEquals(ours, expected, path);
  }
  ok(byPath.get("cap")!.xattrs.has("security.capability"));
  assertEquals(byPath.get("suid")!.xattrs.size, 0);
  const { entries: without } = await walkAll(TREE, { xattrs: false });
  ok(without.every((entry) => entry.xattrs.size === 0));
});

Deno.test("walkTree: clampMtime lowers newer mtimes only", async () => {
  const clamp = 1_600_000_000;
  const { entries } = await walkAll(TREE, { clampMtime: clamp });
  ok(entries.every((entry) => entry.mtime <= clamp));
  assertEquals(entries.find((entry) => entry.path === "a/deep/er/old")!.mtime, 1000);
  assertEquals(entries.find((entry) => entry.path === "suid")!.mtime, clamp);
});

Deno.test("walkTree: filter skips files and whole subtrees, never the root", async () => {
  const seen: [string, boolean][] = [];
  const { entries } = await walkAll(TREE, {
    filter: (path, isDir) => {
      seen.push([path, isDir]);
      return path !== "a/deep" && !path.endsWith(".b");
    },
  });
  const paths = entries.map((entry) => entry.path);
  ok(paths.includes("."));
  ok(paths.includes("a/file.txt"));
  ok(!paths.some((path) => path.startsWith("a/deep")));
  ok(!paths.includes("a.b"));
  ok(!seen.some(([path]) => path === "." || path === "a/deep/er"), "no calls inside a skipped dir");
  assertEquals(seen.find(([path]) => path === "a/deep"), ["a/deep", true]);
  assertEquals(seen.find(([path]) => path === "a/file.txt"), ["a/file.txt", false]);
});

Deno.test("walkTree: oneFileSystem lists a mount point but not its contents (find -xdev)", async () => {
  await sh(`mount -t tmpfs -o mode=0751 osimg-walk-test mnt && printf 'in' > mnt/inside`, TREE);
  try {
    const { entries, skipped } = await walkAll(TREE);
    const paths = entries.map((entry) => entry.path);
    ok(paths.includes("mnt"));
    ok(!paths.includes("mnt/inside"));
    assertEquals(paths.sort(), [...(await findListing(TREE)).keys()].sort());
    // The mount point shows the mounted file system's root, as find and stat see it.
    assertEquals(entries.find((entry) => entry.path === "mnt")!.mode, 0o751);
    ok(skipped.some(([path, reason]) => path === "mnt" && /another file system/.test(reason)));
    const { entries: all } = await walkAll(TREE, { oneFileSystem: false });
    ok(all.some((entry) => entry.path === "mnt/inside"));
  } finally {
    await sh(`umount mnt`, TREE);
  }
});

Deno.test("walkTree: a file that changes size between walk and read is an IntegrityError", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${root}/shrinks`, "0123456789");
    await Deno.writeFile(`${root}/grows`, new Uint8Array(SMALL_FILE + 10));
    await Deno.writeFile(`${root}/big-shrinks`, new Uint8Array(SMALL_FILE + 10));
    const { entries } = await walkAll(root);
    await Deno.writeTextFile(`${root}/shrinks`, "0123");
    await Deno.writeFile(`${root}/grows`, new Uint8Array(SMALL_FILE + 20));
    await Deno.truncate(`${root}/big-shrinks`, 100);
    const byPath = new Map(entries.map((entry) => [entry.path, entry]));
    await rejects(readAll(byPath.get("shrinks")!), (error: unknown) => {
      ok(error instanceof IntegrityError);
      assertEquals(
        error.message,
        `File "shrinks" changed while being read: expected 10 bytes, found 4.`,
      );
      return true;
    });
    await rejects(readAll(byPath.get("grows")!), /expected 1048586 bytes, found more/);
    await rejects(readAll(byPath.get("big-shrinks")!), /expected 1048586 bytes, found 100\./);
    // The same through openSync (what packimage's cpio and tar writers use).
    const sync = (path: string) => () => readAllSync(byPath.get(path)!, 65_536);
    throws(
      sync("shrinks"),
      /^IntegrityError: File "shrinks" changed while being read: expected 10 bytes, found 4\.$/,
    );
    throws(sync("grows"), /expected 1048586 bytes, found more/);
    throws(sync("big-shrinks"), /expected 1048586 bytes, found 100\./);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("walkTree: an entry that vanishes while the tree is walked fails the walk, it is not skipped", async () => {
  const root = await Deno.makeTempDir();
  try {
    await sh(
      `mkdir -p etc usr/lib && echo a > etc/a && echo b > etc/b && echo l > usr/lib/x`,
      root,
    );
    const vanishes = async (remove: (path: string) => void, expected: string) => {
      const skipped: string[] = [];
      await rejects(
        walkAll(root, {
          filter: (path) => {
            remove(path);
            return true;
          },
          onSkip: (path) => skipped.push(path),
        }),
        (error: unknown) => {
          ok(error instanceof IntegrityError, String(error));
          assertEquals(error.message, `"${expected}" vanished while the tree was being read.`);
          return true;
        },
      );
      assertEquals(skipped, []);
    };
    // Listed with its directory, gone before it is looked at (a concurrent rm).
    await vanishes((path) => {
      if (path === "etc/a") Deno.removeSync(`${root}/etc/b`);
    }, "etc/b");
    await sh(`echo b > etc/b`, root);
    // A whole subtree removed (rm -rf of the image) after the root was listed.
    await vanishes((path) => {
      if (path === "etc") Deno.removeSync(`${root}/usr`, { recursive: true });
    }, "usr");
    await sh(`mkdir -p usr/lib && echo l > usr/lib/x`, root);
    // A directory looked at, then removed before it is listed.
    await vanishes((path) => {
      if (path === "usr") Deno.removeSync(`${root}/usr`, { recursive: true });
    }, "usr");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("walkTree: a file removed or replaced by a directory before it is read is an IntegrityError", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${root}/small`, "0123456789");
    await Deno.writeFile(`${root}/big`, new Uint8Array(SMALL_FILE + 10));
    await Deno.writeTextFile(`${root}/becomes-dir`, "0123456789");
    await Deno.writeFile(`${root}/big-becomes-dir`, new Uint8Array(SMALL_FILE + 10));
    const { entries } = await walkAll(root);
    const byPath = new Map(entries.map((entry) => [entry.path, entry]));
    await Deno.remove(`${root}/small`);
    await Deno.remove(`${root}/big`);
    for (const name of ["becomes-dir", "big-becomes-dir"]) {
      await Deno.remove(`${root}/${name}`);
      await Deno.mkdir(`${root}/${name}`);
    }
    const gone = (path: string) => (error: unknown) =>
      error instanceof IntegrityError &&
      error.message === `"${path}" vanished while the tree was being read.`;
    const directory = (path: string) => (error: unknown) =>
      error instanceof IntegrityError &&
      error.message ===
        `"${path}" changed type while the tree was being read (it was a file).`;
    for (const path of ["small", "big"]) {
      await rejects(readAll(byPath.get(path)!), gone(path));
      throws(() => readAllSync(byPath.get(path)!, 65_536), gone(path));
    }
    for (const path of ["becomes-dir", "big-becomes-dir"]) {
      await rejects(readAll(byPath.get(path)!), directory(path));
      throws(() => readAllSync(byPath.get(path)!, 65_536), directory(path));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("walkTree: a symlink or directory whose type changes as it is walked is an IntegrityError", async () => {
  const root = await Deno.makeTempDir();
  try {
    await sh(`mkdir dir && echo x > dir/f && ln -s dir link`, root);
    const swap = async (name: string, replace: () => void, was: string) => {
      await rejects(
        walkAll(root, {
          filter: (path) => {
            if (path === name) replace();
            return true;
          },
        }),
        (error: unknown) =>
          error instanceof IntegrityError &&
          error.message ===
            `"${name}" changed type while the tree was being read (it was a ${was}).`,
      );
    };
    await swap("dir", () => {
      Deno.removeSync(`${root}/dir`, { recursive: true });
      Deno.writeTextFileSync(`${root}/dir`, "now a file\n");
    }, "directory");
    await swap("link", () => {
      Deno.removeSync(`${root}/link`);
      Deno.writeTextFileSync(`${root}/link`, "now a file\n");
    }, "symbolic link");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("walkTree: a missing root or a file as root is refused clearly", async () => {
  await rejects(
    walkAll(`${TREE}/no-such-dir`),
    (error: unknown) =>
      error instanceof NotFoundError &&
      error.message === `Cannot walk "${TREE}/no-such-dir": no such directory.`,
  );
  await rejects(
    walkAll(`${TREE}/suid`),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      error.message === `Cannot walk "${TREE}/suid": not a directory.`,
  );
  const { entries } = await walkAll(`${TREE}/a/`);
  assertEquals(entries.map((entry) => entry.path), [
    ".",
    "deep",
    "deep/er",
    "deep/er/old",
    "file.txt",
    "hl2",
  ]);
});

Deno.test("walkTree without --allow-ffi: says so once and walks on", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { walkTree } from ${JSON.stringify(import.meta.resolve("./walk.ts"))};\n` +
        `const skips = [];\nlet count = 0;\n` +
        `for await (const e of walkTree(Deno.args[0], { onSkip: (p, r) => skips.push([p, r]) })) count++;\n` +
        `console.log(JSON.stringify({ count, skips }));\n`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--allow-read", script, `${TREE}/a`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    const result = JSON.parse(new TextDecoder().decode(output.stdout));
    assertEquals(result.count, 6);
    assertEquals(result.skips.length, 1);
    assertEquals(result.skips[0][0], ".");
    ok(
      /^extended attributes not read: cannot load libc\.so\.6 through FFI/.test(result.skips[0][1]),
    );
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("walkTree as an unprivileged user: an unreadable directory is listed, not entered", async () => {
  const work = await Deno.makeTempDir({ prefix: "osimg-walk-user-" });
  try {
    await sh(
      `mkdir -p tree/locked tree/open && printf s > tree/locked/secret && printf o > tree/open/f
       chmod 000 tree/locked && mkdir deno-dir && chown 65534:65534 deno-dir && chmod 755 .`,
      work,
    );
    const script = `${work}/walk.ts`;
    await Deno.writeTextFile(
      script,
      `import { walkTree } from ${JSON.stringify(import.meta.resolve("./walk.ts"))};\n` +
        `const skips = [];\nconst paths = [];\n` +
        `for await (const e of walkTree(Deno.args[0], { onSkip: (p, r) => skips.push([p, r]) })) paths.push(e.path);\n` +
        `console.log(JSON.stringify({ paths, skips }));\n`,
    );
    const output = await new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        Deno.execPath(),
        "run",
        "--no-config",
        "-A",
        script,
        `${work}/tree`,
      ],
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH")!, DENO_DIR: `${work}/deno-dir`, HOME: `${work}/deno-dir` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    const result = JSON.parse(new TextDecoder().decode(output.stdout));
    assertEquals(result.paths, [".", "locked", "open", "open/f"]);
    assertEquals(result.skips.length, 1);
    assertEquals(result.skips[0][0], "locked");
    ok(
      /^directory cannot be read: .*[Pp]ermission denied/.test(result.skips[0][1]),
      result.skips[0][1],
    );
  } finally {
    await sh(`chmod 755 tree/locked`, work).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("decodeDevice follows glibc's makedev layout", async () => {
  for (
    const [major, minor] of [[0, 0], [1, 3], [7, 0], [8, 17], [259, 65536], [4095, 255], [
      4096,
      1048576,
    ], [0xfffff, 0xfffff]]
  ) {
    assertEquals(decodeDevice(encodeDevice(major!, minor!)), { major, minor });
  }
  // makedev(259, 65536) as glibc computes it, and as stat reports a real node
  assertEquals(encodeDevice(259, 65536), 0x10010300);
  const info = await Deno.lstat(`${TREE}/bigdev`);
  assertEquals(decodeDevice(info.rdev!), { major: 259, minor: 65536 });
});

Deno.test("compareUtf8 orders like the UTF-8 bytes", () => {
  const samples = [
    "",
    "a",
    "B",
    "a-b",
    "a/b",
    "\u00e9",
    "\ufffd",
    "\uffff",
    "\ue000",
    "\u{1f600}",
    "\u{10ffff}",
    "z",
    "zz",
  ];
  const encoder = new TextEncoder();
  const byBytes = (x: string, y: string) => {
    const a = encoder.encode(x);
    const b = encoder.encode(y);
    for (let index = 0; index < Math.min(a.length, b.length); index++) {
      if (a[index] !== b[index]) return a[index]! - b[index]!;
    }
    return a.length - b.length;
  };
  for (const x of samples) {
    for (const y of samples) {
      assertEquals(Math.sign(compareUtf8(x, y)), Math.sign(byBytes(x, y)), `${x} vs ${y}`);
    }
  }
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(TREE, { recursive: true });
});

Deno.test("comparePaths orders a directory before what is in it, names by UTF-8 bytes", () => {
  assertEquals(
    ["a-b", "a/\u{1F600}", "a/\uFB01", "a", "a/b/c", "a/b"].sort(comparePaths),
    ["a", "a/b", "a/b/c", "a/\uFB01", "a/\u{1F600}", "a-b"],
  );
});
