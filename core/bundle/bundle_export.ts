// imgexport: plans an osimage's xCAT-compatible bundle (rows, files, manifest, SHA256SUMS) and writes it reproducibly.

import { architectureOf } from "../../providers/distros/architectures.ts";
import { distroOf } from "../../providers/distros/distros.ts";
import { matchProvmethod, type Provmethod } from "../../providers/provmethods/provmethods.ts";
import { createHash } from "node:crypto";
import { basename, dirname, posix } from "node:path";
import type { Context } from "../context.ts";
import { hostPathOf } from "../context.ts";
import {
  ConflictError,
  IntegrityError,
  InvalidInputError,
  NotFoundError,
  OsimgError,
} from "../errors.ts";
import { checkObjectName } from "../definitions/object_names.ts";
import { type OsImage, readInstallDir, rootImgDir } from "../image/osimage.ts";
import type { Row, StoreReader } from "../store/store.ts";
import { compress, type Compression, COMPRESSORS } from "../compress/compress.ts";
import type { ProcessRunner } from "../process.ts";
import { archiveName, PACK_COMPRESSIONS, PACK_METHODS } from "../pack/pack.ts";
import { comparePaths, compareUtf8, walkTree } from "../tree/walk.ts";
import { fileChunks } from "../tree/files.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";
import { tarStream } from "../../formats/archive/tar.ts";
import { cpioStream } from "../../formats/archive/cpio_newc.ts";
import type { Entry, EntryMeta, FileContent } from "../../formats/archive/entry.ts";
import {
  type Manifest,
  type ManifestRow,
  serializeManifest,
} from "../../formats/xcat/manifest_xml.ts";
import { serializeSha256Sums } from "../../formats/xcat/sha256sums.ts";
import type { Progress } from "../progress.ts";
import type { Reporter } from "../reporter.ts";
import {
  type PreparedSignature,
  prepareSignatureFile,
  signaturePathOf,
  signPrehashed,
  trustedCommentFor,
} from "../sign/file_signature.ts";
import { PrehashWorker } from "../sign/prehash_worker.ts";
import type { SigningKey } from "../sign/minisign_keys.ts";

/** What to export and how. Host paths are already resolved by the command. */
export interface ExportRequest {
  image: string;
  /** Host path of the bundle, or of a directory to put `<image>.tgz` in; default ctx.cwd. */
  destination?: string;
  /** `-e src[:dest]` values (management-node paths). */
  extras?: readonly string[];
  /** `-p node`: add the node's resolved postscripts lists. */
  postscriptsNode?: string;
  compression?: Compression;
  /** Clamp every mtime to this (SOURCE_DATE_EPOCH); default: the newest mtime of the inputs. */
  sourceDateEpoch?: number;
  verbose?: boolean;
  /**
   * A snapshot rather than a bundle for xCAT: carries a netboot image's unpacked `rootimg/`
   * tree as `rootimgtree.gz` (xCAT's bundle has only the packed image); keeps columns released
   * xCAT lacks (nfsrootopts), which osimg's import reads; leaves out `<media>required</media>`
   * so restoring does not depend on copycds; and writes only the image's own litefile rows, so
   * a restore gives back exactly those.
   */
  forSnapshot?: boolean;
  /**
   * Sign the bundle with this key: `<bundle>.minisig` (minisign's prehashed signature, its
   * trusted comment naming the image, osimg's version, the size and the SHA-256), hashed while
   * the bundle is written.
   */
  signingKey?: SigningKey;
  /** The file name the trusted comment gives, from the bundle's SHA-256 (a snapshot's blob name). */
  signedName?: (sha256: string) => string;
}

/** The bundle written. */
export interface ExportResult {
  imageName: string;
  /** Host path of the bundle. */
  path: string;
  bytes: number;
  /**
   * SHA-256 of the bundle file (hex), computed only for snapshots (their store is addressed by
   * it) and signed bundles: hashing the whole output costs a second of main-thread CPU per
   * 300 MB on a CPU without SHA extensions.
   */
  sha256?: string;
  /** Host path of the signature written beside the bundle, when it was signed. */
  signaturePath?: string;
  manifest: Manifest;
}

/** osimage columns real (released) xCAT lacks: writing them makes its row insert fail (§5.2-2). */
const COLUMNS_UNKNOWN_TO_XCAT: Readonly<Record<string, readonly string[]>> = {
  osimage: ["nfsrootopts"],
  linuximage: [],
};
/** xCAT's search order for the packed root image in rootimgdir (SvrUtils searchcompressedrootimg). */
const XCAT_ROOTIMG_NAMES = [
  "rootimg.cpio.gz",
  "rootimg.cpio.xz",
  "rootimg.tar.gz",
  "rootimg.tar.xz",
  "rootimg.sfs",
  "rootimg.gz",
];
/**
 * Every packed root image name looked for: xCAT's, in xCAT's order (so an image xCAT could use
 * exports as xCAT would export it), then every other name packimage writes (zstd, no
 * compression), taken from packimage's own naming so a new packing is never missed.
 */
export const ROOTIMG_NAMES: readonly string[] = [
  ...new Set([
    ...XCAT_ROOTIMG_NAMES,
    ...PACK_METHODS.flatMap((method) =>
      PACK_COMPRESSIONS.map((compression) => archiveName(method, compression))
    ),
  ]),
];
const XCAT_SHARE = "/opt/xcat/share/xcat";
const MANIFEST = "manifest.xml";
const SUMS = "SHA256SUMS";

/** A file to bundle, read from disk when the archive gets to it. */
interface DiskSource {
  kind: "disk";
  hostPath: string;
  /** What messages call it (a management-node path). */
  label: string;
}
/** Bytes made here (manifest, SHA256SUMS, litefile.csv). */
interface BytesSource {
  kind: "bytes";
  bytes: Uint8Array;
}

/** One archive member with where its bytes come from. */
export interface PlannedMember {
  entry: Entry;
  /** Made here (directories like extra/): its mtime is the bundle's epoch. */
  generated?: boolean;
  source?: DiskSource | BytesSource;
  digest?: string;
  /** The disk file's identity (size, times, inode) when `digest` was computed. */
  stamp?: string;
}

/** An export worked out completely before any byte is written. */
export interface ExportPlan {
  image: OsImage;
  /** The image directory's name in the archive (whitespace -> "_"). */
  directory: string;
  manifest: Manifest;
  /** Members other than manifest.xml, SHA256SUMS, the image directory and a generated rootimgtree.gz. */
  members: PlannedMember[];
  /** Host path of the `rootimg/` tree to pack as rootimgtree.gz, if any. */
  rootTree?: string;
  /** mtime of generated members and upper bound of every other one. */
  epoch: number;
  sourceDateEpoch?: number;
}

/**
 * Exports `request.image` into a bundle; nothing is left behind when it fails. The lines xCAT
 * prints (and, with `verbose`, every file bundled) and the warnings go to `ctx.reporter`.
 */
export async function exportImage(ctx: Context, request: ExportRequest): Promise<ExportResult> {
  // The name is the bundle's top directory and the default file name: '..' would make a
  // bundle whose members leave the image directory.
  checkObjectName("osimage", request.image);
  const compression = request.compression ?? "gzip";
  const destination = await resolveDestination(
    ctx,
    request.destination,
    request.image,
    compression,
  );
  const { reporter } = ctx;
  reporter.line(`Exporting ${request.image} to ${destination}...`);
  const plan = await planExport(ctx, request);
  if (request.verbose) {
    for (const member of plan.members) {
      if (member.source?.kind === "disk" && member.entry.kind === "file") {
        reporter.line(member.source.label);
      }
    }
  }
  reporter.line(`Compressing ${plan.image.name} bundle.  Please be patient.`);
  const result = await writeBundle(
    ctx.runner,
    plan,
    destination,
    compression,
    (title, total) => ctx.progress(title, total),
    {
      digest: request.forSnapshot ?? false,
      sign: request.signingKey &&
        { key: request.signingKey, image: plan.image.name, fileName: request.signedName },
    },
  );
  reporter.line("Done!");
  return { ...result, imageName: plan.image.name, manifest: plan.manifest };
}

/** Where the bundle goes: the destination as given, a directory -> `<image>.tgz` inside it. */
async function resolveDestination(
  ctx: Context,
  destination: string | undefined,
  imageName: string,
  compression: Compression,
): Promise<string> {
  const defaultName = imageName.replace(/\s+/g, "_") + COMPRESSORS[compression].bundleExtension;
  if (destination === undefined || destination === "") return posix.join(ctx.cwd, defaultName);
  const resolved = posix.resolve(ctx.cwd, destination);
  const info = await Deno.stat(resolved).catch(() => undefined);
  if (info?.isDirectory) return posix.join(resolved, defaultName);
  const wantsDirectory = destination.endsWith("/");
  const directory = wantsDirectory ? resolved : dirname(resolved);
  const parent = await Deno.stat(directory).catch(() => undefined);
  if (!parent?.isDirectory) {
    throw new NotFoundError(
      `Cannot export image '${imageName}': the directory '${
        wantsDirectory ? destination : directory
      }' does not exist`,
    );
  }
  return resolved;
}

// ---------------------------------------------------------------------------------------------
// Planning: everything is read and checked here, before anything is written. One step per step
// of xCAT's imgexport: the rows (get_image_info), the files per provmethod (get_files), the
// listed files, litefile.csv, kit directories and extras (make_bundle).

/** What every planning step reads and adds to. */
interface ExportPlanning {
  ctx: Context;
  request: ExportRequest;
  image: OsImage;
  installDir: string;
  /** The provmethod the image's value means (xCAT's unanchored first match). */
  provmethod: Provmethod;
  /** The image directory's name in the archive. */
  directory: string;
  manifest: Manifest;
  members: PlannedMember[];
  /** What each top-level name in the image directory holds, for clear collisions. */
  memberNames: Map<string, string>;
}

/** Everything read from the store, in one read transaction. */
interface ExportRows {
  image: OsImage;
  installDir: string;
  kits: Pick<Manifest, "kit" | "kitrepo" | "kitcomp">;
  postscripts: Pick<Manifest, "postscripts" | "postbootscripts">;
  litefileRows: Row[];
}

/** Reads the definition and finds every file; any problem throws before a byte is written. */
export async function planExport(ctx: Context, request: ExportRequest): Promise<ExportPlan> {
  checkObjectName("osimage", request.image);
  const rows = await readExportRows(ctx, request);
  const name = request.image;
  const planning: ExportPlanning = {
    ctx,
    request,
    image: rows.image,
    installDir: rows.installDir,
    // loadExportImage refused a provmethod that matches none.
    provmethod: matchProvmethod(rows.image.osimage.provmethod!)!,
    directory: name.replace(/\s+/g, "_"),
    manifest: exportManifest(rows, request, ctx.reporter),
    members: [],
    memberNames: new Map([[MANIFEST, "the manifest"], [SUMS, "the checksum list"]]),
  };
  const rootTree = await findProvmethodFiles(planning);
  if (planning.manifest.rootimgtree) {
    claimMemberName(planning, "rootimgtree.gz", planning.manifest.rootimgtree);
  }
  await addListedFiles(planning);
  if (planning.provmethod.statelite) addLitefileCsv(planning, rows.litefileRows);
  await addKitDirectories(planning);
  await addExtras(planning);
  checkUniqueMemberPaths(planning);
  const epoch = clampMtimes(planning.members, request.sourceDateEpoch);
  return {
    image: planning.image,
    directory: planning.directory,
    manifest: planning.manifest,
    members: orderMembers(planning.members),
    rootTree,
    epoch,
    sourceDateEpoch: request.sourceDateEpoch,
  };
}

/** get_image_info: the image's rows, its kits, the -p node's postscripts and the litefile rows. */
async function readExportRows(ctx: Context, request: ExportRequest): Promise<ExportRows> {
  const store = await ctx.store();
  return await store.read(async (reader) => {
    const image = await loadExportImage(reader, request.image);
    const installDir = await readInstallDir(reader);
    // Kits are shared objects of their own, not part of the image: a snapshot keeps the
    // image's kitcomponents column but leaves kits (and their import side effects) alone.
    const kits = request.forSnapshot
      ? { kit: {}, kitrepo: {}, kitcomp: {} }
      : await loadKits(reader, image);
    const postscripts = request.postscriptsNode === undefined
      ? {}
      : await nodePostscripts(reader, request.postscriptsNode);
    const litefileRows = matchProvmethod(image.osimage.provmethod!)?.statelite
      ? await selectLitefileRows(reader, image, request.forSnapshot ?? false)
      : [];
    return { image, installDir, kits, postscripts, litefileRows };
  });
}

/** The manifest's rows, kits and postscripts; columns released xCAT lacks left out with a warning. */
function exportManifest(
  rows: ExportRows,
  request: ExportRequest,
  reporter: Pick<Reporter, "warn">,
): Manifest {
  const osimage: ManifestRow = { ...rows.image.osimage };
  const linuximage: ManifestRow = { ...rows.image.linuximage };
  for (const [table, row] of [["osimage", osimage], ["linuximage", linuximage]] as const) {
    for (const column of request.forSnapshot ? [] : COLUMNS_UNKNOWN_TO_XCAT[table]!) {
      if (row[column]) {
        reporter.warn(
          `The ${table} column '${column}' (${
            row[column]
          }) of '${request.image}' is not exported: ` +
            "released xCAT has no such column and would fail to import the row",
        );
        delete row[column];
      }
    }
  }
  return {
    osimage,
    linuximage,
    extra: [],
    kit: rows.kits.kit,
    kitrepo: rows.kits.kitrepo,
    kitcomp: rows.kits.kitcomp,
    ...rows.postscripts,
  };
}

/**
 * get_files: what the provmethod's bundle carries, asked of the providers — a template (and
 * media), raw disk images, or a pkglist with kernel, initrd and packed root image or root tree.
 * Returns the host path of the `rootimg/` tree to pack as rootimgtree.gz, if any.
 */
async function findProvmethodFiles(planning: ExportPlanning): Promise<string | undefined> {
  const { image, provmethod, request, manifest, installDir } = planning;
  const name = image.name;
  const [osvers, osarch, profile] = imageKeys(image);
  if (provmethod.usesTemplate) {
    await findListFile(planning, "template", "tmpl", "install template");
    if (provmethod.needsMedia && !request.forSnapshot) manifest.media = "required";
    return undefined;
  }
  if (provmethod.supportedOsarch && !provmethod.supportedOsarch.test(osarch)) {
    throw new InvalidInputError(
      `Exporting images with 'provemethod' ${provmethod.name} is not supported for osarch '${osarch}'`,
    );
  }
  if (distroOf(osvers)?.noBootFiles) return undefined;
  if (provmethod.rawImages && architectureOf(osarch)?.rawDiskImages) {
    manifest.rawimagefiles = await rawImageFiles(
      planning.ctx,
      `${installDir}/${provmethod.rawImages.dir}/${osvers}/${osarch}/${profile}`,
    );
    return undefined;
  }
  if (!provmethod.bootFiles) return undefined;
  await findListFile(planning, "pkglist", "pkglist", "pkglist file");
  return await findBootFiles(planning, provmethod.bootFiles, name);
}

/**
 * xCAT's search for the template or pkglist when its linuximage column is empty: in
 * `<installdir>/custom/<profileDir>`, then the xCAT share directory; found, it is printed and
 * recorded in the column.
 */
async function findListFile(
  planning: ExportPlanning,
  column: "template" | "pkglist",
  extension: "tmpl" | "pkglist",
  what: string,
): Promise<void> {
  const linuximage = planning.manifest.linuximage;
  if (linuximage[column]) return;
  const profileDir = planning.provmethod.profileDir;
  const found = await lookForListFile(planning.ctx, extension, [
    `${planning.installDir}/custom/${profileDir}`,
    `${XCAT_SHARE}/${profileDir}`,
  ], planning.image);
  if (!found) throw new NotFoundError(`Couldn't find ${what} for ${planning.image.name}`);
  planning.ctx.reporter.line(found);
  linuximage[column] = found;
}

/**
 * The kernel, initrd and root image of a diskless image's rootimgdir: the packed rootimg.* (in
 * xCAT's search order) or, for a root tree (statelite, and a snapshot's netboot tree), the
 * `rootimg/` directory whose host path is returned.
 */
async function findBootFiles(
  planning: ExportPlanning,
  bootFiles: NonNullable<Provmethod["bootFiles"]>,
  name: string,
): Promise<string | undefined> {
  const { ctx, manifest, request } = planning;
  const exists = (managementPath: string) => isReadableFile(hostPathOf(ctx, managementPath));
  const dir = rootImgDir(planning.image, planning.installDir);
  if (!await exists(`${dir}/${bootFiles.ramdisk}`)) {
    throw new NotFoundError(`Couldn't find ramdisk (${bootFiles.ramdisk}) for  ${name}`);
  }
  if (!await exists(`${dir}/kernel`)) {
    throw new NotFoundError(`Couldn't find kernel (kernel) for  ${name}`);
  }
  manifest.ramdisk = `${dir}/${bootFiles.ramdisk}`;
  manifest.kernel = `${dir}/kernel`;
  if (bootFiles.root === "tree") {
    planning.ctx.reporter.line("Packing root image. It will take a while");
    manifest.rootimgtree = `${dir}/rootimgtree.gz`;
    manifest.litefile = `${dir}/litefile.csv`;
  } else {
    let rootimg: string | undefined;
    for (const candidate of ROOTIMG_NAMES) {
      if (await exists(`${dir}/${candidate}`)) {
        rootimg = `${dir}/${candidate}`;
        break;
      }
    }
    if (!rootimg) throw new NotFoundError(`Couldn't find compressed rootimg for ${name}`);
    manifest.rootimg = rootimg;
    const packed = basename(rootimg);
    if (!request.forSnapshot && !XCAT_ROOTIMG_NAMES.includes(packed)) {
      planning.ctx.reporter.warn(
        `The bundle carries ${packed}, which xCAT cannot read (its nodeset and packimage ` +
          `know only ${XCAT_ROOTIMG_NAMES.slice(0, 5).join(", ")}); for a bundle meant for ` +
          "xCAT, pack the image with 'packimage -c gzip' or '-c xz' first",
      );
    }
  }
  const tree = hostPathOf(ctx, `${dir}/rootimg`);
  const treeInfo = await Deno.stat(tree).catch(() => undefined);
  if (request.forSnapshot && bootFiles.root === "packed" && treeInfo?.isDirectory) {
    manifest.rootimgtree = `${dir}/rootimgtree.gz`;
  }
  if (!manifest.rootimgtree) return undefined;
  if (!treeInfo?.isDirectory) {
    throw new NotFoundError(
      `Cannot export image '${name}': its root tree ${dir}/rootimg does not exist (run genimage first)`,
    );
  }
  return tree;
}

/** Records that `relative`'s top-level name in the image directory holds `what`; two owners fail. */
function claimMemberName(planning: ExportPlanning, relative: string, what: string): void {
  const top = relative.split("/")[0]!;
  const earlier = planning.memberNames.get(top);
  if (earlier !== undefined && earlier !== what) {
    throw new ConflictError(
      `Cannot export image '${planning.image.name}': ${what} and ${earlier} would both be stored as '${top}' in the bundle`,
    );
  }
  planning.memberNames.set(top, what);
}

/**
 * The files the manifest and the rows name (kernel, ramdisk, rootimg, the linuximage lists,
 * synclists, raw disk images), flat, under their basename as xCAT stores them; cp follows
 * symlinks, so do we.
 */
async function addListedFiles(planning: ExportPlanning): Promise<void> {
  const { manifest, directory } = planning;
  const name = planning.image.name;
  const files: { element: string; path: string }[] = [];
  for (const element of ["kernel", "ramdisk", "rootimg"] as const) {
    for (const path of commaList(manifest[element])) files.push({ element, path });
  }
  for (const column of ["template", "pkglist", "otherpkglist", "postinstall", "exlist"]) {
    for (const path of commaList(manifest.linuximage[column])) {
      files.push({ element: `linuximage.${column}`, path });
    }
  }
  for (const path of commaList(manifest.osimage.synclists)) {
    files.push({ element: "osimage.synclists", path });
  }
  for (const path of manifest.rawimagefiles ?? []) files.push({ element: "rawimagefiles", path });

  const seenPaths = new Set<string>();
  for (const { element, path } of files) {
    if (seenPaths.has(path)) continue;
    seenPaths.add(path);
    if (!path.startsWith("/")) {
      throw new InvalidInputError(
        `Cannot export image '${name}': ${element} '${path}' is not an absolute path`,
      );
    }
    const host = hostPathOf(planning.ctx, path);
    const info = await statReadableFile(host);
    if (!info) {
      throw new NotFoundError(
        `Cannot export image '${name}': the file ${path} (${element}) is missing or unreadable`,
      );
    }
    const base = basename(path);
    claimMemberName(planning, base, path);
    planning.members.push({
      entry: {
        ...rootOwnedMeta(`${directory}/${base}`, info.mode, info.mtime),
        kind: "file",
        content: { size: info.size, open: () => fileChunks(host) },
      },
      source: { kind: "disk", hostPath: host, label: path },
    });
  }
}

/** make_bundle's litefile.csv of a statelite image. */
function addLitefileCsv(planning: ExportPlanning, litefileRows: readonly Row[]): void {
  planning.ctx.reporter.line("Getting litefile settings");
  const csv = litefileCsv(planning.image.name, litefileRows);
  claimMemberName(planning, "litefile.csv", planning.manifest.litefile!);
  planning.members.push({
    entry: {
      ...rootOwnedMeta(`${planning.directory}/litefile.csv`, 0o644, 0),
      kind: "file",
      content: bytesOf(csv),
    },
    source: { kind: "bytes", bytes: csv },
    generated: true,
  });
}

/** Kit directories: the whole kit dir under the kit's name (imgimport looks it up by name). */
async function addKitDirectories(planning: ExportPlanning): Promise<void> {
  for (const [kitName, kit] of Object.entries(planning.manifest.kit)) {
    if (!kit.kitdir) continue;
    claimMemberName(planning, kitName, `the kit directory ${kit.kitdir}`);
    await addTree(
      planning.ctx,
      planning.members,
      hostPathOf(planning.ctx, kit.kitdir),
      `${planning.directory}/${kitName}`,
      kit.kitdir,
      planning.image.name,
    );
  }
}

/** `-e src[:dest]`: files and directory trees under extra/, with the directories above them. */
async function addExtras(planning: ExportPlanning): Promise<void> {
  const { ctx, directory, members } = planning;
  const name = planning.image.name;
  const extraDirs = new Set<string>();
  for (const value of planning.request.extras ?? []) {
    const { src, dest, isDirectory } = await parseExtra(ctx, value, name);
    planning.manifest.extra.push({ src, dest });
    claimMemberName(planning, "extra", "the -e extras");
    if (!extraDirs.has(`${directory}/extra`)) {
      extraDirs.add(`${directory}/extra`);
    }
    if (isDirectory) {
      const relative = src.replace(/^\/+/, "").replace(/\/+$/, "");
      const parts = relative.split("/");
      for (let index = 1; index < parts.length; index++) {
        extraDirs.add(`${directory}/extra/${parts.slice(0, index).join("/")}`);
      }
      await addTree(
        ctx,
        members,
        hostPathOf(ctx, src),
        `${directory}/extra/${relative}`,
        src,
        name,
      );
    } else {
      const host = hostPathOf(ctx, src);
      const info = (await statReadableFile(host))!;
      members.push({
        entry: {
          ...rootOwnedMeta(`${directory}/extra/${basename(src)}`, info.mode, info.mtime),
          kind: "file",
          content: { size: info.size, open: () => fileChunks(host) },
        },
        source: { kind: "disk", hostPath: host, label: src },
      });
    }
  }
  const treeRoots = new Set(members.map((member) => member.entry.path));
  for (const path of extraDirs) {
    if (!treeRoots.has(path)) {
      members.push({ entry: { ...rootOwnedMeta(path, 0o755, 0), kind: "dir" }, generated: true });
    }
  }
}

/** Member names must be unique (two -e with the same basename, overlapping -e directories). */
function checkUniqueMemberPaths(planning: ExportPlanning): void {
  const byPath = new Map<string, PlannedMember>();
  for (const member of planning.members) {
    const earlier = byPath.get(member.entry.path);
    if (earlier) {
      const what = (other: PlannedMember) =>
        other.source?.kind === "disk" ? other.source.label : other.entry.path;
      throw new ConflictError(
        `Cannot export image '${planning.image.name}': ${what(earlier)} and ${
          what(member)
        } would both be stored as '${member.entry.path}'`,
      );
    }
    byPath.set(member.entry.path, member);
  }
}

/**
 * Sets every member's mtime and returns the bundle's epoch. Without SOURCE_DATE_EPOCH the epoch
 * is the newest input mtime: real mtimes are kept, and generated members get a time that
 * changes only when an input does.
 */
function clampMtimes(members: PlannedMember[], sourceDateEpoch: number | undefined): number {
  const newest = members.filter((member) => !member.generated)
    .reduce((max, member) => Math.max(max, member.entry.mtime), 0);
  const epoch = sourceDateEpoch ?? newest;
  for (const member of members) {
    const mtime = member.generated ? epoch : Math.min(member.entry.mtime, epoch);
    member.entry = { ...member.entry, mtime };
  }
  return epoch;
}

/** The osimage and linuximage rows, with xCAT's checks and messages (imgport.pm get_image_info). */
async function loadExportImage(reader: StoreReader, name: string): Promise<OsImage> {
  const [osimage] = await reader.rows("osimage", { imagename: name });
  if (!osimage) throw new NotFoundError(`Cannot find image '${name}' from the osimage table.`);
  const problems = ["provmethod", "profile", "osvers", "osarch"]
    .filter((column) => !osimage[column])
    .map((column) =>
      `The '${column}' attribute of image '${name}' is not set in the osimage table.`
    );
  if (problems.length > 0) throw new InvalidInputError(problems.join(" "));
  const provmethod = osimage.provmethod!;
  // xCAT tests the value unanchored against the provmethods it exports; so do we.
  if (matchProvmethod(provmethod) === undefined) {
    throw new InvalidInputError(
      `Exporting images with 'provemethod' ${provmethod} is not supported. Hint: install, netboot, statelite, or raw`,
    );
  }
  const [linuximage] = await reader.rows("linuximage", { imagename: name });
  if (!linuximage) {
    throw new NotFoundError(`Cannot find image '${name}' from the linuximage table.`);
  }
  return { name, osimage, linuximage };
}

/** Every kit, kit repo and kit component of the kits the image's components belong to (§3.2). */
async function loadKits(reader: StoreReader, image: OsImage): Promise<
  Pick<Manifest, "kit" | "kitrepo" | "kitcomp">
> {
  const result: Pick<Manifest, "kit" | "kitrepo" | "kitcomp"> = {
    kit: {},
    kitrepo: {},
    kitcomp: {},
  };
  const kitNames = new Set<string>();
  for (const component of commaList(image.osimage.kitcomponents)) {
    const [row] = await reader.rows("kitcomponent", { kitcompname: component });
    if (!row?.kitname) {
      throw new NotFoundError(`Cannot find kitname of '${component}' from the kitcomponent table.`);
    }
    kitNames.add(row.kitname);
  }
  for (const kitName of kitNames) {
    const [kit] = await reader.rows("kit", { kitname: kitName });
    if (!kit) throw new NotFoundError(`Cannot find kit '${kitName}' from the kit table.`);
    result.kit[kitName] = kit;
    for (const repo of await reader.rows("kitrepo", { kitname: kitName })) {
      result.kitrepo[repo.kitreponame!] = repo;
    }
    for (const component of await reader.rows("kitcomponent", { kitname: kitName })) {
      result.kitcomp[component.kitcompname!] = component;
    }
  }
  return result;
}

/**
 * `-p node`: xcatdefaults' lists, then the node's own (its row, else the first of its groups
 * that has a value), joined by "," without de-duplication (imgport.pm get_postscripts).
 */
export async function nodePostscripts(
  reader: StoreReader,
  nodeOrGroup: string,
): Promise<Pick<Manifest, "postscripts" | "postbootscripts">> {
  let [node] = await reader.rows("nodelist", { node: nodeOrGroup });
  if (!node) {
    // A group name: xCAT expands the noderange and takes its first node.
    const members = (await reader.rows("nodelist"))
      .filter((row) => commaList(row.groups).includes(nodeOrGroup))
      .sort((a, b) => compareUtf8(a.node ?? "", b.node ?? ""));
    node = members[0];
  }
  if (!node?.node) {
    throw new NotFoundError(`Unable to get postscripts, ${nodeOrGroup} is not a valide node.`);
  }
  const [defaults] = await reader.rows("postscripts", { node: "xcatdefaults" });
  const owners = [node.node, ...commaList(node.groups)];
  const result: Pick<Manifest, "postscripts" | "postbootscripts"> = {};
  for (const column of ["postscripts", "postbootscripts"] as const) {
    let own: string | undefined;
    for (const owner of owners) {
      const [row] = await reader.rows("postscripts", { node: owner });
      if (row?.[column]) {
        own = row[column];
        break;
      }
    }
    const value = [defaults?.[column], own].filter((item) => item).join(",");
    if (value) result[column] = value;
  }
  return result;
}

/**
 * xCAT's litefile selection (make_bundle): rows with no image, then the rows of the image's
 * `groups` value taken as one string (else `ALL`), then the image's own rows.
 */
async function selectLitefileRows(
  reader: StoreReader,
  image: OsImage,
  ownRowsOnly: boolean,
): Promise<Row[]> {
  const all = await reader.rows("litefile");
  if (ownRowsOnly) return all.filter((row) => row.image === image.name);
  const groups = image.osimage.groups;
  return [
    ...all.filter((row) => !row.image),
    ...all.filter((row) => row.image === (groups ? groups : "ALL")),
    ...all.filter((row) => row.image === image.name),
  ];
}

/** litefile.csv exactly as xCAT writes it: `"<image>","<file>","<options>",,` per row. */
function litefileCsv(imageName: string, rows: readonly Row[]): Uint8Array {
  let text = "";
  for (const row of rows) {
    const file = row.file ?? "";
    const options = row.options || "tmpfs";
    for (const value of [imageName, file, options]) {
      if (/["\n\r]/.test(value)) {
        throw new InvalidInputError(
          `Cannot export image '${imageName}': the litefile entry ${
            JSON.stringify(value)
          } holds a quote or newline, which xCAT's litefile.csv cannot carry`,
        );
      }
    }
    text += `"${imageName}","${file}","${options}",,\n`;
  }
  return new TextEncoder().encode(text);
}

/** xCAT's look_for_file for templates and pkglists (imgport.pm L739-785). */
async function lookForListFile(
  ctx: Context,
  extension: "tmpl" | "pkglist",
  searchDirs: readonly string[],
  image: OsImage,
): Promise<string | undefined> {
  const [osvers, osarch, profile] = imageKeys(image);
  for (const dir of searchDirs) {
    let sub = /win/.test(osvers) ? "windows" : osvers;
    while (sub !== "") {
      const info = await Deno.stat(hostPathOf(ctx, `${dir}/${sub}`)).catch(() => undefined);
      if (info?.isDirectory) break;
      sub = sub.slice(0, -1);
    }
    if (sub === "") continue;
    for (
      const candidate of [
        `${profile}.${osvers}.${osarch}.${extension}`,
        `${profile}.${osvers}.${extension}`,
        `${profile}.${osarch}.${extension}`,
        `${profile}.${extension}`,
      ]
    ) {
      const path = `${dir}/${sub}/${candidate}`;
      if (await isReadableFile(hostPathOf(ctx, path))) return path;
    }
  }
  return undefined;
}

/** s390x: every regular `*.img` file of a directory, sorted. */
async function rawImageFiles(ctx: Context, dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(hostPathOf(ctx, dir))) {
      if (entry.isFile && entry.name.endsWith(".img")) names.push(entry.name);
    }
  } catch (error) {
    throw new NotFoundError(`Could not open image files in directory ${dir}`, { cause: error });
  }
  return names.sort(compareUtf8).map((name) => `${dir}/${name}`);
}

/** Parses and checks one `-e src[:dest]` (§3.5), failing instead of ignoring as xCAT does. */
async function parseExtra(
  ctx: Context,
  value: string,
  imageName: string,
): Promise<{ src: string; dest: string; isDirectory: boolean }> {
  const parts = value.split(":");
  if (parts.length > 2) {
    throw new InvalidInputError(
      `Cannot export image '${imageName}': the extra '${value}' has more than one ':' (xCAT splits src:dest on every ':')`,
    );
  }
  const src = parts[0]!.replace(/(.)\/+$/, "$1");
  let dest = parts[1] ?? "";
  if (!src.startsWith("/") || (dest !== "" && !dest.startsWith("/"))) {
    throw new InvalidInputError(
      `Cannot export image '${imageName}': the extra '${value}' must use absolute management-node paths`,
    );
  }
  const host = hostPathOf(ctx, src);
  const info = await Deno.stat(host).catch(() => undefined);
  if (!info || !(info.isFile || info.isDirectory) || !await isReadable(host, info.isDirectory)) {
    throw new NotFoundError(`Can not find Extra file ${src}. Nothing was exported.`);
  }
  if (info.isDirectory) {
    let empty = true;
    for await (const _ of Deno.readDir(host)) {
      empty = false;
      break;
    }
    if (empty) {
      throw new InvalidInputError(
        `Cannot export image '${imageName}': the extra directory ${src} is empty, and xCAT's imgimport fails on an empty extra directory`,
      );
    }
  }
  if (dest === "") dest = info.isDirectory ? src : posix.dirname(src);
  return { src, dest, isDirectory: info.isDirectory };
}

/** Adds a directory tree (kit dir, -e directory) under `prefix`, refusing what a bundle cannot hold. */
async function addTree(
  _ctx: Context,
  members: PlannedMember[],
  hostRoot: string,
  prefix: string,
  label: string,
  imageName: string,
): Promise<void> {
  const info = await Deno.stat(hostRoot).catch(() => undefined);
  if (!info?.isDirectory) {
    throw new NotFoundError(
      `Cannot export image '${imageName}': the directory ${label} is missing or unreadable`,
    );
  }
  const top = prefix.split("/")[0]!;
  // No xattrs: a bundle is for another machine, and xCAT's cp -dr / cp -a copies keep none either.
  for await (const entry of walkTree(hostRoot, { xattrs: false })) {
    const relative = entry.path === "." ? "" : entry.path;
    const path = relative === "" ? prefix : `${prefix}/${relative}`;
    const where = relative === "" ? label : `${label}/${relative}`;
    const owned = {
      ...entry,
      path,
      uid: 0,
      gid: 0,
      uname: "root",
      gname: "root",
      xattrs: new Map(),
    };
    switch (entry.kind) {
      case "file":
        members.push({
          entry: { ...owned, kind: "file", content: entry.content, links: entry.links },
          source: { kind: "disk", hostPath: `${hostRoot}/${relative}`, label: where },
        });
        break;
      case "dir":
        members.push({ entry: owned as Entry });
        break;
      case "symlink": {
        const resolved = posix.normalize(posix.join(posix.dirname(path), entry.target));
        if (entry.target.startsWith("/") || (resolved !== top && !resolved.startsWith(`${top}/`))) {
          throw new InvalidInputError(
            `Cannot export image '${imageName}': the symbolic link ${where} -> ${entry.target} points outside the bundle, which imports refuse`,
          );
        }
        members.push({ entry: owned as Entry });
        break;
      }
      case "hardlink":
        members.push({
          entry: { ...owned, kind: "hardlink", target: `${prefix}/${entry.target}` },
        });
        break;
      case "chardev":
      case "blockdev":
      case "fifo":
        throw new InvalidInputError(
          `Cannot export image '${imageName}': ${where} is a device node or FIFO, which a bundle may not contain`,
        );
    }
  }
}

/**
 * Sorted by path component (so a directory's contents follow it), with a hard link never ahead
 * of the file it names: the deterministic order every bundle is written in.
 */
function orderMembers(members: PlannedMember[]): PlannedMember[] {
  const sorted = [...members].sort((a, b) => comparePaths(a.entry.path, b.entry.path));
  const emitted = new Set<string>();
  for (let index = 0; index < sorted.length; index++) {
    const member = sorted[index]!;
    const entry = member.entry;
    if (entry.kind === "hardlink" && !emitted.has(entry.target)) {
      // The link sorts before its file: swap which name carries the data.
      const targetIndex = sorted.findIndex((other) => other.entry.path === entry.target);
      const target = sorted[targetIndex]!;
      if (target.entry.kind === "file") {
        sorted[index] = { ...target, entry: { ...target.entry, path: entry.path } };
        sorted[targetIndex] = {
          entry: {
            ...target.entry,
            kind: "hardlink",
            path: target.entry.path,
            target: entry.path,
          } as Entry,
        };
        for (let later = index + 1; later < sorted.length; later++) {
          const other = sorted[later]!.entry;
          if (other.kind === "hardlink" && other.target === entry.target) {
            sorted[later] = { entry: { ...other, target: entry.path } };
          }
        }
      }
    }
    emitted.add(sorted[index]!.entry.path);
  }
  return sorted;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Writes the planned bundle to `<destination>.tmp-<random>`, then renames it into place. */
export async function writeBundle(
  runner: ProcessRunner,
  plan: ExportPlan,
  destination: string,
  compression: Compression,
  makeProgress?: (title: string, total: number) => Progress,
  options: {
    digest?: boolean;
    /**
     * Sign the bundle as it is written. The trusted comment names the file `fileName(sha256)`
     * (default: the destination's base name; a snapshot's final name is its digest).
     */
    sign?: { key: SigningKey; image: string; fileName?: (sha256: string) => string };
  } = {},
): Promise<{ path: string; bytes: number; sha256?: string; signaturePath?: string }> {
  let progress: Progress | undefined;
  let signature: PreparedSignature | undefined;
  let signer: PrehashWorker | undefined;
  const suffix = crypto.randomUUID().slice(0, 8);
  const temporary = `${destination}.tmp-${suffix}`;
  const treeFile = `${destination}.tmp-${suffix}.rootimgtree.gz`;
  const fail = (error: unknown): never => {
    if (error instanceof OsimgError) throw error;
    throw new OsimgError(
      `Cannot export image '${plan.image.name}' to ${destination}: ${(error as Error).message}`,
      { cause: error },
    );
  };
  try {
    const members = [...plan.members];
    if (plan.rootTree !== undefined) {
      const tree = await packRootTree(runner, plan.rootTree, treeFile, plan.sourceDateEpoch);
      members.push({
        entry: {
          ...rootOwnedMeta(`${plan.directory}/rootimgtree.gz`, 0o644, plan.epoch),
          kind: "file",
          content: { size: tree.size, open: () => fileChunks(treeFile) },
        },
        source: { kind: "disk", hostPath: treeFile, label: plan.manifest.rootimgtree! },
        digest: tree.sha256,
      });
    }
    const total = members.reduce(
      (sum, member) => sum + (member.entry.kind === "file" ? member.entry.content.size : 0),
      0,
    );
    progress = makeProgress?.(`Exporting ${plan.image.name}`, total * 2);
    // Hash every file once before streaming it, so SHA256SUMS can come first.
    for (const member of members) {
      const entry = member.entry;
      if (entry.kind !== "file" || member.digest !== undefined) continue;
      progress?.label(`checksum ${entry.path}`);
      if (member.source?.kind === "disk") member.stamp = fileStamp(member.source.hostPath);
      member.digest = await digestOf(entry.content, progress);
    }
    const ordered = orderMembers(members);
    const manifestBytes = new TextEncoder().encode(serializeManifest(plan.manifest));
    const digests = new Map<string, string>();
    for (const member of ordered) {
      if (member.entry.kind === "file") digests.set(member.entry.path, member.digest!);
    }
    const sums: { path: string; digest: string }[] = [
      { path: MANIFEST, digest: sha256Hex(manifestBytes) },
    ];
    for (const member of ordered) {
      const entry = member.entry;
      const relative = entry.path.slice(plan.directory.length + 1);
      if (entry.kind === "file") sums.push({ path: relative, digest: member.digest! });
      if (entry.kind === "hardlink") {
        sums.push({ path: relative, digest: digests.get(entry.target)! });
      }
    }
    const sumsBytes = new TextEncoder().encode(serializeSha256Sums(sums));
    const entries: Entry[] = [
      {
        ...rootOwnedMeta(`${plan.directory}/${MANIFEST}`, 0o644, plan.epoch),
        kind: "file",
        content: bytesOf(manifestBytes),
      },
      {
        ...rootOwnedMeta(`${plan.directory}/${SUMS}`, 0o644, plan.epoch),
        kind: "file",
        content: bytesOf(sumsBytes),
      },
      { ...rootOwnedMeta(plan.directory, 0o755, plan.epoch), kind: "dir" },
      ...ordered.map((member) => verifiedEntry(member, plan.image.name, progress)),
    ];
    const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o644 });
    // A signature needs the BLAKE2b-512 of the bytes written, taken here (in a Worker, beside
    // this thread), never by reading the bundle again; its hasher also gives the SHA-256.
    signer = options.sign ? new PrehashWorker() : undefined;
    const hash = options.digest && !signer ? createHash("sha256") : undefined;
    let bytes = 0;
    try {
      const archive = tarStream(entries);
      const output = compression === "none" ? archive : compress(runner, compression, archive, {
        level: COMPRESSORS[compression].levels?.bundleLevel,
      });
      for await (const chunk of output) {
        hash?.update(chunk);
        signer?.update(chunk);
        bytes += chunk.byteLength;
        await writeAll(file, chunk);
        await signer?.ready();
      }
      await file.sync();
    } finally {
      file.close();
    }
    let sha256 = hash?.digest("hex");
    if (signer && options.sign) {
      const digests = await signer.digests();
      sha256 = digests.sha256;
      const trustedComment = trustedCommentFor({
        file: options.sign.fileName?.(sha256) ?? basename(destination),
        image: options.sign.image,
        size: bytes,
        sha256,
      });
      signature = await prepareSignatureFile(
        signaturePathOf(destination),
        signPrehashed(options.sign.key, digests.blake2b512, trustedComment),
      );
    }
    await Deno.rename(temporary, destination);
    if (signature) {
      await signature.commit();
    } else {
      // The signature of the bundle this one replaces would only fail to verify against it.
      await Deno.remove(signaturePathOf(destination)).catch(() => {});
    }
    progress?.done();
    return {
      path: destination,
      bytes,
      sha256,
      signaturePath: signature ? signaturePathOf(destination) : undefined,
    };
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    await signature?.discard();
    progress?.done();
    return fail(error);
  } finally {
    signer?.close();
    await Deno.remove(treeFile).catch(() => {});
  }
}

/** statelite (and snapshots): the `rootimg/` tree as gzip'd cpio newc named `rootimg`, `rootimg/...`. */
async function packRootTree(
  runner: ProcessRunner,
  hostTree: string,
  target: string,
  sourceDateEpoch: number | undefined,
): Promise<{ size: number; sha256: string }> {
  async function* renamed(): AsyncIterable<Entry> {
    for await (const entry of walkTree(hostTree, { clampMtime: sourceDateEpoch, xattrs: false })) {
      const path = entry.path === "." ? "rootimg" : `rootimg/${entry.path}`;
      yield entry.kind === "hardlink"
        ? { ...entry, path, target: `rootimg/${entry.target}` }
        : { ...entry, path };
    }
  }
  const file = await Deno.open(target, { write: true, createNew: true, mode: 0o600 });
  const hash = createHash("sha256");
  let size = 0;
  try {
    for await (
      const chunk of compress(runner, "gzip", cpioStream(renamed()), {
        level: COMPRESSORS.gzip.levels!.bundleLevel,
      })
    ) {
      hash.update(chunk);
      size += chunk.byteLength;
      await writeAll(file, chunk);
    }
  } finally {
    file.close();
  }
  return { size, sha256: hash.digest("hex") };
}

/**
 * A disk file's identity: size, modification and change times (ns where the file system has
 * them) and inode. Any write to the file changes its ctime.
 */
function fileStamp(hostPath: string): string {
  const info = Deno.statSync(hostPath);
  return [info.size, info.mtime?.getTime(), info.ctime?.getTime(), info.ino, info.dev].join(":");
}

/**
 * The member as written. A disk file must be the one whose digest SHA256SUMS lists: its identity
 * (size, mtime, ctime, inode) is compared before and after streaming instead of hashing it a
 * second time — on CPUs without SHA extensions sha256 runs at ~300 MB/s and a second pass was
 * the export's bottleneck. Content hashed twice only where there is no stamp.
 */
function verifiedEntry(member: PlannedMember, imageName: string, progress?: Progress): Entry {
  const entry = member.entry;
  if (entry.kind !== "file") return entry;
  const label = member.source?.kind === "disk" ? member.source.label : entry.path;
  const changed = () =>
    new IntegrityError(
      `Cannot export image '${imageName}': ${label} changed while it was being exported; run imgexport again`,
    );
  const stamped = member.source?.kind === "disk" && member.stamp !== undefined
    ? { hostPath: member.source.hostPath, stamp: member.stamp }
    : undefined;
  const content: FileContent = {
    size: entry.content.size,
    async *open() {
      progress?.label(label);
      if (stamped && fileStamp(stamped.hostPath) !== stamped.stamp) throw changed();
      const hash = stamped ? undefined : createHash("sha256");
      let size = 0;
      for await (const chunk of entry.content.open()) {
        size += chunk.byteLength;
        if (size > entry.content.size) break;
        hash?.update(chunk);
        progress?.advance(chunk.byteLength);
        yield chunk;
      }
      if (size !== entry.content.size) throw changed();
      if (hash && hash.digest("hex") !== member.digest) throw changed();
      if (stamped && fileStamp(stamped.hostPath) !== stamped.stamp) throw changed();
    },
  };
  return { ...entry, content };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/**
 * The header fields of a member: owned by root:root whoever runs the export (xCAT's bundles are
 * made as root, and the same image must give the same bytes), no extended attributes.
 */
function rootOwnedMeta(path: string, mode: number, mtime: number): EntryMeta {
  return {
    path,
    mode: mode & 0o7777,
    uid: 0,
    gid: 0,
    uname: "root",
    gname: "root",
    mtime,
    xattrs: new Map(),
  };
}

function bytesOf(bytes: Uint8Array): FileContent {
  return {
    size: bytes.byteLength,
    async *open() {
      yield bytes;
    },
  };
}

async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) offset += await file.write(chunk.subarray(offset));
}

async function digestOf(content: FileContent, progress?: Progress): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of content.open()) {
    hash.update(chunk);
    progress?.advance(chunk.byteLength);
  }
  return hash.digest("hex");
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function isReadable(path: string, isDirectory: boolean): Promise<boolean> {
  try {
    if (isDirectory) {
      for await (const _ of Deno.readDir(path)) break;
    } else {
      (await Deno.open(path, { read: true })).close();
    }
    return true;
  } catch {
    return false;
  }
}

async function isReadableFile(path: string): Promise<boolean> {
  return (await statReadableFile(path)) !== undefined;
}

/** stat (following symlinks, as xCAT's cp does) of a readable regular file. */
async function statReadableFile(
  path: string,
): Promise<{ size: number; mode: number; mtime: number } | undefined> {
  const info = await Deno.stat(path).catch(() => undefined);
  if (!info?.isFile || !await isReadable(path, false)) return undefined;
  return {
    size: info.size,
    mode: (info.mode ?? 0o644) & 0o7777,
    mtime: Math.floor((info.mtime?.getTime() ?? 0) / 1000),
  };
}

/** osvers, osarch and profile (checked non-empty when the image was loaded). */
function imageKeys(image: OsImage): [string, string, string] {
  const { osvers = "", osarch = "", profile = "" } = image.osimage;
  return [osvers, osarch, profile];
}
