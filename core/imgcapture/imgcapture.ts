// imgcapture -t diskless: a running node's root pulled with rsync over ssh into a staged rootimg,
// scrubbed of what must not be cloned, given a kernel and netboot initrd, and committed with its
// osimage definition in one step (the previous image stays whole until then).

import { dirname, resolve } from "node:path";
import type { Context } from "../context.ts";
import { hostPathOf, siteValue } from "../context.ts";
import {
  ConflictError,
  ExternalCommandError,
  InvalidInputError,
  NotFoundError,
  OsimgError,
} from "../errors.ts";
import { checkObjectName, pathComponentProblem } from "../definitions/object_names.ts";
import { loadNodeUniverse, type NodeUniverse } from "../nodes/node_universe.ts";
import { loadOsImage, type OsImage, readInstallDir, rootImgDir } from "../image/osimage.ts";
import { lockImage } from "../image/image_lock.ts";
import { takeSnapshot } from "../image/snapshot.ts";
import type { Row } from "../store/store.ts";
import {
  commitStaged,
  createStaging,
  type FileMove,
  recoverStaging,
  type Staging,
  STAGING_DIR_NAME,
} from "../tree/commit_journal.ts";
import { exists } from "../tree/files.ts";
import { readExlistRules } from "../pack/pack.ts";
import { isIpv4, type NodesetNetwork, systemNetwork } from "../nodeset/network.ts";
import { buildNetbootBootFiles } from "../genimage/netboot_boot_files.ts";
import { distroOf, imageTargetOf } from "../../providers/distros/distros.ts";
import { describeOsRelease, osReleaseMatches } from "../../providers/distros/os_release.ts";
import {
  DEFAULT_CAPTURE_RULES,
  exlistToRsyncRules,
  GENERALISED_FILES,
  generaliseFstab,
  generaliseHosts,
  generaliseInterfaces,
  literalRsyncPattern,
  SCRUB_RULES,
  scrubGlobToRsync,
  scrubPasswordHashes,
} from "./capture_rules.ts";
import {
  KNOWN_HOSTS_PATH,
  type NodeFacts,
  probeNode,
  rsyncShell,
  sshFailure,
  type SshTarget,
} from "./node_ssh.ts";

/** An imgcapture command line, its flags parsed. */
export interface ImgcaptureRequest {
  node: string;
  /** -o: the osimage to capture into (it must exist); else `<os>-<arch>-netboot-<profile>`. */
  osimage?: string;
  /** -p: overrides the node's nodetype.profile. */
  profile?: string;
  /** -i: the boot interface (written to linuximage.nodebootif; the clone leaves it to the initrd). */
  nodebootif?: string;
  /** -n: drivers the initrd must hold (comma list), before the distro's defaults. */
  netdrivers?: string;
  /** --keep-passwords: capture /etc/shadow and /etc/gshadow with their hashes. */
  keepPasswords: boolean;
  /** --ssh-key: the private key (relative to the current directory); ssh's defaults otherwise. */
  sshKey?: string;
  /** -V: print every path rsync changed. */
  verbose: boolean;
}

/** What imgcapture did. */
export interface ImgcaptureResult {
  image: string;
  created: boolean;
  rootimgdir: string;
  kernelVersion: string;
}

/** Root file system types of nodes that are not diskful (xCAT refuses nfs and tmpfs). */
const NOT_DISKFUL = /^(nfs\d*|tmpfs|ramfs|rootfs)$/;

/** The pkglist imgcapture writes into the rootimgdir: the node's installed packages. */
const PKGLIST_NAME = "imgcapture.pkglist";

/** rsync's exit status when files vanished meanwhile: normal on a live system. */
const RSYNC_VANISHED = 24;

/** The unit that makes the host keys a clone was captured without (systemd images). */
const SSH_HOST_KEYS_UNIT = `[Unit]
Description=Generate this node's ssh host keys (osimg imgcapture captured none)
Before=ssh.service sshd.service
ConditionPathExists=/usr/bin/ssh-keygen

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
`;

/** Everything checked before the node is contacted. */
interface CapturePlan {
  node: string;
  os: string;
  arch: string;
  profile: string;
  image: string;
  existing?: OsImage;
  rootimgdir: string;
  installDir: string;
  /** Host paths. */
  dirHost: string;
  rootimgHost: string;
  target: SshTarget;
  rules: string[];
  exlist?: string;
  drivers: string[];
  optionalDrivers: string[];
  /** The boot interface the generalised network files leave to the initrd. */
  nodebootif?: string;
}

/** Which node a capture reads and where its image goes (what its messages name). */
export interface CaptureSite {
  node: string;
  installDir: string;
  /** What the image's copy of the node is called in messages (default "rootimg"). */
  copyName?: string;
}

/**
 * Captures `request.node`'s root file system as a diskless osimage.
 *
 * @example
 * ```ts
 * await imgcapture(ctx, { node: "cn01", keepPasswords: false, verbose: false });
 * ```
 */
export async function imgcapture(
  ctx: Context,
  request: ImgcaptureRequest,
  network: NodesetNetwork = systemNetwork,
): Promise<ImgcaptureResult> {
  const plan = await planCapture(ctx, request, network);
  await using _lock = await lockImage(ctx, plan.image, "imgcapture");
  const store = await ctx.store();
  const stagingRoot = hostPathOf(ctx, `${plan.installDir}/${STAGING_DIR_NAME}`);
  // What a killed capture (or import) left: finished or undone before anything else.
  await recoverStaging(store, ctx.root, stagingRoot);

  ctx.reporter.line(`Capturing image on ${plan.node}...`);
  const staging = await createStaging(stagingRoot);
  try {
    const target = await stagedSshTarget(plan.target, staging);
    const knownHosts = target.knownHosts;
    const facts = await probeNode(ctx.runner, target);
    checkNode(plan, facts, target);

    const staged = `${staging.dir}/rootimg`;
    await Deno.mkdir(staged, { mode: 0o755 });
    const incremental = await exists(plan.rootimgHost);
    ctx.reporter.line(
      `Transferring the root file system of ${plan.node} (${describeOsRelease(facts.osRelease)}, ` +
        `${facts.machine}) into ${plan.rootimgdir}/rootimg${
          incremental ? " (incremental: unchanged files are taken from the current rootimg)" : ""
        }...`,
    );
    await transferTree(ctx, plan, target, [...scrubExclusions(request, facts), ...plan.rules], {
      staged,
      sources: ["/"],
      verbose: request.verbose,
      ...(incremental ? { linkDest: plan.rootimgHost } : {}),
    });
    await scrub(ctx, plan, target, facts, staging, staged, {
      keepPasswords: request.keepPasswords,
      rootName: `${plan.profile}_${plan.arch}`,
      files: GENERALISED_FILES,
      ...(plan.nodebootif ? { nodebootif: plan.nodebootif } : {}),
    });

    ctx.reporter.line("Generating kernel and initial ramdisks...");
    const boot = await buildNetbootBootFiles(
      ctx.runner,
      {
        rootimg: staged,
        drivers: plan.drivers,
        optionalDrivers: plan.optionalDrivers,
        noKernel: () =>
          `${plan.node} has no kernel in /boot: imgcapture builds the netboot initrd from the ` +
          `node's own kernel and modules; install ${
            imageTargetOf(plan.os)?.build ? "the distro's kernel package" : "a kernel"
          } on the node and capture again.`,
      },
      `${staging.dir}/kernel`,
      `${staging.dir}/initrd-stateless.gz`,
    );
    ctx.reporter.line(`the kernel ${boot.kernelVersion} is in ${plan.rootimgdir}/kernel`);
    ctx.reporter.line("the initial ramdisk for stateless is generated successfully.");

    if (plan.existing && isYes(await siteValue(store, "osimgsnapshots"))) {
      const snapshot = await takeSnapshot(ctx, plan.image, {
        note: `before imgcapture from ${plan.node}`,
      });
      ctx.reporter.line(
        `Snapshot ${snapshot.record.id} of ${plan.image} keeps the image as it was before this capture.`,
      );
    }

    // What the node had installed, as a pkglist: the image's record of its packages (and what
    // imgexport and snapshots need of a netboot image).
    const pkglist = facts.packages.length > 0 ? `${plan.rootimgdir}/${PKGLIST_NAME}` : undefined;
    if (pkglist) {
      await Deno.writeTextFile(
        `${staging.dir}/${PKGLIST_NAME}`,
        `# The packages installed on ${plan.node} when osimg imgcapture captured it.\n` +
          facts.packages.join("\n") + "\n",
      );
      ctx.reporter.line(
        `${pkglist}: the ${facts.packages.length} packages installed on ${plan.node}`,
      );
    }

    const moves: FileMove[] = [
      { from: staged, to: plan.rootimgHost, keepOrig: false },
      { from: `${staging.dir}/kernel`, to: `${plan.dirHost}/kernel`, keepOrig: false },
      {
        from: `${staging.dir}/initrd-stateless.gz`,
        to: `${plan.dirHost}/initrd-stateless.gz`,
        keepOrig: false,
      },
      { from: knownHosts, to: plan.target.knownHosts, keepOrig: false },
      ...(pkglist
        ? [{
          from: `${staging.dir}/${PKGLIST_NAME}`,
          to: hostPathOf(ctx, pkglist),
          keepOrig: false,
        }]
        : []),
    ];
    await commitStaged(store, staging, { moves, rows: definitionRows(plan, request, pkglist) }, {
      root: ctx.root,
    });
    ctx.reporter.line(
      `The osimage ${plan.image} was ${plan.existing ? "updated" : "created"} from ${plan.node}: ` +
        `run 'packimage ${plan.image}' to pack it.`,
    );
    ctx.reporter.line("Done.");
    return {
      image: plan.image,
      created: !plan.existing,
      rootimgdir: plan.rootimgdir,
      kernelVersion: boot.kernelVersion,
    };
  } catch (error) {
    throw diskFull(error, plan) ?? error;
  } finally {
    await staging.remove();
  }
}

/** Reads and checks the node, the image and the files named, before anything is contacted. */
async function planCapture(
  ctx: Context,
  request: ImgcaptureRequest,
  network: NodesetNetwork,
): Promise<CapturePlan> {
  const store = await ctx.store();
  const read = await store.read(async (reader) => {
    const universe = await loadNodeUniverse(reader, ["nodetype", "hosts"]);
    return { universe, installDir: await readInstallDir(reader) };
  });
  const { universe, installDir } = read;
  const node = request.node;
  if (!universe.hasNode(node)) {
    throw new InvalidInputError(`Invalid nodes and/or groups in noderange: ${node}`);
  }
  const nodetype = universe.inheritedRow("nodetype", node);
  const os = nodetype.os;
  const arch = nodetype.arch;
  const profile = request.profile ?? nodetype.profile;
  for (const [what, value, flag] of [["os", os, "os"], ["arch", arch, "arch"]] as const) {
    if (!value) {
      throw new InvalidInputError(
        `The node ${node} has no ${what} (nodetype.${what}): imgcapture names the image after ` +
          `it; set it with 'chdef ${node} ${flag}=<value>'.`,
      );
    }
  }
  if (!profile) {
    throw new InvalidInputError(
      `The node ${node} has no profile (nodetype.profile): give one with -p or set it with ` +
        `'chdef ${node} profile=<profile>'.`,
    );
  }
  for (const [what, value] of [["os", os!], ["arch", arch!], ["profile", profile]]) {
    const problem = pathComponentProblem(what!, value!, `the node '${node}'`);
    if (problem !== undefined) throw new InvalidInputError(problem);
  }

  const image = request.osimage ?? `${os}-${arch}-netboot-${profile}`;
  checkObjectName("osimage", image);
  let existing: OsImage | undefined;
  try {
    existing = await store.read((reader) => loadOsImage(reader, image));
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    if (request.osimage !== undefined) throw error;
  }
  if (existing) {
    const { osvers, osarch, provmethod } = existing.osimage;
    if (request.osimage !== undefined && (osvers !== os || osarch !== arch)) {
      throw new InvalidInputError(
        `The osimage ${image} is ${osvers ?? "(no osvers)"} ${osarch ?? "(no osarch)"} but ` +
          `${node} is ${os} ${arch}: capture into an image of the node's os and arch.`,
      );
    }
    if (provmethod !== "netboot" && provmethod !== "statelite") {
      throw new ConflictError(
        `The osimage ${image} has provmethod=${
          provmethod ?? ""
        }: imgcapture -t diskless captures into netboot or statelite images only.`,
      );
    }
  }
  const rootimgdir = existing
    ? rootImgDir(existing, installDir)
    : `${installDir}/netboot/${os}/${arch}/${profile}`;

  const target = await nodeSshTarget(ctx, universe, node, request.sshKey, network);

  const platform = distroOf(os!)?.platform;
  const exlistName = `${profile}.${os}.${arch}.imgcapture.exlist`;
  let exlist: string | undefined;
  if (platform) {
    for (const dir of [`${installDir}/custom/netboot`, "/opt/xcat/share/xcat/netboot"]) {
      const candidate = `${dir}/${platform}/${exlistName}`;
      if (await exists(hostPathOf(ctx, candidate))) {
        exlist = candidate;
        break;
      }
    }
  }
  let rules: string[] = [...DEFAULT_CAPTURE_RULES];
  if (exlist) {
    const translated = exlistToRsyncRules(
      await readExlistRules(ctx, [exlist], { alwaysExcluded: false }),
    );
    for (const pattern of translated.unmatchable) {
      ctx.reporter.note(
        `${exlist}: '${pattern}' matches no path (exlist patterns start with ./); it is ignored.`,
      );
    }
    rules = translated.rules;
  }

  const drivers = driverList(request.netdrivers ?? existing?.linuximage.netdrivers ?? "");
  const defaults = imageTargetOf(os!)?.build.netdrivers[arch!] ?? [];
  const dirHost = hostPathOf(ctx, rootimgdir);
  const nodebootif = request.nodebootif ?? existing?.linuximage.nodebootif;
  return {
    node,
    os: os!,
    arch: arch!,
    profile,
    image,
    ...(existing ? { existing } : {}),
    rootimgdir,
    installDir,
    dirHost,
    rootimgHost: `${dirHost}/rootimg`,
    target,
    rules,
    ...(exlist ? { exlist } : {}),
    drivers,
    optionalDrivers: defaults.map((driver) => driver === "mlx_en" ? "mlx4_en" : driver),
    ...(nodebootif ? { nodebootif } : {}),
  };
}

/**
 * How ssh reaches `node`: its hosts.ip (else the resolver's address), the --ssh-key checked to
 * exist (relative to the current directory), osimg's known_hosts.
 */
export async function nodeSshTarget(
  ctx: Context,
  universe: NodeUniverse,
  node: string,
  sshKey: string | undefined,
  network: NodesetNetwork,
): Promise<SshTarget> {
  let key: string | undefined;
  if (sshKey !== undefined) {
    key = resolve(ctx.cwd, sshKey);
    const info = await Deno.stat(key).catch(() => undefined);
    if (!info?.isFile) {
      throw new NotFoundError(
        `The ssh key '${sshKey}' does not exist: give the private key that root on ` +
          `${node} accepts with --ssh-key FILE.`,
      );
    }
  }
  let ip = universe.inheritedValue("hosts", "ip", node);
  if (ip !== undefined && !isIpv4(ip)) ip = undefined;
  ip ??= await network.lookup(node);
  if (!ip) {
    throw new NotFoundError(
      `Cannot determine the IP address of ${node}: hosts.ip is not set and the system ` +
        `resolver does not know the name. Set it with 'chdef ${node} ip=<address>'.`,
    );
  }
  return { node, ip, knownHosts: hostPathOf(ctx, KNOWN_HOSTS_PATH), ...(key ? { key } : {}) };
}

/**
 * `target` with a staged copy of its known_hosts: ssh records a first-contact host key there,
 * and it becomes the real file only at the commit, so a capture that fails leaves the
 * management node's trust list as it was.
 */
export async function stagedSshTarget(target: SshTarget, staging: Staging): Promise<SshTarget> {
  const knownHosts = `${staging.dir}/known_hosts`;
  if (await exists(target.knownHosts)) {
    await Deno.copyFile(target.knownHosts, knownHosts);
  } else await Deno.writeTextFile(knownHosts, "", { mode: 0o644 });
  return { ...target, knownHosts, shownKnownHosts: target.knownHosts };
}

/** -n's drivers as module names: `.ko` dropped, xCAT's `allupdate` skipped, mlx_en mapped. */
function driverList(text: string): string[] {
  const drivers: string[] = [];
  for (const raw of text.split(",").map((item) => item.trim()).filter((item) => item !== "")) {
    const name = raw.replace(/\.ko$/, "");
    if (name === "allupdate") continue;
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new InvalidInputError(`imgcapture -n: '${raw}' is not a kernel module name.`);
    }
    drivers.push(name === "mlx_en" ? "mlx4_en" : name);
  }
  return drivers;
}

/** Refuses a node that is not what its definition says, or that cannot be captured. */
function checkNode(plan: CapturePlan, facts: NodeFacts, target: SshTarget): void {
  checkDiskful(plan.node, facts);
  if (!osReleaseMatches(plan.os, facts.osRelease)) {
    throw new InvalidInputError(
      `${plan.node} runs ${describeOsRelease(facts.osRelease)} (its /etc/os-release), but its ` +
        `definition says os=${plan.os}: correct it with 'chdef ${plan.node} os=<osvers>' ` +
        "or capture a node that runs that os.",
    );
  }
  if (facts.machine !== plan.arch) {
    throw new InvalidInputError(
      `${plan.node} runs ${facts.machine} (uname -m), but its definition says ` +
        `arch=${plan.arch}: correct it with 'chdef ${plan.node} arch=${facts.machine}'.`,
    );
  }
  checkRsync(plan.node, facts, target);
}

/** Refuses a node whose root is not on a disk (nfs, tmpfs: a diskless node), as xCAT does. */
export function checkDiskful(node: string, facts: NodeFacts): void {
  if (NOT_DISKFUL.test(facts.rootFsType)) {
    throw new InvalidInputError(
      `${node}: its root file system is ${facts.rootFsType}. ` +
        "This node might not be diskful Linux node, please check it.",
    );
  }
}

/** Refuses a node without rsync, saying how to install it. */
export function checkRsync(node: string, facts: NodeFacts, target: SshTarget): void {
  if (facts.rsync === "") {
    throw new NotFoundError(
      `rsync is not installed on ${node} (${target.ip}): imgcapture pulls the root with ` +
        "it; install it there (apt-get install rsync, dnf install rsync or zypper install " +
        "rsync) and run imgcapture again.",
    );
  }
}

/**
 * rsync rules for what the scrubs leave out, the generalised `files` (fetched apart), and the
 * node's active swap files.
 */
export function scrubExclusions(
  request: { keepPasswords: boolean },
  facts: NodeFacts,
  files: readonly string[] = GENERALISED_FILES,
): string[] {
  const rules: string[] = [];
  for (const rule of SCRUB_RULES) {
    if (rule.passwordsOnly && request.keepPasswords) continue;
    for (const glob of rule.globs) rules.push(`- ${scrubGlobToRsync(glob)}`);
  }
  for (const path of files) rules.push(`- ${literalRsyncPattern(path)}`);
  for (const path of facts.swapFiles) rules.push(`- ${literalRsyncPattern(path)}`);
  return rules;
}

/** rsync's --stats lines, the block admins know ("Number of files: ..." to "Total bytes received"). */
const STATS_LINE =
  /^(Number of (files|created files|deleted files|regular files transferred)|Total (file size|transferred file size|bytes sent|bytes received)|Literal data|Matched data|File list (size|generation time|transfer time)|sent .* bytes|total size is)/;

/** What one rsync pull copies and where. */
export interface TreeTransfer {
  /** An empty directory the node's tree is copied into. */
  staged: string;
  /**
   * The node's directories to copy (`/`, then other mount points): each copied whole but
   * never past a mount point of its own (rsync -x), at its own path under `staged`.
   */
  sources: readonly string[];
  /** The current copy: files unchanged since are hard links to it, not transferred. */
  linkDest?: string;
  /** -V: every changed path is listed. */
  verbose: boolean;
}

/** rsync's --stats figures a capture reports. */
export interface TransferStats {
  /** "Number of regular files transferred". */
  files: number;
  /** "Total transferred file size" in bytes. */
  bytes: number;
}

/**
 * Pulls the node's `transfer.sources` into `transfer.staged` with `rules` (rsync filter rules
 * anchored at the node's `/`), unchanged files linked from `transfer.linkDest`; the --stats
 * block is reported as rsync prints it.
 */
export async function transferTree(
  ctx: Context,
  site: CaptureSite,
  target: SshTarget,
  rules: readonly string[],
  transfer: TreeTransfer,
): Promise<TransferStats> {
  const { staged, verbose } = transfer;
  const filterFile = `${dirname(staged)}/capture.rules`;
  // Callers put the scrub exclusions before the exlist's rules: rsync's first match wins, and
  // an exlist's `+` line must not bring a secret back.
  await Deno.writeTextFile(filterFile, rules.join("\n") + "\n");
  const terminal = ctx.io.stderrIsTerminal;
  const argv = [
    // The transfer dies with osimg: a killed osimg must not leave rsync writing into staging.
    "setpriv",
    "--pdeathsig",
    "KILL",
    "rsync",
    "-aHAXS",
    "--numeric-ids",
    "--one-file-system",
    "--delete",
    "--stats",
    `--filter=merge ${filterFile}`,
    "-e",
    rsyncShell(target),
    ...(transfer.linkDest ? [`--link-dest=${transfer.linkDest}`] : []),
    ...(verbose ? ["--itemize-changes"] : []),
    ...(terminal ? ["--info=progress2"] : []),
    // One source: `/`. More: --relative with `/./`, each lands at its own path.
    ...(transfer.sources.length === 1 && transfer.sources[0] === "/"
      ? [`${target.ip}:/`]
      : ["--relative", ...transfer.sources.map((path) => `${target.ip}:/.${path}`)]),
    `${staged}/`,
  ];
  const stats: TransferStats = { files: 0, bytes: 0 };
  const figure = (line: string) => Number(/:\s*([\d,]+)/.exec(line)?.[1]?.replaceAll(",", "") ?? 0);
  const progress = ctx.progress(`imgcapture ${site.node}`);
  let inStats = false;
  let lastBytes = 0;
  const result = await ctx.runner.stream(argv, {
    allowFailure: true,
    onStdoutLine: (line) => {
      const progressLine = /^\s*([\d,]+)\s+\d+%\s/.exec(line);
      if (progressLine) {
        const bytes = Number(progressLine[1]!.replaceAll(",", ""));
        progress.advance(Math.max(0, bytes - lastBytes));
        lastBytes = bytes;
        return;
      }
      if (/^Number of files:/.test(line)) inStats = true;
      if (/^Number of regular files transferred:/.test(line)) stats.files = figure(line);
      if (/^Total transferred file size:/.test(line)) stats.bytes = figure(line);
      if (inStats && STATS_LINE.test(line.trim())) ctx.reporter.line(line.trim());
      else if (verbose && line.trim() !== "" && !inStats) ctx.reporter.line(line);
    },
  }).finally(() => progress.done());
  if (result.code === 0) return stats;
  if (result.code === RSYNC_VANISHED) {
    ctx.reporter.warn(
      `some files of ${site.node} vanished while they were copied (a live system): they are not in the image.`,
    );
    return stats;
  }
  const failure = sshFailure(target, result.code, result.stderrTail, false);
  if (failure) throw failure;
  throw rsyncFailure(site, argv, result.code, result.stderrTail);
}

/** rsync's exit status as the message the admin needs. */
function rsyncFailure(
  plan: CaptureSite,
  argv: readonly string[],
  code: number,
  stderr: string,
): OsimgError {
  const tail = stderr.trim().split("\n").filter((line) => line.trim() !== "").slice(-2).join(
    " / ",
  );
  if (/No space left on device|Disk quota exceeded/.test(stderr)) {
    return diskFullError(plan, "No space left on device");
  }
  if (/command not found|rsync: not found|No such file or directory.*rsync/.test(stderr)) {
    return new NotFoundError(
      `rsync is not installed on ${plan.node}: install it there and run imgcapture again.`,
    );
  }
  // 10 socket, 12 protocol stream, 20 signal, 30/35 timeouts, 255 ssh; >128: rsync killed.
  if ([10, 12, 20, 30, 35, 255].includes(code) || code > 128) {
    return new ExternalCommandError(
      argv,
      code,
      stderr,
      `The transfer from ${plan.node} was interrupted (rsync exit ${code}${
        tail ? `: ${tail}` : ""
      }); the image was not changed. Run imgcapture again: it continues from what is in the ` +
        `current ${plan.copyName ?? "rootimg"}.`,
    );
  }
  return new ExternalCommandError(
    argv,
    code,
    stderr,
    `rsync could not copy the ${
      plan.copyName ? "file systems" : "root file system"
    } of ${plan.node} (exit ${code}${tail ? `: ${tail}` : ""}); the image was not changed.`,
  );
}

function diskFullError(plan: CaptureSite, cause: string): OsimgError {
  return new OsimgError(
    `Not enough space in ${plan.installDir} for the image captured from ${plan.node} ` +
      `(${cause}): free some space and run imgcapture again; the image was not changed.`,
  );
}

/** An error of our own writes that is a full disk, as the same message rsync's gets. */
export function diskFull(error: unknown, plan: CaptureSite): OsimgError | undefined {
  if (error instanceof OsimgError && !(error instanceof ExternalCommandError)) return undefined;
  const text = error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : "";
  if (/No space left on device|os error 28|ENOSPC/.test(text)) {
    return diskFullError(plan, "No space left on device");
  }
  return undefined;
}

/**
 * The scrubs on the staged tree: placeholders for what was not captured, the generalised
 * files fetched apart and rewritten, and the host-key unit. Every write makes a new file (never
 * an existing inode: unchanged files are hard links into the current rootimg). Each scrub is
 * listed in the output.
 */
/** How the scrubs treat a capture. */
export interface ScrubOptions {
  keepPasswords: boolean;
  /** The name a diskless fstab's tmpfs root gets (`<profile>_<arch>`). */
  rootName: string;
  /** The boot interface the generalised network files leave to the initrd. */
  nodebootif?: string;
  /** Which of {@linkcode GENERALISED_FILES} are fetched apart and rewritten. */
  files: readonly string[];
}

export async function scrub(
  ctx: Context,
  plan: CaptureSite,
  target: SshTarget,
  facts: NodeFacts,
  staging: Staging,
  staged: string,
  request: ScrubOptions,
): Promise<void> {
  for (const rule of SCRUB_RULES) {
    if (rule.passwordsOnly && request.keepPasswords) continue;
    const paths = facts.scrubPaths.get(rule.name) ?? [];
    if (paths.length === 0) continue;
    const verb = rule.action === "drop" ? "not captured" : "replaced";
    ctx.reporter.line(`Scrubbed ${rule.name}: ${paths.join(", ")} ${verb} (${rule.reason})`);
    if (rule.action === "drop") continue;
    for (const path of paths) {
      const host = `${staged}${path}`;
      if (!await exists(dirname(host))) continue;
      await Deno.remove(host).catch(() => {});
      if (rule.action === "empty") {
        await Deno.writeTextFile(host, "", { mode: path === "/etc/machine-id" ? 0o444 : 0o644 });
        await Deno.chmod(host, path === "/etc/machine-id" ? 0o444 : 0o644);
      } else await Deno.symlink(rule.target!, host);
    }
  }
  if ((facts.scrubPaths.get("ssh-host-keys") ?? []).length > 0) {
    await installHostKeyUnit(ctx, staged);
  }

  // The files a diskless clone needs rewritten: fetched apart (their originals never enter the
  // tree), rewritten, then renamed into the staged tree.
  const fetched = `${staging.dir}/generalise`;
  await Deno.mkdir(fetched, { mode: 0o700 });
  const list = `${staging.dir}/generalise.list`;
  await Deno.writeTextFile(list, request.files.join("\n") + "\n");
  const argv = [
    "setpriv",
    "--pdeathsig",
    "KILL",
    "rsync",
    "-aAX",
    "--numeric-ids",
    "--ignore-missing-args",
    `--files-from=${list}`,
    "-e",
    rsyncShell(target),
    `${target.ip}:/`,
    `${fetched}/`,
  ];
  const result = await ctx.runner.run(argv, { allowFailure: true });
  if (result.code !== 0) {
    throw sshFailure(target, result.code, result.stderr, false) ??
      rsyncFailure(plan, argv, result.code, result.stderr);
  }
  for (const path of request.files) {
    const source = `${fetched}${path}`;
    const info = await Deno.lstat(source).catch(() => undefined);
    if (!info) continue;
    const destination = `${staged}${path}`;
    if (!await exists(dirname(destination))) continue;
    if (info.isFile) {
      const text = await Deno.readTextFile(source);
      const rewritten = generalise(path, text, facts, request);
      if (rewritten) {
        ctx.reporter.line(rewritten.message);
        await Deno.writeTextFile(source, rewritten.text);
      }
    }
    await Deno.rename(source, destination);
  }
}

/** One generalised file's new text and what the output says, or undefined to keep it as is. */
function generalise(
  path: string,
  text: string,
  facts: NodeFacts,
  request: ScrubOptions,
): { text: string; message: string } | undefined {
  const rootName = request.rootName;
  switch (path) {
    case "/etc/shadow":
    case "/etc/gshadow": {
      if (request.keepPasswords) return undefined;
      const scrubbed = scrubPasswordHashes(text);
      return {
        text: scrubbed.text,
        message: `Scrubbed passwords: ${path}: ${scrubbed.removed} password ${
          scrubbed.removed === 1 ? "hash" : "hashes"
        } removed (--keep-passwords keeps them)`,
      };
    }
    case "/etc/fstab": {
      const result = generaliseFstab(text, rootName);
      return {
        text: result.text,
        message: `Generalised ${path}: ${
          result.disabled.length === 0
            ? "no local-disk entries"
            : `local-disk entries commented out: ${result.disabled.join(", ")}`
        }; / is tmpfs (${rootName})`,
      };
    }
    case "/etc/hosts": {
      const result = generaliseHosts(text, facts.hostname);
      if (result.removed === 0) return undefined;
      return {
        text: result.text,
        message: `Generalised ${path}: the golden node's name ${facts.hostname} removed ` +
          `from ${result.removed} loopback ${result.removed === 1 ? "line" : "lines"}`,
      };
    }
    case "/etc/network/interfaces": {
      const nodebootif = request.nodebootif;
      const result = generaliseInterfaces(text, nodebootif);
      return {
        text: result.text,
        message: `Generalised ${path}: ${
          result.dropped.length === 0 ? "no interface" : result.dropped.join(", ")
        } dropped, lo kept${nodebootif ? `, ${nodebootif} left to the initrd` : ""}`,
      };
    }
  }
  return undefined;
}

/** Enables a oneshot `ssh-keygen -A` at boot in a systemd image that has ssh-keygen. */
async function installHostKeyUnit(ctx: Context, staged: string): Promise<void> {
  const systemDir = `${staged}/etc/systemd/system`;
  if (!await exists(systemDir) || !await exists(`${staged}/usr/bin/ssh-keygen`)) return;
  const unit = `${systemDir}/osimg-ssh-host-keys.service`;
  await Deno.remove(unit).catch(() => {});
  await Deno.writeTextFile(unit, SSH_HOST_KEYS_UNIT, { mode: 0o644 });
  const wants = `${systemDir}/multi-user.target.wants`;
  if (!await exists(wants)) await Deno.mkdir(wants, { mode: 0o755 });
  const link = `${wants}/osimg-ssh-host-keys.service`;
  await Deno.remove(link).catch(() => {});
  await Deno.symlink("/etc/systemd/system/osimg-ssh-host-keys.service", link);
  ctx.reporter.line(
    "Added /etc/systemd/system/osimg-ssh-host-keys.service: ssh-keygen -A at boot",
  );
}

export function isYes(value: string | undefined): boolean {
  return /^(1|yes|y|true|on)$/i.test((value ?? "").trim());
}

/** The osimage and linuximage rows after the capture (an existing image's other columns kept). */
function definitionRows(plan: CapturePlan, request: ImgcaptureRequest, pkglist?: string) {
  const osimage: Row = {
    ...(plan.existing?.osimage ?? {
      imagetype: "linux",
      osname: "Linux",
      provmethod: "netboot",
    }),
    imagename: plan.image,
    osvers: plan.os,
    osarch: plan.arch,
    profile: plan.existing?.osimage.profile ?? plan.profile,
  };
  const linuximage: Row = {
    ...(plan.existing?.linuximage ?? {}),
    imagename: plan.image,
    rootimgdir: plan.rootimgdir,
  };
  // An image's own pkglist is the admin's; a captured image without one gets the node's.
  if (pkglist && !linuximage.pkglist) linuximage.pkglist = pkglist;
  if (request.nodebootif !== undefined) linuximage.nodebootif = request.nodebootif;
  if (request.netdrivers !== undefined) linuximage.netdrivers = request.netdrivers;
  return [
    { table: "osimage", where: { imagename: plan.image }, after: [osimage] },
    { table: "linuximage", where: { imagename: plan.image }, after: [linuximage] },
  ];
}
