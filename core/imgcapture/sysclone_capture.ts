// imgcapture -t sysclone: a diskful golden client's disk layout and every local file system it
// mounts, pulled with rsync over ssh into the sysclone image repository (incrementally on a
// recapture) and committed with the layout file and the osimage definition in one step.

import type { Context } from "../context.ts";
import { hostPathOf, siteValue } from "../context.ts";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors.ts";
import { checkObjectName } from "../definitions/object_names.ts";
import { loadNodeUniverse } from "../nodes/node_universe.ts";
import { loadOsImage, type OsImage, readInstallDir } from "../image/osimage.ts";
import { lockImage } from "../image/image_lock.ts";
import type { Row } from "../store/store.ts";
import {
  commitStaged,
  createStaging,
  type FileMove,
  recoverStaging,
  STAGING_DIR_NAME,
} from "../tree/commit_journal.ts";
import { exists } from "../tree/files.ts";
import { type NodesetNetwork, systemNetwork } from "../nodeset/network.ts";
import { describeOsRelease, osversOfRelease } from "../../providers/distros/os_release.ts";
import { syscloneDirectories } from "../../providers/provmethods/provmethods.ts";
import { type DiskLayout, serializeDiskLayout } from "../../formats/sysclone/disk_layout.ts";
import { readSystemLayout } from "../sysclone/read_system_layout.ts";
import { DEFAULT_CAPTURE_RULES, GENERALISED_FILES } from "./capture_rules.ts";
import { nodeRunner, probeNode } from "./node_ssh.ts";
import {
  type CaptureSite,
  checkDiskful,
  checkRsync,
  diskFull,
  nodeSshTarget,
  scrub,
  scrubExclusions,
  stagedSshTarget,
  type TransferStats,
  transferTree,
} from "./imgcapture.ts";

/** An `imgcapture <node> -t sysclone` command line, its flags parsed. */
export interface SyscloneCaptureRequest {
  node: string;
  /** -o: the image (mandatory, as in xCAT); created when it does not exist. */
  osimage: string;
  /** -p: the profile a new image records (default: the node's nodetype.profile). */
  profile?: string;
  /** --keep-passwords: capture /etc/shadow and /etc/gshadow with their hashes. */
  keepPasswords: boolean;
  /** --ssh-key: the private key (relative to the current directory); ssh's defaults otherwise. */
  sshKey?: string;
  /** -V: print every path rsync changed and what the transfer moved. */
  verbose: boolean;
}

/** What a sysclone capture did. */
export interface SyscloneCaptureResult {
  image: string;
  created: boolean;
  /** Management-node paths of the repository and the layout file. */
  repository: string;
  layoutFile: string;
  layout: DiskLayout;
  /** What rsync transferred (a recapture: only the changes). */
  transferred: TransferStats;
}

/**
 * A diskful clone gets its fstab written by the deploy from the layout (new UUIDs), so the
 * golden client's is kept as it was; the other generalised files are rewritten as for diskless.
 */
const SYSCLONE_GENERALISED = GENERALISED_FILES.filter((path) => path !== "/etc/fstab");

/**
 * Captures `request.node` (a diskful golden client) as the sysclone image `request.osimage`.
 *
 * @example
 * ```ts
 * await imgcaptureSysclone(ctx, { node: "gold", osimage: "gold-img", keepPasswords: false, verbose: false });
 * ```
 */
export async function imgcaptureSysclone(
  ctx: Context,
  request: SyscloneCaptureRequest,
  network: NodesetNetwork = systemNetwork,
): Promise<SyscloneCaptureResult> {
  const store = await ctx.store();
  const { universe, installDir } = await store.read(async (reader) => ({
    universe: await loadNodeUniverse(reader, ["nodetype", "hosts"]),
    installDir: await readInstallDir(reader),
  }));
  const node = request.node;
  if (!universe.hasNode(node)) {
    throw new InvalidInputError(`Invalid nodes and/or groups in noderange: ${node}`);
  }
  const image = request.osimage;
  checkObjectName("osimage", image);
  const existing = await findImage(ctx, image);
  if (existing && existing.osimage.provmethod !== "sysclone") {
    throw new ConflictError(
      `The osimage ${image} has provmethod=${existing.osimage.provmethod ?? ""}: imgcapture ` +
        `-t sysclone captures into sysclone images only; name a new image with -o.`,
    );
  }
  const nodetype = universe.inheritedRow("nodetype", node);
  const profile = request.profile ?? nodetype.profile;
  const target = await nodeSshTarget(ctx, universe, node, request.sshKey, network);
  const dirs = syscloneDirectories(installDir, image);
  const repositoryHost = hostPathOf(ctx, dirs.repository);
  const site: CaptureSite = { node, installDir, copyName: "repository" };

  await using _lock = await lockImage(ctx, image, "imgcapture");
  const stagingRoot = hostPathOf(ctx, `${installDir}/${STAGING_DIR_NAME}`);
  await recoverStaging(store, ctx.root, stagingRoot);

  ctx.reporter.line(`Capturing image on ${node}...`);
  const staging = await createStaging(stagingRoot);
  try {
    const staged = await stagedSshTarget(target, staging);
    const facts = await probeNode(ctx.runner, staged);
    checkDiskful(node, facts);
    const osvers = osversOfRelease(facts.osRelease) ?? nodetype.os;
    if (!osvers) {
      throw new InvalidInputError(
        `${node} runs ${describeOsRelease(facts.osRelease)}, which osimg cannot name as an ` +
          `osvers, and its definition has no os: set it with 'chdef ${node} os=<osvers>'.`,
      );
    }
    const arch = facts.machine;
    if (existing) checkSameSystem(existing, image, node, osvers, arch);
    checkRsync(node, facts, staged);

    const system = await readSystemLayout(nodeRunner(ctx.runner, staged));
    ctx.reporter.line(describeLayout(node, system.device, system.layout));
    for (const fs of system.unmounted) {
      ctx.reporter.warn(
        `${node}: ${fs} is in its /etc/fstab but not mounted: the layout records it, the image ` +
          "holds none of its files (mount it and capture again to include them).",
      );
    }

    const tree = `${staging.dir}/repository`;
    await Deno.mkdir(tree, { mode: 0o755 });
    const incremental = await exists(repositoryHost);
    ctx.reporter.line(
      `Transferring the file systems of ${node} (${describeOsRelease(facts.osRelease)}, ${arch}: ` +
        `${system.mountpoints.join(", ")}) into ${dirs.repository}${
          incremental ? " (incremental: unchanged files are taken from the current repository)" : ""
        }...`,
    );
    const transferred = await transferTree(
      ctx,
      site,
      staged,
      [...scrubExclusions(request, facts, SYSCLONE_GENERALISED), ...DEFAULT_CAPTURE_RULES],
      {
        staged: tree,
        sources: system.mountpoints,
        verbose: request.verbose,
        ...(incremental ? { linkDest: repositoryHost } : {}),
      },
    );
    if (request.verbose) {
      ctx.reporter.line(
        `Transferred ${transferred.files} ${transferred.files === 1 ? "file" : "files"} ` +
          `(${transferred.bytes} bytes) from ${node}`,
      );
    }
    await scrub(ctx, site, staged, facts, staging, tree, {
      keepPasswords: request.keepPasswords,
      rootName: image,
      files: SYSCLONE_GENERALISED,
    });

    const layoutStaged = `${staging.dir}/layout.json`;
    await Deno.writeTextFile(layoutStaged, serializeDiskLayout(system.layout), { mode: 0o644 });
    ctx.reporter.line(`The disk layout of ${node} is in ${dirs.layout}`);

    const moves: FileMove[] = [
      { from: tree, to: repositoryHost, keepOrig: false },
      { from: layoutStaged, to: hostPathOf(ctx, dirs.layout), keepOrig: false },
      { from: staged.knownHosts, to: target.knownHosts, keepOrig: false },
    ];
    const rows = existing ? [] : definitionRows(image, osvers, arch, profile, dirs.repository);
    await commitStaged(store, staging, { moves, rows }, { root: ctx.root });
    if (existing) {
      const master = (await siteValue(store, "master")) ?? Deno.hostname();
      ctx.reporter.line(`Using the existing osimage "${image}" defined on ${master}.`);
    } else ctx.reporter.line(`The osimage definition for ${image} was created.`);
    ctx.reporter.line("Done.");
    return {
      image,
      created: !existing,
      repository: dirs.repository,
      layoutFile: dirs.layout,
      layout: system.layout,
      transferred,
    };
  } catch (error) {
    throw diskFull(error, site) ?? error;
  } finally {
    await staging.remove();
  }
}

/** The osimage, or undefined when there is none of that name. */
async function findImage(ctx: Context, image: string): Promise<OsImage | undefined> {
  const store = await ctx.store();
  try {
    return await store.read((reader) => loadOsImage(reader, image));
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** A recapture into an image of another system would mix two systems' files: refused. */
function checkSameSystem(
  existing: OsImage,
  image: string,
  node: string,
  osvers: string,
  arch: string,
): void {
  const { osvers: imageOs, osarch: imageArch } = existing.osimage;
  if ((imageOs && imageOs !== osvers) || (imageArch && imageArch !== arch)) {
    throw new InvalidInputError(
      `The osimage ${image} is ${imageOs ?? "(no osvers)"} ${imageArch ?? "(no osarch)"} but ` +
        `${node} runs ${osvers} ${arch}: capture it into a new image with -o.`,
    );
  }
}

/** One line: the disk, its table and each partition's file system and mount point. */
function describeLayout(node: string, device: string, layout: DiskLayout): string {
  const disk = layout.disks[0]!;
  const parts = disk.partitions.map((part) => {
    const fs = part.filesystem;
    const what = fs ? `${fs.type}${fs.mountpoint ? ` ${fs.mountpoint}` : ""}` : "no file system";
    return `${part.number}: ${what}${part.grow ? " (grows)" : ""}`;
  });
  const groups = disk.volumeGroups.map((group) =>
    `; volume group ${group.name} (` +
    group.logicalVolumes.map((volume) => {
      const fs = volume.filesystem;
      const what = fs ? `${fs.type}${fs.mountpoint ? ` ${fs.mountpoint}` : ""}` : "no file system";
      return `${volume.name}: ${what}${volume.grow ? " (grows)" : ""}`;
    }).join("; ") + ")"
  );
  return `Disk layout of ${node}: ${device}, ${disk.table}, ${disk.partitions.length} ` +
    `partitions (${parts.join("; ")})${groups.join("")}`;
}

/** The new image's rows, as xCAT's sysclone_createosimgdef makes them. */
function definitionRows(
  image: string,
  osvers: string,
  arch: string,
  profile: string | undefined,
  repository: string,
) {
  const osimage: Row = {
    imagename: image,
    imagetype: "linux",
    provmethod: "sysclone",
    osname: "Linux",
    osvers,
    osarch: arch,
    osdistroname: `${osvers}-${arch}`,
    ...(profile ? { profile } : {}),
  };
  const linuximage: Row = { imagename: image, rootimgdir: repository };
  return [
    { table: "osimage", where: { imagename: image }, after: [osimage] },
    { table: "linuximage", where: { imagename: image }, after: [linuximage] },
  ];
}
