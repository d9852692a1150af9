// Which MediaTree a copycds argument is: a folder (unpacked media) or an ISO image file.

import { InvalidInputError, NotFoundError } from "../errors.ts";
import { openDirectoryMedia } from "./directory_media.ts";
import type { MediaTree } from "./media_tree.ts";

/**
 * Opens what the user named: a directory as unpacked media; a regular file or a block device
 * as an ISO 9660 image. The ISO reader (core/copycds/iso_media.ts, `openIsoMedia`) is built on
 * its own branch: until it is merged, this is the one place that names it, and an image file is
 * refused with a message saying what this build reads.
 *
 * @example
 * ```ts
 * await using media = await openMedia("/iso/Rocky-9.3-x86_64-dvd.iso");
 * ```
 */
export async function openMedia(path: string): Promise<MediaTree> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `The management server was unable to find/read ${path}. Ensure that file exists on the server at the specified location.`,
      );
    }
    throw error;
  }
  if (info.isDirectory) return await openDirectoryMedia(path);
  throw new InvalidInputError(
    `copycds cannot read '${path}': this osimg build copies media folders only (an unpacked or mounted disc), not ISO image files.`,
  );
}
