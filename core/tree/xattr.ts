// Extended attributes through libc (Deno has no xattr API): llistxattr/lgetxattr over FFI.

/** Reads a path's extended attributes without following a final symlink. */
export interface XattrReader {
  /**
   * Every attribute of `path` as raw bytes, names in byte order. Empty when the file system has
   * no xattr support. Throws XattrError for anything else (the path vanished, permission).
   */
  read(path: string): Map<string, Uint8Array>;
}

/** A failed xattr call, with the C errno. */
export class XattrError extends Error {
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(message);
    this.name = "XattrError";
    this.errno = errno;
  }
}

// errno values from <asm-generic/errno-base.h> and <asm-generic/errno.h> (x86-64 and arm64 agree).
const ENOENT = 2;
const ENODATA = 61;
const EOPNOTSUPP = 95;

/** XATTR_LIST_MAX and XATTR_SIZE_MAX (<linux/limits.h>): one buffer this size always suffices. */
const XATTR_MAX = 65536;

const SYMBOLS = {
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let opened: XattrReader | string | undefined;

/**
 * The process-wide reader, or why there is none (no --allow-ffi, no glibc). Opened once.
 *
 * @example
 * ```ts
 * const reader = xattrReader();
 * if (typeof reader !== "string") reader.read("/usr/bin/ping"); // Map { "security.capability" => … }
 * ```
 */
export function xattrReader(): XattrReader | string {
  if (opened === undefined) {
    try {
      opened = libcReader(Deno.dlopen("libc.so.6", SYMBOLS));
    } catch (error) {
      opened = `cannot load libc.so.6 through FFI (${
        error instanceof Error ? error.message : String(error)
      })`;
    }
  }
  return opened;
}

function libcReader(lib: Deno.DynamicLibrary<typeof SYMBOLS>): XattrReader {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const names = new Uint8Array(XATTR_MAX);
  const value = new Uint8Array(XATTR_MAX);
  const errno = (): number => {
    const pointer = lib.symbols.__errno_location();
    return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
  };
  return {
    read(path) {
      const attributes = new Map<string, Uint8Array>();
      const cPath = encoder.encode(path + "\0");
      const listed = Number(lib.symbols.llistxattr(cPath, names, BigInt(XATTR_MAX)));
      if (listed < 0) {
        const code = errno();
        if (code === EOPNOTSUPP) return attributes;
        throw new XattrError(`llistxattr failed with errno ${code}`, code);
      }
      const keys: Uint8Array[] = [];
      let start = 0;
      for (let index = 0; index < listed; index++) {
        if (names[index] === 0) {
          if (index > start) keys.push(names.slice(start, index + 1)); // keeps the NUL for C
          start = index + 1;
        }
      }
      keys.sort(compareBytes);
      for (const key of keys) {
        const size = Number(lib.symbols.lgetxattr(cPath, key, value, BigInt(XATTR_MAX)));
        if (size < 0) {
          const code = errno();
          if (code === ENODATA) continue; // removed between the two calls
          throw new XattrError(`lgetxattr failed with errno ${code}`, code);
        }
        attributes.set(decoder.decode(key.subarray(0, key.length - 1)), value.slice(0, size));
      }
      return attributes;
    },
  };
}

/** Whether an XattrError means the file itself is gone. */
export function isVanished(error: unknown): boolean {
  return error instanceof XattrError && error.errno === ENOENT;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    if (a[index] !== b[index]) return a[index]! - b[index]!;
  }
  return a.length - b.length;
}
