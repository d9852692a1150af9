// Which MediaTree a copycds argument is: a folder (unpacked media) or an ISO image file.

import { openDirectoryMedia, statMedia } from "./directory_media.ts";
import { openIsoMedia } from "./iso_media.ts";
import type { MediaTree } from "./media_tree.ts";

/**
 * Opens what the user named: a directory as unpacked media; anything else (an ISO file, a
 * block device holding a disc) as an ISO 9660 image, read by osimg's own decoder — no mount,
 * no root privileges, no bsdtar or xorriso at run time.
 *
 * @example
 * ```ts
 * await using media = await openMedia("/iso/Rocky-9.3-x86_64-dvd.iso");
 * ```
 */
export async function openMedia(path: string): Promise<MediaTree> {
  const info = await statMedia(path);
  if (info.isDirectory) return await openDirectoryMedia(path);
  return await openIsoMedia(path);
}
