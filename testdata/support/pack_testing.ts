// Test support for packimage/liteimg: a root tree with every file type, image rows, tree listings.

import { createHash } from "node:crypto";
import { sh } from "./process.ts";
import { DEFAULT_DB } from "../../main.ts";
import { hostPath } from "../../core/paths.ts";
import { openSqliteStore } from "../../core/store/sqlite_store.ts";
import type { Row } from "../../core/store/store.ts";

/** The fixed mtime the fixture's entries get (2021-01-01), so archives are comparable. */
export const FIXTURE_MTIME = 1609459200;

/**
 * Fills `dir` with a small root tree holding every type packimage must carry: directories,
 * empty and binary files, long and unicode names, relative and absolute symlinks, a hard-linked
 * pair, char and block devices, a fifo, setuid/setgid/sticky bits, non-root owners, a user
 * xattr and a file capability. Needs root (mknod, chown, setcap).
 */
export async function makeFixtureTree(dir: string): Promise<void> {
  const w = (path: string, data: string | Uint8Array, mode = 0o644) => {
    Deno.mkdirSync(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    if (typeof data === "string") Deno.writeTextFileSync(`${dir}/${path}`, data);
    else Deno.writeFileSync(`${dir}/${path}`, data);
    Deno.chmodSync(`${dir}/${path}`, mode);
  };
  Deno.mkdirSync(dir, { recursive: true });
  for (const sub of ["etc", "usr/bin", "usr/share/man/man1", "usr/share/man/man8", "dev", "tmp"]) {
    Deno.mkdirSync(`${dir}/${sub}`, { recursive: true });
  }
  w("etc/hostname", "node\n");
  w("etc/empty", "");
  w("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  const binary = new Uint8Array(300_000);
  for (let index = 0; index < binary.length; index++) binary[index] = (index * 7919) % 251;
  w("usr/bin/tool", binary, 0o755);
  w("usr/bin/su", "setuid\n", 0o4755);
  w("usr/bin/wall", "setgid\n", 0o2755);
  Deno.chmodSync(`${dir}/tmp`, 0o1777);
  w("usr/share/man/man1/ls.1", "ls manual\n");
  w("usr/share/man/man8/mount.8", "mount manual\n");
  w(`usr/share/${"n".repeat(200)}`, "long name\n");
  w("usr/share/ünïcödé-名前", "unicode\n");
  w("home/user/owned", "owned by 1000\n", 0o600);
  Deno.chownSync(`${dir}/home/user/owned`, 1000, 1001);
  Deno.chownSync(`${dir}/home/user`, 1000, 1001);
  Deno.symlinkSync("../usr/bin/tool", `${dir}/etc/relative-link`);
  Deno.symlinkSync("/usr/bin/tool", `${dir}/etc/absolute-link`);
  Deno.symlinkSync("usr/bin", `${dir}/bin`);
  w("usr/bin/first", "hard linked\n", 0o755);
  Deno.linkSync(`${dir}/usr/bin/first`, `${dir}/usr/bin/second`);
  await sh(["mknod", `${dir}/dev/null`, "c", "1", "3"]);
  await sh(["mknod", `${dir}/dev/loop0`, "b", "7", "0"]);
  await sh(["mkfifo", `${dir}/dev/initctl`]);
  await sh(["setfattr", "-n", "user.comment", "-v", "0x00ff10", `${dir}/etc/hostname`]);
  await sh(["setcap", "cap_net_raw+ep", `${dir}/usr/bin/tool`]);
  await sh(["touch", "-h", "-d", `@${FIXTURE_MTIME}`, ...await allPaths(dir)]);
}

async function allPaths(dir: string): Promise<string[]> {
  return (await sh(["find", dir])).split("\n").filter((line) => line !== "");
}

/** glibc's gnu_dev_major / gnu_dev_minor. */
function deviceNumbers(rdev: number): [number, number] {
  const high = Math.floor(rdev / 2 ** 32);
  const low = rdev >>> 0;
  const major = ((low >>> 8) & 0xfff) | ((high & 0xfffff000) >>> 0);
  const minor = (low & 0xff) | ((low >>> 12) & 0xfff00);
  return [major, minor];
}

/**
 * One line per path under `dir` (sorted): type, mode, owners, contents digest, link target or
 * device numbers, and which paths share an inode. Directory mtimes are left out (extractors set
 * them in different orders); others are included when `mtimes` is set.
 */
export async function listTree(
  dir: string,
  options: { mtimes?: boolean; symlinkMtimes?: boolean; skip?: (path: string) => boolean } = {},
): Promise<string[]> {
  const paths = (await sh(["find", ".", "-mindepth", "1"], { cwd: dir })).split("\n")
    .filter((line) => line !== "").map((line) => line.slice(2)).filter((path) =>
      !(options.skip?.(path) ?? false)
    ).sort();
  const inodes = new Map<string, string>();
  const lines: string[] = [];
  for (const path of paths) {
    const full = `${dir}/${path}`;
    const info = Deno.lstatSync(full);
    const mode = (info.mode! & 0o7777).toString(8);
    let line = `${path} ${mode} ${info.uid}:${info.gid}`;
    if (info.isSymlink) line = `l ${line} -> ${Deno.readLinkSync(full)}`;
    else if (info.isDirectory) line = `d ${line}`;
    else if (info.isFile) {
      const digest = createHash("sha256").update(Deno.readFileSync(full)).digest("hex");
      line = `f ${line} ${info.size} ${digest.slice(0, 16)}`;
      if (info.nlink! > 1) {
        const key = `${info.dev}:${info.ino}`;
        if (!inodes.has(key)) inodes.set(key, path);
        line += ` link=${inodes.get(key)}`;
      }
    } else if (info.isCharDevice) line = `c ${line} ${deviceNumbers(info.rdev!).join(",")}`;
    else if (info.isBlockDevice) line = `b ${line} ${deviceNumbers(info.rdev!).join(",")}`;
    else if (info.isFifo) line = `p ${line}`;
    else if (info.isSocket) line = `s ${line}`;
    const timed = options.mtimes && !info.isDirectory &&
      (!info.isSymlink || (options.symlinkMtimes ?? true));
    if (timed) line += ` @${Math.floor(info.mtime!.getTime() / 1000)}`;
    lines.push(line);
  }
  return lines;
}

/** Writes osimage/linuximage rows (and other table rows) into the root's default database. */
export async function defineRows(root: string, rows: Record<string, Row[]>): Promise<void> {
  const store = openSqliteStore(hostPath(root, DEFAULT_DB));
  try {
    await store.write(async (writer) => {
      for (const [table, tableRows] of Object.entries(rows)) {
        for (const row of tableRows) await writer.upsert(table, row);
      }
    });
  } finally {
    store.close();
  }
}

/** Defines a netboot image `name` whose rootimgdir is `/install/netboot/test/x86_64/<name>`. */
export async function defineImage(
  root: string,
  name: string,
  osimage: Row = {},
  linuximage: Row = {},
): Promise<{ rootimgdir: string; rootimgHost: string; dirHost: string }> {
  const rootimgdir = `/install/netboot/test/x86_64/${name}`;
  await defineRows(root, {
    osimage: [{
      imagename: name,
      imagetype: "linux",
      provmethod: "netboot",
      osvers: "test",
      osarch: "x86_64",
      profile: name,
      ...osimage,
    }],
    linuximage: [{ imagename: name, rootimgdir, ...linuximage }],
  });
  const dirHost = hostPath(root, rootimgdir);
  return { rootimgdir, rootimgHost: `${dirHost}/rootimg`, dirHost };
}
