// rmimage: remove an image's generated files (and with --xcatdef its definition).

import { readFileSync } from "node:fs";
import type { Context } from "./context.ts";
import { hostPathOf } from "./context.ts";
import { ConflictError } from "./errors.ts";
import { loadOsImage, readInstallDir, readTftpDir, rootImgDir } from "./osimage.ts";
import { isWithin } from "./paths.ts";
import { findProvmethod } from "../providers/provmethods.ts";
import { recoverInterruptedImports } from "./bundle_import.ts";

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
    } catch {
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
