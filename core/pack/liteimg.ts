// liteimg: prepare a statelite image's root tree from the litefile table (and pack it for ramdisk).

import { findProvmethod } from "../../providers/provmethods/provmethods.ts";
import { dirname, relative } from "node:path";
import type { Context } from "../context.ts";
import { hostPathOf } from "../context.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import { loadOsImage, type OsImage, readInstallDir, rootImgDir } from "../image/osimage.ts";
import { imageLists, packStream, readExlistRules } from "./pack.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";
import { exists, syncDirectory } from "../tree/files.ts";
import { leadsOutsideImage, syncFilesIntoImage } from "../tree/sync_files.ts";
import type { ProcessRunner } from "../process.ts";
import { compileExlist } from "../../formats/xcat/exlist.ts";
import {
  isLinkEntry,
  type LiteEntry,
  parseLitefileSave,
  serializeLitefileSave,
} from "../../formats/xcat/litefile_save.ts";

export type { LiteEntry };

/** The litefile options xCAT accepts (statelite.pm). */
export const LITEFILE_OPTIONS: readonly string[] = [
  "tmpfs",
  "persistent",
  "localdisk",
  "rw",
  "ro",
  "con",
  "link",
  "tmpfs,rw",
  "link,ro",
  "link,persistent",
  "link,con",
];

/** The saved list from the previous liteimg run, in the image. */
const SAVE_FILE = ".statelite/litefile.save";

/** What liteimg did. */
export interface LiteResult {
  entries: LiteEntry[];
  /** The packed ramdisk root (management path), when rootfstype=ramdisk. */
  archive?: string;
}

/**
 * The litefile rows that apply to `image`, as xCAT's ilitefile selects them: rows for a blank
 * image, `ALL`, one of the image's groups, or the image itself (a more specific row wins for
 * the same file); `/etc/mtab` is always `link`; blank options mean `tmpfs,rw`, which liteimg
 * treats as `link`. Sorted by path so parents come before children.
 */
export function selectLiteEntries(
  image: OsImage,
  rows: readonly Record<string, string>[],
): LiteEntry[] {
  const groups = commaList(image.osimage.groups);
  const rank = (owner: string | undefined): number => {
    if (owner === image.name) return 3;
    if (owner !== undefined && groups.includes(owner)) return 2;
    if (owner === "ALL") return 1;
    if (owner === undefined || owner === "") return 0;
    return -1;
  };
  const chosen = new Map<string, { rank: number; options: string }>();
  for (const row of rows) {
    const ownerRank = rank(row.image);
    const file = row.file?.trim();
    if (ownerRank < 0 || !file) continue;
    let options = (row.options ?? "").replace(/\s+/g, "") || "tmpfs,rw";
    if (file === "/etc/mtab") options = "link";
    const previous = chosen.get(file);
    if (!previous || previous.rank < ownerRank) chosen.set(file, { rank: ownerRank, options });
  }
  return [...chosen.entries()]
    .map(([file, { options }]) => ({ file, options: options === "tmpfs,rw" ? "link" : options }))
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** Checks options, paths and parent/child compatibility; returns every problem found. */
export function validateLiteEntries(entries: readonly LiteEntry[]): string[] {
  const problems: string[] = [];
  for (const entry of entries) {
    if (!LITEFILE_OPTIONS.includes(entry.options)) {
      problems.push(
        `Invalid option '${entry.options}' for '${entry.file}': use one of ${
          LITEFILE_OPTIONS.join(", ")
        }.`,
      );
    }
    if (!entry.file.startsWith("/")) {
      problems.push(`The litefile entry '${entry.file}' must be an absolute path.`);
    }
    if (entry.file.endsWith("/") && commaList(entry.options).includes("con")) {
      problems.push(`The option 'con' cannot be used for the directory '${entry.file}'.`);
    }
    if (entry.file.split("/").includes("..")) {
      problems.push(`The litefile entry '${entry.file}' must not contain '..'.`);
    }
  }
  for (const parent of entries) {
    if (!parent.file.endsWith("/")) continue;
    const parentOptions = commaList(parent.options);
    for (const child of entries) {
      if (child === parent || !child.file.startsWith(parent.file)) continue;
      const childOptions = commaList(child.options);
      if (parentOptions.includes("ro") || parentOptions.includes("con")) {
        problems.push(
          `'${parent.file}' is '${parent.options}', so nothing under it can be listed ('${child.file}').`,
        );
      } else if (parentOptions.includes("link") && !childOptions.includes("link")) {
        problems.push(
          `'${child.file}' lies under the link directory '${parent.file}' and must be a link entry too.`,
        );
      } else if (
        parentOptions.includes("persistent") && !childOptions.includes("persistent")
      ) {
        problems.push(
          `'${child.file}' lies under the persistent directory '${parent.file}' and must be persistent too.`,
        );
      }
    }
  }
  return problems;
}

async function copyTree(runner: ProcessRunner, from: string, to: string): Promise<void> {
  await Deno.mkdir(dirname(to), { recursive: true });
  await Deno.remove(to, { recursive: true }).catch(() => {});
  // cp -a keeps owners, modes, links, xattrs and devices: exactly a tree copy inside the image.
  await runner.run(["cp", "-a", "--", from, to]);
}

/**
 * Applies one entry (xCAT's liteMe): a copy of the original goes to `/.default/<path>`; for
 * `link*` entries the original is moved there instead, `/.statelite/tmpfs/<path>` links to it
 * and `<path>` becomes a link into `/.statelite/tmpfs`. Links are relative, so they resolve
 * inside the image wherever it is mounted.
 */
async function applyEntry(
  runner: ProcessRunner,
  rootimg: string,
  entry: LiteEntry,
): Promise<void> {
  const path = entry.file.replace(/\/+$/, "");
  const original = `${rootimg}${path}`;
  const saved = `${rootimg}/.default${path}`;
  const tmpfs = `${rootimg}/.statelite/tmpfs${path}`;
  const isDirectory = entry.file.endsWith("/");
  if (!isLinkEntry(entry)) {
    if (await exists(original)) await copyTree(runner, original, saved);
    return;
  }
  const wanted = relative(dirname(`/${path}`), `/.statelite/tmpfs${path}`);
  const current = await Deno.readLink(original).catch(() => undefined);
  if (current !== wanted) {
    if (await exists(original)) {
      await Deno.mkdir(dirname(saved), { recursive: true });
      await Deno.remove(saved, { recursive: true }).catch(() => {});
      await Deno.rename(original, saved);
    } else if (!(await exists(saved))) {
      // Nothing to keep: give the node an empty file or directory to start from.
      await Deno.mkdir(dirname(saved), { recursive: true });
      if (isDirectory) await Deno.mkdir(saved, { recursive: true });
      else await Deno.writeFile(saved, new Uint8Array());
    }
    await Deno.mkdir(dirname(original), { recursive: true });
    await Deno.symlink(wanted, original);
  }
  await Deno.mkdir(dirname(tmpfs), { recursive: true });
  await Deno.remove(tmpfs, { recursive: true }).catch(() => {});
  await Deno.symlink(relative(dirname(`/.statelite/tmpfs${path}`), `/.default${path}`), tmpfs);
}

/** Undoes an entry of the previous run whose options changed or that was removed. */
async function undoEntry(rootimg: string, entry: LiteEntry): Promise<void> {
  const path = entry.file.replace(/\/+$/, "");
  const original = `${rootimg}${path}`;
  const saved = `${rootimg}/.default${path}`;
  if (isLinkEntry(entry)) {
    const link = await Deno.lstat(original).catch(() => undefined);
    if (link?.isSymlink) await Deno.remove(original);
    if (await exists(saved)) await Deno.rename(saved, original);
    await Deno.remove(`${rootimg}/.statelite/tmpfs${path}`, { recursive: true }).catch(() => {});
  } else {
    await Deno.remove(saved, { recursive: true }).catch(() => {});
  }
}

/** Makes the statelite root line of etc/fstab read-only (`<profile>_<arch> / ... rw` -> `ro`). */
async function readOnlyRootInFstab(rootimg: string, image: OsImage): Promise<void> {
  const { profile, osarch } = image.osimage;
  if (!profile || !osarch) return;
  const fstab = `${rootimg}/etc/fstab`;
  const text = await Deno.readTextFile(fstab).catch(() => undefined);
  if (text === undefined) return;
  const device = `${profile}_${osarch}`;
  const updated = text.split("\n").map((line) => {
    // Fields and the blanks between them, so the line keeps its layout: [dev, " ", dir, ...].
    const parts = line.split(/(\s+)/);
    const offset = parts[0] === "" ? 2 : 0;
    const options = parts[offset + 6];
    if (parts[offset] !== device || options === undefined) return line;
    parts[offset + 6] = options.split(",").map((option) => option === "rw" ? "ro" : option)
      .join(",");
    return parts.join("");
  }).join("\n");
  if (updated !== text) await Deno.writeTextFile(fstab, updated);
}

/**
 * liteimg: prepares the statelite image `name` (xCAT's statelite.pm): validates the litefile
 * entries, moves `link*` files into `/.default` behind links into `/.statelite/tmpfs`, copies
 * the others' originals into `/.default`, records the list in `.statelite/litefile.save`, and
 * when osimage.rootfstype=ramdisk packs `rootimg-statelite.gz` (cpio newc, gzip, exlist).
 * Everything is validated before the image is touched.
 */
export async function liteImage(
  ctx: Context,
  name: string,
  options: { verbose: boolean; sourceDateEpoch?: number },
): Promise<LiteResult> {
  const store = await ctx.store();
  const { image, rootimgdir, rows } = await store.read(async (reader) => {
    const image = await loadOsImage(reader, name);
    if (!findProvmethod(image.osimage.provmethod)?.statelite) {
      throw new InvalidInputError(
        "Please make sure that osimage.provmethod is set to statelite before calling this command.",
      );
    }
    return {
      image,
      rootimgdir: rootImgDir(image, await readInstallDir(reader)),
      rows: await reader.rows("litefile"),
    };
  });
  const rootimg = `${rootimgdir}/rootimg`;
  const rootimgHost = hostPathOf(ctx, rootimg);
  if (!(await Deno.stat(rootimgHost).catch(() => undefined))?.isDirectory) {
    throw new NotFoundError(
      `Cannot prepare image '${name}': '${rootimg}' does not exist. ` +
        `Build it with 'genimage ${name}' (or put the image's root tree there) first.`,
    );
  }
  const entries = selectLiteEntries(image, rows);
  if (entries.length === 0) {
    throw new NotFoundError(`There are no files to sync for ${name}.`);
  }
  const problems = validateLiteEntries(entries);
  if (problems.length > 0) {
    throw new InvalidInputError(`The litefile table has problems for ${name}:`, {
      details: problems,
    });
  }
  const { exlists, synclists } = imageLists(image);
  const rules = image.osimage.rootfstype === "ramdisk"
    // The statelite working trees must stay in this archive: its links point into them.
    ? await readExlistRules(ctx, exlists, { alwaysExcluded: false })
    : undefined;

  // An absolute symlink in the image (var/run -> /run) must not make liteimg move the
  // management node's own files: check every entry before changing anything.
  const escaping: string[] = [];
  for (const entry of entries) {
    const parent = dirname(`${rootimgHost}${entry.file.replace(/\/+$/, "")}`);
    if (await leadsOutsideImage(parent, rootimgHost)) escaping.push(entry.file);
  }
  if (escaping.length > 0) {
    throw new InvalidInputError(
      `Cannot prepare image '${name}': these litefile entries lead outside the image through ` +
        `a symbolic link: ${escaping.join(", ")}.`,
    );
  }

  ctx.reporter.line(`Modifying ${rootimg} ...`);
  await readOnlyRootInFstab(rootimgHost, image);
  if (synclists.length > 0) {
    const report = await syncFilesIntoImage(ctx.root, synclists, rootimgHost);
    for (const note of report.notes) ctx.reporter.note(note);
  }
  const savePath = `${rootimgHost}/${SAVE_FILE}`;
  const previous = parseLitefileSave(await Deno.readTextFile(savePath).catch(() => ""));
  const now = new Map(entries.map((entry) => [entry.file, entry.options]));
  // Children first, so a parent directory moved back does not land on a child's link.
  for (const old of [...previous].reverse()) {
    if (now.get(old.file) !== old.options) {
      if (options.verbose) ctx.reporter.line(`undoing ${old.options} ${old.file}`);
      await undoEntry(rootimgHost, old);
    }
  }
  await Deno.mkdir(`${rootimgHost}/.statelite/tmpfs`, { recursive: true });
  await Deno.mkdir(`${rootimgHost}/.default`, { recursive: true });
  for (const entry of entries) {
    if (options.verbose) ctx.reporter.line(`${entry.options} ${entry.file}`);
    await applyEntry(ctx.runner, rootimgHost, entry);
  }
  await Deno.writeTextFile(savePath, serializeLitefileSave(entries));

  if (rules === undefined) return { entries };
  // rootfstype=ramdisk: the node loads the whole root into RAM from rootimg-statelite.gz.
  const dirHost = hostPathOf(ctx, rootimgdir);
  const temporary = `${dirHost}/.rootimg-statelite.gz.osimg-tmp-${Deno.pid}-${
    crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16)
  }`;
  const progress = ctx.progress(`Packing ${name}`);
  const skipped: string[] = [];
  try {
    await packStream(
      ctx.runner,
      rootimgHost,
      rootimg,
      compileExlist(rules),
      temporary,
      {
        method: "cpio",
        compression: "gzip",
        // xCAT packs statelite ramdisk roots without -xdev.
        oneFileSystem: false,
        ...(options.sourceDateEpoch === undefined
          ? {}
          : { sourceDateEpoch: options.sourceDateEpoch }),
      },
      progress,
      skipped,
    );
    await Deno.chmod(temporary, 0o644);
    await Deno.rename(temporary, `${dirHost}/rootimg-statelite.gz`);
    await syncDirectory(dirHost, { onError: "ignore" });
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  } finally {
    progress.done();
  }
  for (const note of skipped) ctx.reporter.note(note);
  return { entries, archive: `${rootimgdir}/rootimg-statelite.gz` };
}
