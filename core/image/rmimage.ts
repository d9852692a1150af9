// rmimage: remove an image's generated files (and with --xcatdef its definition).

import { readFileSync } from "node:fs";
import type { Context } from "../context.ts";
import { hostPathOf } from "../context.ts";
import { ConflictError, IntegrityError, NotFoundError } from "../errors.ts";
import { checkObjectName } from "../definitions/object_names.ts";
import { loadOsImage, readInstallDir, readTftpDir, rootImgDir } from "./osimage.ts";
import { belowProblem, isWithin } from "../paths.ts";
import { findProvmethod } from "../../providers/provmethods/provmethods.ts";
import { recoverInterruptedImports } from "../bundle/bundle_import.ts";

/** What rmimage removed. */
export interface RemoveImageResult {
  /** Management-node paths removed. */
  removed: string[];
  definitionRemoved: boolean;
}

/** Mount points (from /proc/self/mountinfo) at or below `dir`. */
function mountsBelow(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const unescape = (value: string) =>
    value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return text.split("\n").map((line) => unescape(line.split(" ")[4] ?? "")).filter((point) =>
    point !== "" && isWithin(dir, point)
  );
}

async function removePath(path: string): Promise<boolean> {
  try {
    await Deno.remove(path, { recursive: true });
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Removes rootimg/, kernel, initrds, packed root images and /tftpboot/xcat/osimage/<image>/.
 * Refuses while anything is mounted inside rootimg/ (a recursive delete would go through
 * a bind-mounted /dev or /proc into the host).
 */
export async function removeImage(
  ctx: Context,
  name: string,
  options: { removeDefinition: boolean },
): Promise<RemoveImageResult> {
  // The name becomes <tftpdir>/xcat/osimage/<name>: '..' would be all of <tftpdir>/xcat. It is
  // refused before anything happens, the recovery of an interrupted import included.
  checkObjectName("osimage", name);
  // An import killed half-way must be finished or undone before files are removed under it.
  await recoverInterruptedImports(ctx);
  const store = await ctx.store();
  const { image, installDir, tftpDir } = await store.read(async (reader) => ({
    image: await loadOsImage(reader, name),
    installDir: await readInstallDir(reader),
    tftpDir: await readTftpDir(reader),
  }));
  const removed: string[] = [];
  const candidates: string[] = [];
  // Images with a diskless root (or an unknown provmethod that may have one) keep files under
  // rootimgdir; install images have none.
  const provmethod = findProvmethod(image.osimage.provmethod);
  if (!provmethod || provmethod.disklessRoot) {
    let imageDir: string | undefined;
    try {
      imageDir = rootImgDir(image, installDir);
    } catch (error) {
      // No rootimgdir to derive means no files there; an unsafe one refuses the whole removal.
      if (!(error instanceof NotFoundError)) throw error;
      imageDir = undefined;
    }
    if (imageDir) {
      const hostDir = hostPathOf(ctx, imageDir);
      const mounts = mountsBelow(`${hostDir}/rootimg`);
      if (mounts.length > 0) {
        throw new ConflictError(
          `Cannot remove the image '${name}': ${mounts[0]} is mounted inside its rootimg. ` +
            `Unmount it first.`,
        );
      }
      candidates.push(`${imageDir}/rootimg`);
      let entries: string[] = [];
      try {
        entries = [...Deno.readDirSync(hostDir)].map((entry) => entry.name);
      } catch {
        entries = [];
      }
      for (const entry of entries.sort()) {
        if (
          entry === "kernel" || /^initrd-.*\.gz$/.test(entry) || /^rootimg[.-]/.test(entry)
        ) candidates.push(`${imageDir}/${entry}`);
      }
    }
  }
  candidates.push(`${tftpDir}/xcat/osimage/${name}`);
  // Every path is checked before the first removal: each lies strictly below the directory it
  // belongs to (the name and rootimgdir checks above make this hold; this keeps it holding).
  for (const path of candidates) {
    const tftpImages = `${tftpDir}/xcat/osimage`;
    const problem = belowProblem(path.startsWith(`${tftpImages}/`) ? tftpImages : installDir, path);
    if (problem !== undefined) {
      throw new IntegrityError(
        `Cannot remove the image '${name}': the path '${path}' is invalid: ${problem}.`,
      );
    }
  }
  for (const path of candidates) {
    if (await removePath(hostPathOf(ctx, path))) removed.push(path);
  }
  if (options.removeDefinition) {
    await store.write(async (writer) => {
      await writer.delete("osimage", { imagename: name });
      await writer.delete("linuximage", { imagename: name });
    });
  }
  return { removed, definitionRemoved: options.removeDefinition };
}
