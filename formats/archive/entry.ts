// The one entry type shared by the tree walker, the cpio and tar writers and the extractors.

/** Metadata every archive entry carries, whatever its kind. */
export interface EntryMeta {
  /** Path relative to the archive root, "/"-separated, no leading "./" or "/" ("usr/bin/ls"). */
  path: string;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777), never the file type bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Owner and group names; empty when unknown. */
  uname: string;
  gname: string;
  /** Modification time in whole seconds since the epoch. */
  mtime: number;
  /** Extended attributes as raw bytes (security.capability is binary). */
  xattrs: ReadonlyMap<string, Uint8Array>;
}

/** Where a regular file's bytes come from: read lazily so writers can stream. */
export interface FileContent {
  /** Size in bytes, as declared. */
  size: number;
  /** Yields exactly `size` bytes; a source that yields more or fewer is an error. */
  open(): AsyncIterable<Uint8Array>;
  /**
   * Optional: the same bytes read synchronously straight into the writer's own buffers, saving
   * an allocation and a copy per file (the tree walker has it; packimage's cpio and tar use it).
   */
  openSync?(): SyncContent;
}

/** A FileContent opened for synchronous reads (see FileContent.openSync). Dispose to close. */
export interface SyncContent extends Disposable {
  /**
   * Reads the next bytes into `into` from its start; returns how many (never more than are left
   * of the declared size, 0 only when `into` is empty or all of it was read). A source that ends
   * early throws IntegrityError.
   */
  read(into: Uint8Array): number;
  /** Throws IntegrityError when the source holds more than its declared size. */
  finish(): void;
}

export type Entry =
  | EntryMeta & {
    kind: "file";
    content: FileContent;
    /**
     * How many names this file has (st_nlink) when it is the first of a hard-linked set, so
     * cpio can mark it (the kernel's unpacker only records inodes with nlink >= 2). 1 otherwise.
     */
    links?: number;
  }
  | EntryMeta & { kind: "dir" }
  | EntryMeta & { kind: "symlink"; target: string }
  /** A second name for a file already emitted earlier in the same stream (`target` is its path). */
  | EntryMeta & { kind: "hardlink"; target: string }
  | EntryMeta & { kind: "chardev"; devmajor: number; devminor: number }
  | EntryMeta & { kind: "blockdev"; devmajor: number; devminor: number }
  | EntryMeta & { kind: "fifo" };

export type EntryKind = Entry["kind"];

/** Compile-time exhaustiveness guard for switches over `Entry["kind"]`. */
export function assertNever(value: never): never {
  throw new Error(`unexpected entry kind: ${JSON.stringify(value)}`);
}

/** An in-memory file content, for tests and small generated members. */
export function bytesContent(bytes: Uint8Array): FileContent {
  return {
    size: bytes.byteLength,
    async *open() {
      yield bytes;
    },
  };
}

/** Default metadata: root-owned, mtime 0, no xattrs. */
export function baseMeta(path: string, mode: number): EntryMeta {
  return { path, mode, uid: 0, gid: 0, uname: "root", gname: "root", mtime: 0, xattrs: new Map() };
}
