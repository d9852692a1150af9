// Files looked up below a directory with the kernel's own confinement: openat2(2) with
// RESOLVE_BENEATH and statx(2), through libc's FFI.

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  syscall: { parameters: ["i64", "i32", "buffer", "buffer", "usize"], result: "i64" },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
/** openat2's number is the same on every Linux architecture (the unified syscall table). */
const SYS_OPENAT2 = 437n;
const RESOLVE_BENEATH = 0x08n;
const AT_EMPTY_PATH = 0x1000;
/** statx mask: type, mode, inode, size and the times. */
const STATX_BASIC_STATS = 0x7ff;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const ENOSYS = 38;

/** What statx(2) says about a file (times in nanoseconds). */
export interface KernelStat {
  isFile: boolean;
  dev: number;
  ino: number;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** openat2 + statx + close, or the errno of the lookup. */
export interface Beneath {
  /**
   * An O_PATH handle (no read, no side effect even on a device or a FIFO) of `relative` below
   * `dir`, or a negative errno: the kernel refuses (EXDEV) any path that would leave `dir` on
   * the way — `..`, an absolute symlink, a relative one climbing out — atomically, with no
   * window between the check and the open.
   */
  openBelow(dir: string, relative: string): number;
  /** An O_PATH handle of an absolute path (already confined by the caller), or a negative errno. */
  openPath(path: string): number;
  stat(fd: number): KernelStat | undefined;
  close(fd: number): void;
}

let loaded: Beneath | null | undefined;

/**
 * The kernel's confined lookup, or undefined where it cannot be had (no --allow-ffi, no glibc,
 * a kernel older than 5.6 or a seccomp filter without openat2): the caller then resolves with
 * realpath and checks the result itself.
 *
 * @example
 * ```ts
 * const fd = beneath()?.openBelow("/install", "netboot/rootimg.cpio.gz");
 * ```
 */
export function beneath(): Beneath | undefined {
  if (loaded === undefined) {
    try {
      loaded = load();
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

function load(): Beneath | null {
  const lib = Deno.dlopen("libc.so.6", SYMBOLS);
  const encoder = new TextEncoder();
  const cString = (text: string) => encoder.encode(`${text}\0`);
  const errno = () => {
    const where = lib.symbols.__errno_location();
    return where ? new Deno.UnsafePointerView(where).getInt32() : 0;
  };
  // struct open_how { u64 flags; u64 mode; u64 resolve; }
  const how = new Uint8Array(
    new BigUint64Array([BigInt(O_PATH | O_CLOEXEC), 0n, RESOLVE_BENEATH]).buffer,
  );
  const statBuffer = new Uint8Array(256);
  const view = new DataView(statBuffer.buffer);
  const empty = cString("");
  const openPath = (path: string, flags = 0) => {
    const fd = lib.symbols.open(cString(path), O_PATH | O_CLOEXEC | flags, 0);
    return fd < 0 ? -errno() : fd;
  };
  const api: Beneath = {
    openBelow(dir, relative) {
      const dirFd = openPath(dir, O_DIRECTORY);
      if (dirFd < 0) return dirFd;
      try {
        const fd = Number(lib.symbols.syscall(SYS_OPENAT2, dirFd, cString(relative), how, 24n));
        return fd < 0 ? -errno() : fd;
      } finally {
        lib.symbols.close(dirFd);
      }
    },
    openPath: (path) => openPath(path),
    stat(fd) {
      if (lib.symbols.statx(fd, empty, AT_EMPTY_PATH, STATX_BASIC_STATS, statBuffer) !== 0) {
        return undefined;
      }
      // struct statx: stx_mode u16 @28, stx_ino u64 @32, stx_size u64 @40, stx_ctime @96,
      // stx_mtime @112 (i64 seconds, u32 nanoseconds), stx_dev_major/minor u32 @136/@140.
      const nanos = (at: number) =>
        view.getBigInt64(at, true) * 1_000_000_000n + BigInt(view.getUint32(at + 8, true));
      return {
        isFile: (view.getUint16(28, true) & S_IFMT) === S_IFREG,
        dev: view.getUint32(136, true) * 0x100000 + view.getUint32(140, true),
        ino: Number(view.getBigUint64(32, true)),
        size: Number(view.getBigUint64(40, true)),
        mtimeNs: nanos(112),
        ctimeNs: nanos(96),
      };
    },
    close(fd) {
      lib.symbols.close(fd);
    },
  };
  // A kernel or sandbox without openat2 says so on the first call: then there is none.
  const probe = api.openBelow("/", "");
  if (probe === -ENOSYS || probe === -1 /* EPERM from a seccomp filter */) {
    lib.close();
    return null;
  }
  if (probe >= 0) api.close(probe);
  // A handle is opened for reading through /proc/self/fd: without /proc there is no way to.
  const root = api.openPath("/");
  let procWorks = false;
  try {
    procWorks = root >= 0 && Deno.statSync(`/proc/self/fd/${root}`).isDirectory;
  } catch {
    procWorks = false;
  } finally {
    if (root >= 0) api.close(root);
  }
  if (!procWorks) {
    lib.close();
    return null;
  }
  return api;
}
