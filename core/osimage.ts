// Loading an osimage definition (osimage + linuximage rows) and the paths derived from it.

import type { Row, StoreReader } from "./store.ts";
import { NotFoundError } from "./errors.ts";
import { SITE_DEFAULTS } from "./schema.ts";

/** An osimage as its two tables hold it. */
export interface OsImage {
  name: string;
  /** The osimage row (always present). */
  osimage: Row;
  /** The linuximage row ({} when the image has none). */
  linuximage: Row;
}

/** Loads the osimage `name`, or fails with xCAT's message. */
export async function loadOsImage(reader: StoreReader, name: string): Promise<OsImage> {
  const [osimage] = await reader.rows("osimage", { imagename: name });
  if (!osimage) {
    throw new NotFoundError(`Could not find an object named '${name}' of type 'osimage'.`);
  }
  const [linuximage] = await reader.rows("linuximage", { imagename: name });
  return { name, osimage, linuximage: linuximage ?? {} };
}

/** site.installdir from the store, or /install. */
export async function readInstallDir(reader: StoreReader): Promise<string> {
  const [row] = await reader.rows("site", { key: "installdir" });
  return (row?.value ?? SITE_DEFAULTS.installdir!).replace(/\/+$/, "") || "/";
}

/** site.tftpdir from the store, or /tftpboot. */
export async function readTftpDir(reader: StoreReader): Promise<string> {
  const [row] = await reader.rows("site", { key: "tftpdir" });
  return (row?.value ?? SITE_DEFAULTS.tftpdir!).replace(/\/+$/, "") || "/";
}

/**
 * The image's root image directory (a management-node path): linuximage.rootimgdir, or xCAT's
 * default `<installdir>/netboot/<osvers>/<osarch>/<profile>`.
 */
export function rootImgDir(image: OsImage, installDir: string): string {
  const explicit = image.linuximage.rootimgdir?.replace(/\/+$/, "");
  if (explicit) return explicit;
  const { osvers, osarch, profile } = image.osimage;
  if (!osvers || !osarch || !profile) {
    throw new NotFoundError(
      `The osimage '${image.name}' has no rootimgdir and lacks osvers, osarch or profile to derive one.`,
    );
  }
  return `${installDir}/netboot/${osvers}/${osarch}/${profile}`;
}
