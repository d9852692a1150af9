// Byte ranges copied between open files inside the kernel: copy_file_range(2) through libc's FFI.

const SYMBOLS = {
  copy_file_range: {
    parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"],
    result: "isize",
  },
} as const;

/** Copies `length` bytes at `offset` of `input` to the current position of `output`. */
export type KernelCopy = (input: number, offset: number, output: number, length: number) => boolean;

let opened: KernelCopy | null | undefined;

/**
 * copy_file_range(2), or undefined where it cannot be had (no --allow-ffi, no glibc). The data
 * never passes through this process: for media of a gigabyte that is one memory copy less per
 * byte and a handful of system calls per file instead of a read and a write per window.
 * The function returns false when the kernel refuses this pair of files (EXDEV, EINVAL,
 * EOPNOTSUPP on old kernels or odd file systems) before anything was written: the caller copies
 * through a buffer instead. A source that ends early (0 bytes copied) throws.
 *
 * @example
 * ```ts
 * const copy = kernelCopier();
 * if (!copy?.(isoFd, extent.offset, outFd, extent.length)) window.copy(...);
 * ```
 */
export function kernelCopier(): KernelCopy | undefined {
  if (opened === undefined) {
    try {
      const lib = Deno.dlopen("libc.so.6", SYMBOLS);
      opened = (input, offset, output, length) => {
        const position = new BigInt64Array([BigInt(offset)]);
        let done = 0;
        while (done < length) {
          // At most 1 GiB per call: the syscall's size_t may be capped by the kernel anyway.
          const want = Math.min(length - done, 1 << 30);
          const copied = Number(
            lib.symbols.copy_file_range(input, position, output, null, BigInt(want), 0),
          );
          if (copied < 0) {
            if (done === 0) return false;
            throw new Error(`copy_file_range failed after ${done} of ${length} bytes`);
          }
          if (copied === 0) {
            throw new Error(`the source ended ${length - done} bytes short of ${length}`);
          }
          done += copied;
        }
        return true;
      };
    } catch {
      opened = null;
    }
  }
  return opened ?? undefined;
}
