// Loading an osimage definition (osimage + linuximage rows) and the paths derived from it.

import type { Row, StoreReader } from "../store/store.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { checkObjectName, pathComponentProblem, shownValue } from "../definitions/object_names.ts";
import { belowProblem, siteDirectoryProblem } from "../paths.ts";
import { SITE_DEFAULTS } from "../store/schema.ts";

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
  // A row written by an older osimg or restored from another site may hold a name that is
  // a path ('..'): every image verb refuses it before building a path from it.
  checkObjectName("osimage", name);
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
  return siteDirectory("installdir", row?.value ?? SITE_DEFAULTS.installdir!);
}

/** site.tftpdir from the store, or /tftpboot. */
export async function readTftpDir(reader: StoreReader): Promise<string> {
  const [row] = await reader.rows("site", { key: "tftpdir" });
  return siteDirectory("tftpdir", row?.value ?? SITE_DEFAULTS.tftpdir!);
}

/**
 * A site directory value without its trailing slashes, refused when it cannot confine what is
 * built below it (see {@linkcode siteDirectoryProblem}).
 */
export function siteDirectory(key: string, value: string): string {
  const dir = value.replace(/\/+$/, "") || "/";
  const problem = siteDirectoryProblem(dir);
  if (problem !== undefined) {
    throw new InvalidInputError(
      `The site attribute ${key}='${shownValue(value)}' is invalid: ${problem}. ` +
        `Set it with 'chdef -t site ${key}=<directory>'.`,
    );
  }
  return dir;
}

/**
 * The image's root image directory (a management-node path): linuximage.rootimgdir, or xCAT's
 * default `<installdir>/netboot/<osvers>/<osarch>/<profile>`.
 */
export function rootImgDir(image: OsImage, installDir: string): string {
  const explicit = image.linuximage.rootimgdir?.replace(/\/+$/, "");
  if (explicit) {
    // xCAT puts every rootimgdir below installdir (genimage's default, imgimport -f); one
    // elsewhere ('/', '/etc', '/install/../etc') would make rmimage and packimage remove and
    // write kernel, initrd-*.gz and rootimg* where they do not belong.
    const problem = belowProblem(installDir, explicit);
    if (problem !== undefined) {
      throw new InvalidInputError(
        `The rootimgdir '${shownValue(explicit)}' of the osimage '${image.name}' is invalid: ` +
          `${problem}. Set it with 'chdef -t osimage -o ${image.name} rootimgdir=<directory below ${installDir}>'.`,
      );
    }
    return explicit;
  }
  const { osvers, osarch, profile } = image.osimage;
  if (!osvers || !osarch || !profile) {
    throw new NotFoundError(
      `The osimage '${image.name}' has no rootimgdir and lacks osvers, osarch or profile to derive one.`,
    );
  }
  // Each value is one directory level of the derived path: a profile of '..' must not make it
  // <installdir>/netboot/<osvers>.
  for (const [what, value] of [["osvers", osvers], ["osarch", osarch], ["profile", profile]]) {
    const problem = pathComponentProblem(what!, value!, `the osimage '${image.name}'`);
    if (problem !== undefined) throw new InvalidInputError(problem);
  }
  return `${installDir}/netboot/${osvers}/${osarch}/${profile}`;
}
