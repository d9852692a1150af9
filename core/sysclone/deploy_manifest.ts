// The update half of a sysclone deploy environment: the image's manifest and its files stored
// by content digest, which a cloned node fetches one by one to take only what changed.

import { createHash } from "node:crypto";
import { type ManifestEntry, serializeManifest } from "../../formats/sysclone/image_manifest.ts";

/** What {@linkcode writeDeployManifest} wrote. */
export interface DeployManifest {
  entries: number;
  /** Distinct file contents in the object directory. */
  objects: number;
}

/**
 * Walks `repository` (parents before children, names sorted) and writes `manifestPath` and one
 * object per distinct file content, `<objectsDir>/<sha256>`: a hard link to the repository's
 * file where the file system allows it (so it costs no space; rsync's recapture replaces a
 * changed file by a new inode, leaving the object as it was), else a copy. Sockets are left
 * out (nothing can recreate them). A node checks every object's digest after download, so an
 * object changed in place behind osimg's back is refused, not installed.
 *
 * @example
 * ```ts
 * await writeDeployManifest(repository, `${work}/rootimg.manifest`, `${work}/files`);
 * ```
 */
export async function writeDeployManifest(
  repository: string,
  manifestPath: string,
  objectsDir: string,
): Promise<DeployManifest> {
  await Deno.mkdir(objectsDir, { recursive: true });
  const entries: ManifestEntry[] = [];
  const objects = new Set<string>();
  const walk = async (relative: string): Promise<void> => {
    const names: string[] = [];
    for await (
      const entry of Deno.readDir(relative === "" ? repository : `${repository}/${relative}`)
    ) {
      names.push(entry.name);
    }
    names.sort();
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const host = `${repository}/${path}`;
      const info = await Deno.lstat(host);
      const base = {
        path,
        mode: (info.mode ?? 0) & 0o7777,
        uid: info.uid ?? 0,
        gid: info.gid ?? 0,
        mtime: Math.floor((info.mtime?.getTime() ?? 0) / 1000),
        size: info.size,
      };
      if (info.isDirectory) {
        entries.push({ ...base, type: "d" });
        await walk(path);
      } else if (info.isSymlink) {
        entries.push({ ...base, type: "l", target: await Deno.readLink(host) });
      } else if (info.isFile) {
        const digest = await fileDigest(host);
        entries.push({ ...base, type: "f", digest });
        if (!objects.has(digest)) {
          objects.add(digest);
          await Deno.link(host, `${objectsDir}/${digest}`)
            .catch(() => Deno.copyFile(host, `${objectsDir}/${digest}`));
        }
      } else if (info.isCharDevice || info.isBlockDevice) {
        const rdev = info.rdev ?? 0;
        // Linux's dev_t: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31.
        const major = Math.floor(rdev / 256) & 0xfff;
        const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
        entries.push({
          ...base,
          type: info.isCharDevice ? "c" : "b",
          size: 0,
          device: `${major}:${minor}`,
        });
      } else if (info.isFifo) {
        entries.push({ ...base, type: "p", size: 0 });
      }
    }
  };
  await walk("");
  await Deno.writeTextFile(manifestPath, serializeManifest(entries));
  return { entries: entries.length, objects: objects.size };
}

/** The sha256 of a file's contents, read as a stream. */
async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  // The stream closes the file when it ends.
  const file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}
