// The seam between copycds and where distro media comes from: an ISO file or an unpacked folder.

import type { Progress } from "../progress.ts";

/**
 * Distro media that copycds can inspect and copy, whatever it is stored as. An ISO image is read
 * by osimg's own ISO 9660 decoder (core/copycds/iso_media.ts); a folder is read as it is
 * (core/copycds/directory_media.ts). Both refuse hostile content with an InvalidInputError naming
 * the path inside the media and the rule it breaks, before or while copying, never after.
 */
export interface MediaTree extends AsyncDisposable {
  /** What the user named on the command line, for messages ("rhel-9.2-x86_64-dvd.iso"). */
  readonly source: string;
  /** Bytes of regular-file content in the whole tree, for progress. */
  readonly totalBytes: number;
  /**
   * The content of a small metadata file at a media path ("/.discinfo", "/media.1/products"),
   * or undefined when the path is absent or not a regular file. More than `maxBytes` is an
   * InvalidInputError (a metadata file is never large; this bounds memory on hostile media).
   */
  readFile(path: string, maxBytes: number): Promise<Uint8Array | undefined>;
  /**
   * Copies the whole tree into `destination`, an existing empty directory: regular files,
   * directories and symbolic links with their modes and modification times (owner root).
   * Advances `progress` by the bytes of file content written. On failure the caller removes
   * `destination`; nothing outside it is ever written.
   */
  copyTo(destination: string, progress: Progress): Promise<void>;
  /**
   * A stable identity of the media's content, so a second copycds of the same media can be
   * recognised (`-w` refuses it; a re-run copies nothing). For an ISO: a digest of its volume
   * descriptors and size; for a folder: a digest of its sorted listing (paths, sizes, mtimes).
   */
  fingerprint(): Promise<string>;
}
