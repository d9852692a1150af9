// Writing boot entries into the TFTP root safely while nodes boot: compare first, write under a
// temporary name and rename into place, replace links by renaming a new link over them, and
// remove what a node no longer has (old IPs' links, stale .uefi/.elilo companions).
//
// A node PXE-booting during a run therefore reads an old entry or a new one, never half of one,
// and a run with nothing to change writes nothing (mtimes and caches stay valid). Each directory
// is listed once; files are read only to compare.

import { dirname, join } from "node:path";
import type { NodeBootFiles } from "../../providers/bootloaders/bootloaders.ts";
import { BOOTLOADERS, type LinkDirectory } from "../../providers/bootloaders/bootloaders.ts";
import type { NodePlan, StagedFile } from "./nodeset_plan.ts";

/** What a write changed, for `-v` and tests. */
export interface BootTreeChanges {
  /** Paths (relative to the TFTP root) written or replaced. */
  written: string[];
  /** Paths removed. */
  removed: string[];
  /** Paths already as wanted. */
  unchanged: number;
}

type EntryKind = "file" | "symlink" | "dir" | "other";

let temporaryCounter = 0;

/** A temporary name beside `path`, unique to this process and call. */
function temporaryPath(path: string): string {
  temporaryCounter++;
  const name = path.slice(path.lastIndexOf("/") + 1);
  return join(dirname(path), `.${name}.osimg-tmp-${Deno.pid}-${temporaryCounter}`);
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Nothing to clean up.
  }
}

const encoder = new TextEncoder();

/**
 * Creates `path` (it must not exist) holding `text`, mode 0644. An open/write/close is a fifth of
 * the time Deno.writeTextFileSync takes (which also truncates and fchmods): at 10,000 entries
 * that is most of nodeset's run.
 */
function writeNewFile(path: string, text: string, chmod: boolean): void {
  const file = Deno.openSync(path, { write: true, createNew: true, mode: 0o644 });
  try {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
  } finally {
    file.close();
  }
  if (chmod) Deno.chmodSync(path, 0o644);
}

/** The boot files of every node in `plans`, rendered in memory. */
export function renderPlans(plans: readonly NodePlan[]): Map<string, NodeBootFiles> {
  const rendered = new Map<string, NodeBootFiles>();
  for (const plan of plans) {
    rendered.set(
      plan.node,
      plan.loader
        ? plan.loader.render(plan.entry, plan.addresses, plan.settings)
        : { files: [], links: [] },
    );
  }
  return rendered;
}

/**
 * Copies each staged file (kernel, initrd) into the TFTP root unless a copy with the same size
 * and modification time is there (the copy keeps the source's mtime, so that is rsync's quick
 * check); returns the paths written.
 */
export function stageFiles(tftpHost: string, staged: readonly StagedFile[]): string[] {
  const written: string[] = [];
  for (const file of staged) {
    const destination = join(tftpHost, file.to);
    const source = Deno.statSync(file.from);
    try {
      const current = Deno.statSync(destination);
      if (
        current.isFile && current.size === source.size &&
        current.mtime?.getTime() === source.mtime?.getTime()
      ) continue;
    } catch {
      // Not staged yet.
    }
    Deno.mkdirSync(dirname(destination), { recursive: true });
    const temporary = temporaryPath(destination);
    try {
      Deno.copyFileSync(file.from, temporary);
      Deno.chmodSync(temporary, 0o644);
      if (source.mtime) Deno.utimeSync(temporary, source.atime ?? source.mtime, source.mtime);
      Deno.renameSync(temporary, destination);
    } catch (error) {
      removeQuietly(temporary);
      throw error;
    }
    written.push(file.to);
  }
  return written;
}

/** The link directories of every loader, once each. */
function allLinkDirectories(): LinkDirectory[] {
  const seen = new Set<string>();
  const dirs: LinkDirectory[] = [];
  for (const loader of BOOTLOADERS) {
    for (const dir of loader.linkDirectories) {
      const key = `${dir.dir}|${dir.kind}|${dir.names.source}`;
      if (seen.has(key)) continue;
      seen.add(key);
      dirs.push(dir);
    }
  }
  return dirs;
}

/**
 * Makes the TFTP root hold exactly the rendered entries of the nodes in `plans`: writes what
 * differs, removes every other file and link of those nodes (of any loader: a node moved from
 * pxe to xnba loses its pxelinux entry). Nodes outside `plans` are not touched.
 */
export function applyBootTree(
  tftpHost: string,
  plans: readonly NodePlan[],
  rendered: ReadonlyMap<string, NodeBootFiles>,
  onNode?: () => void,
): BootTreeChanges {
  const changes: BootTreeChanges = { written: [], removed: [], unchanged: 0 };
  const listings = new Map<string, Map<string, EntryKind>>();
  const listing = (dir: string): Map<string, EntryKind> => {
    let entries = listings.get(dir);
    if (entries) return entries;
    entries = new Map();
    try {
      for (const entry of Deno.readDirSync(join(tftpHost, dir))) {
        entries.set(
          entry.name,
          entry.isSymlink ? "symlink" : entry.isFile ? "file" : entry.isDirectory ? "dir" : "other",
        );
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    listings.set(dir, entries);
    return entries;
  };
  const kindOf = (path: string): EntryKind | undefined => {
    const slash = path.lastIndexOf("/");
    return listing(slash < 0 ? "" : path.slice(0, slash)).get(path.slice(slash + 1));
  };
  const made = new Set<string>();
  const ensureDir = (path: string) => {
    const dir = dirname(path);
    if (made.has(dir)) return;
    Deno.mkdirSync(join(tftpHost, dir), { recursive: true });
    made.add(dir);
  };
  const linkTexts = new Map<string, string | undefined>();
  const readLink = (path: string): string | undefined => {
    if (linkTexts.has(path)) return linkTexts.get(path);
    let text: string | undefined;
    try {
      text = Deno.readLinkSync(join(tftpHost, path));
    } catch {
      text = undefined;
    }
    linkTexts.set(path, text);
    return text;
  };
  const inode = (path: string): string | undefined => {
    try {
      const info = Deno.lstatSync(join(tftpHost, path));
      return info.isFile ? `${info.dev}:${info.ino}` : undefined;
    } catch {
      return undefined;
    }
  };
  // Only what the umask would strip needs a chmod (a TFTP server must read every entry).
  const chmodNeeded = (0o644 & ~Deno.umask()) !== 0o644;
  /** Puts a new version of `path` in place: made under a temporary name, renamed over it. */
  const replaceWith = (path: string, create: (temporary: string) => void) => {
    ensureDir(path);
    const target = join(tftpHost, path);
    const temporary = temporaryPath(target);
    try {
      create(temporary);
      Deno.renameSync(temporary, target);
    } catch (error) {
      removeQuietly(temporary);
      throw error;
    }
    changes.written.push(path);
  };
  /**
   * A link where there is none yet: symlink(2) and link(2) create it atomically, so no temporary
   * name is needed; one found in the way (a race with another run) is replaced by rename.
   */
  const createLink = (path: string, create: (at: string) => void) => {
    ensureDir(path);
    try {
      create(join(tftpHost, path));
      changes.written.push(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      replaceWith(path, create);
    }
  };

  const linkDirectories = allLinkDirectories();
  // The inodes of the entries hard links may share, before anything is rewritten: a link still
  // sharing an old entry's inode belongs to that node.
  const entryInodes = new Set<string>();
  const entryTexts = new Set<string>();
  for (const plan of plans) {
    for (const dir of linkDirectories) {
      const entry = dir.entryOf(plan.node);
      if (dir.kind === "symlink") entryTexts.add(`${dir.dir}|${entry}`);
      else if (kindOf(entry) === "file") {
        const found = inode(entry);
        if (found !== undefined) entryInodes.add(found);
      }
    }
  }

  const wanted = new Set<string>();
  const targetInodes = new Map<string, string | undefined>();
  for (const plan of plans) {
    const files = rendered.get(plan.node) ?? { files: [], links: [] };
    for (const file of files.files) {
      wanted.add(file.path);
      const absolute = join(tftpHost, file.path);
      if (kindOf(file.path) === "file") {
        let current: string | undefined;
        try {
          current = Deno.readTextFileSync(absolute);
        } catch {
          current = undefined;
        }
        if (current === file.text) {
          changes.unchanged++;
          continue;
        }
      }
      replaceWith(file.path, (temporary) => writeNewFile(temporary, file.text, chmodNeeded));
      // A rewritten entry has a new inode: hard links to it must be made again.
      targetInodes.delete(file.path);
    }
    for (const link of files.links) {
      wanted.add(link.path);
      const existing = kindOf(link.path);
      if (link.kind === "symlink") {
        const make = (at: string) => Deno.symlinkSync(link.target, at);
        if (existing === undefined) createLink(link.path, make);
        else if (existing === "symlink" && readLink(link.path) === link.target) changes.unchanged++;
        else replaceWith(link.path, make);
      } else {
        const make = (at: string) => Deno.linkSync(join(tftpHost, link.target), at);
        if (existing === undefined) createLink(link.path, make);
        else {
          let target = targetInodes.get(link.target);
          if (target === undefined) targetInodes.set(link.target, target = inode(link.target));
          if (target !== undefined && existing === "file" && inode(link.path) === target) {
            changes.unchanged++;
          } else replaceWith(link.path, make);
        }
      }
    }
    onNode?.();
  }

  const remove = (path: string) => {
    try {
      Deno.removeSync(join(tftpHost, path));
      changes.removed.push(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  };
  // Links of these nodes that are not part of their new entries: an old IP's, an old MAC's.
  for (const dir of linkDirectories) {
    for (const [name, kind] of listing(dir.dir)) {
      if (!dir.names.test(name)) continue;
      const path = dir.dir === "" ? name : `${dir.dir}/${name}`;
      if (wanted.has(path)) continue;
      if (dir.kind === "symlink") {
        const text = kind === "symlink" ? readLink(path) : undefined;
        if (text !== undefined && entryTexts.has(`${dir.dir}|${text}`)) remove(path);
      } else if (kind === "file") {
        const found = inode(path);
        if (found !== undefined && entryInodes.has(found)) remove(path);
      }
    }
  }
  // Every other path any loader keeps for these nodes (stale .uefi/.elilo, another loader's
  // entry, grub2-<node> after a local boot).
  for (const plan of plans) {
    for (const loader of BOOTLOADERS) {
      for (const path of loader.nodePaths(plan.node)) {
        if (wanted.has(path)) continue;
        const kind = kindOf(path);
        if (kind === "file" || kind === "symlink") remove(path);
      }
    }
  }
  return changes;
}
