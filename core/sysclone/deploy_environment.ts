// osimg's sysclone deploy environment for one image: the image's own kernel, an initrd of the
// image's busybox, disk tools and modules with the deploy /init and the layout's plan, and the
// image repository packed as one tar that the initrd streams onto the node's disk.

import { createHash } from "node:crypto";
import { posix } from "node:path";
import { tarStream } from "../../formats/archive/tar.ts";
import {
  type DiskLayout,
  fileSystems,
  parseDiskLayout,
} from "../../formats/sysclone/disk_layout.ts";
import { deployPlan } from "../../formats/sysclone/deploy_plan.ts";
import { compressToFile } from "../compress/compress.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { ProcessRunner } from "../process.ts";
import { resolveInRoot } from "../tree/root_path.ts";
import { walkTree } from "../tree/walk.ts";
import { addModules } from "../genimage/netboot_initrd.ts";
import { findInImage, InitrdTree } from "../genimage/initrd_tree.ts";
import { SYSCLONE_DEPLOY_INIT } from "./deploy_init_script.ts";
import { SYSCLONE_UPDATE_AWK } from "./deploy_update_script.ts";
import { writeDeployManifest } from "./deploy_manifest.ts";
import { NODE_OWN_PATHS, nodeOwnPattern } from "../../formats/sysclone/image_manifest.ts";
import {
  SYSCLONE_DEPLOY_FILES,
  syscloneDirectories,
} from "../../providers/provmethods/provmethods.ts";
import { hostPath } from "../paths.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";
import type { Row } from "../store/store.ts";

/**
 * Bumped when the initrd's contents or the archive's form change, so every image's deploy
 * environment is rebuilt by the next nodeset.
 */
const DEPLOY_FORMAT = "osimg-sysclone-deploy 2";

/** Disk and NIC drivers a node may need, loaded when the image's kernel has them. */
const HARDWARE_MODULES = [
  "virtio_pci",
  "virtio_blk",
  "virtio_scsi",
  "virtio_net",
  "sd_mod",
  "ahci",
  "ata_piix",
  "nvme",
  "e1000",
  "e1000e",
  "igb",
  "ixgbe",
  "tg3",
  "bnx2",
  "efivarfs",
];

/** Modules each file system needs (vfat: the code pages its default mount options name). */
const FILE_SYSTEM_MODULES: Record<string, { required: string[]; optional: string[] }> = {
  ext2: { required: ["ext4"], optional: [] },
  ext3: { required: ["ext4"], optional: [] },
  ext4: { required: ["ext4"], optional: ["crc32c_generic"] },
  xfs: { required: ["xfs"], optional: [] },
  vfat: { required: ["vfat"], optional: ["nls_cp437", "nls_iso8859_1", "nls_ascii", "nls_utf8"] },
  swap: { required: [], optional: [] },
};

/** The image's programs the init runs, by what needs them: [path in the initrd, candidates]. */
const ALWAYS_PROGRAMS: [string, string[]][] = [
  ["sfdisk", ["/usr/sbin/sfdisk", "/sbin/sfdisk"]],
  ["wipefs", ["/usr/sbin/wipefs", "/sbin/wipefs"]],
  ["blkid", ["/usr/sbin/blkid", "/sbin/blkid"]],
  ["tar", ["/usr/bin/tar", "/bin/tar"]],
];
const FILE_SYSTEM_PROGRAMS: Record<string, [string, string[]][]> = {
  ext2: [["mke2fs", ["/usr/sbin/mke2fs", "/sbin/mke2fs"]]],
  ext3: [["mke2fs", ["/usr/sbin/mke2fs", "/sbin/mke2fs"]]],
  ext4: [["mke2fs", ["/usr/sbin/mke2fs", "/sbin/mke2fs"]]],
  xfs: [["mkfs.xfs", ["/usr/sbin/mkfs.xfs", "/sbin/mkfs.xfs"]]],
  vfat: [["mkfs.fat", ["/usr/sbin/mkfs.fat", "/sbin/mkfs.fat"]]],
  swap: [["mkswap", ["/usr/sbin/mkswap", "/sbin/mkswap"]]],
};
/** What a layout with LVM adds: the image's lvm (pvcreate, vgcreate... are its subcommands). */
const LVM_PROGRAMS: [string, string[]][] = [["lvm", ["/usr/sbin/lvm", "/sbin/lvm"]]];
const LVM_MODULES = ["dm-mod"];
/** Which Debian/RHEL package gives each program, for the error when the image lacks it. */
const PROGRAM_PACKAGES: Record<string, string> = {
  sfdisk: "fdisk (util-linux on RHEL)",
  wipefs: "util-linux",
  blkid: "util-linux",
  tar: "tar",
  mke2fs: "e2fsprogs",
  "mkfs.xfs": "xfsprogs",
  "mkfs.fat": "dosfstools",
  mkswap: "util-linux",
  lvm: "lvm2",
};

/** Where one image's deploy files are, as host paths. */
export interface DeployPaths {
  /** The image repository: the golden client's root tree. */
  repository: string;
  /** The disk layout file beside it. */
  layout: string;
  /** The directory holding kernel, initrd and archive (created when missing). */
  deployDir: string;
}

/** What a build did. */
export interface DeployBuild {
  /** false: the files were up to date and left alone. */
  built: boolean;
  kernelVersion: string;
  /** Archive bytes (the repository as tar). */
  archiveBytes: number;
  /** Initrd bytes (gzip'd cpio). */
  initrdBytes: number;
}

/**
 * Builds the deploy environment of `image` into `paths.deployDir` (the names in
 * {@linkcode SYSCLONE_DEPLOY_FILES}) unless it is up to date: a stamp file records a digest of
 * the layout, the postscripts, the kernel and every path, size, mode, owner and mtime of the
 * repository, so an unchanged image costs one walk of its metadata. The new files are written
 * in a sibling directory and swapped in with renames, so nodes booting meanwhile get the old set
 * or the new one.
 *
 * @example
 * ```ts
 * await buildDeployEnvironment(ctx.runner, "rhels9-clone", paths, { postscripts: [] });
 * ```
 */
export async function buildDeployEnvironment(
  runner: ProcessRunner,
  image: string,
  paths: DeployPaths,
  options: { postscripts: readonly string[] },
): Promise<DeployBuild> {
  const repositoryInfo = await Deno.stat(paths.repository).catch(() => undefined);
  if (!repositoryInfo?.isDirectory) {
    throw new NotFoundError(
      `The sysclone image ${image} has no repository at ${paths.repository}: capture it with ` +
        `'imgcapture <node> -t sysclone -o ${image}'`,
    );
  }
  let layoutText: string;
  try {
    layoutText = await Deno.readTextFile(paths.layout);
  } catch {
    throw new NotFoundError(
      `The sysclone image ${image} has no disk layout at ${paths.layout}: capture it again with imgcapture -t sysclone`,
    );
  }
  const layout = parseDiskLayout(layoutText, paths.layout);
  const plan = deployPlan(layout, image);
  for (const name of options.postscripts) {
    if (!/^[A-Za-z0-9_.+-]+$/.test(name) || name === "." || name === "..") {
      throw new InvalidInputError(
        `The postscript '${name}' of the osimage ${image} is not a file name under /install/postscripts`,
      );
    }
  }
  const kernel = await imageKernel(paths.repository, image);
  const stamp = await deployStamp(paths, layoutText, options.postscripts, kernel.version);
  const files = SYSCLONE_DEPLOY_FILES;
  const current = await Deno.readTextFile(`${paths.deployDir}/${files.stamp}`).catch(() => "");
  if (current === stamp) {
    const sizes = await Promise.all(
      [files.archive, files.initrd, files.kernel].map((name) =>
        Deno.stat(`${paths.deployDir}/${name}`).then((info) => info.size, () => -1)
      ),
    );
    if (sizes.every((size) => size >= 0)) {
      return {
        built: false,
        kernelVersion: kernel.version,
        archiveBytes: sizes[0]!,
        initrdBytes: sizes[1]!,
      };
    }
  }

  const parent = posix.dirname(paths.deployDir);
  // A failed first build leaves no empty <installdir>/sysclone/deploy behind.
  const parentExisted = await Deno.stat(parent).then(() => true, () => false);
  await Deno.mkdir(parent, { recursive: true });
  let done = false;
  const work = await Deno.makeTempDir({
    dir: parent,
    prefix: `.${posix.basename(paths.deployDir)}.`,
  });
  try {
    const initrdBytes = await buildDeployInitrd(runner, {
      image,
      repository: paths.repository,
      kernelVersion: kernel.version,
      layout,
      plan,
      postscripts: options.postscripts,
    }, `${work}/${files.initrd}`);
    await Deno.copyFile(kernel.host, `${work}/${files.kernel}`);
    const archiveBytes = await compressToFile(
      runner,
      "none",
      tarStream(walkTree(paths.repository, { oneFileSystem: false, xattrs: true })),
      `${work}/${files.archive}`,
    );
    await writeDeployManifest(
      paths.repository,
      `${work}/${files.manifest}`,
      `${work}/${files.objects}`,
    );
    await Deno.writeTextFile(`${work}/${files.stamp}`, stamp);
    // Swap directories: the old set is renamed away whole, then removed.
    const old = `${work}.old`;
    const hadOld = await Deno.rename(paths.deployDir, old).then(() => true, () => false);
    await Deno.rename(work, paths.deployDir);
    if (hadOld) await Deno.remove(old, { recursive: true });
    done = true;
    return { built: true, kernelVersion: kernel.version, archiveBytes, initrdBytes };
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
    if (!done && !parentExisted) await Deno.remove(parent).catch(() => {});
  }
}

/**
 * nodeset's call: the deploy environment of the sysclone image `image` (its osimage row gives
 * the postscripts), under `root`, built when missing or outdated.
 */
export function buildSyscloneDeployEnvironment(
  runner: ProcessRunner,
  root: string,
  installDir: string,
  image: string,
  osimage: Row,
): Promise<DeployBuild> {
  const dirs = syscloneDirectories(installDir, image);
  return buildDeployEnvironment(runner, image, {
    repository: hostPath(root, dirs.repository),
    layout: hostPath(root, dirs.layout),
    deployDir: hostPath(root, dirs.deploy),
  }, { postscripts: commaList(osimage.postscripts ?? "") });
}

/** The kernel the image boots: /vmlinuz's target, else the newest /boot/vmlinuz-<version>. */
async function imageKernel(
  repository: string,
  image: string,
): Promise<{ version: string; host: string }> {
  const versions: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${repository}/boot`)) {
      const match = /^vmlinuz-(.+)$/.exec(entry.name);
      if (match) versions.push(match[1]!);
    }
  } catch {
    // no /boot: reported below
  }
  const linked = await resolveInRoot(repository, "/vmlinuz");
  const fromLink = linked ? /vmlinuz-(.+)$/.exec(linked)?.[1] : undefined;
  const version = fromLink && versions.includes(fromLink)
    ? fromLink
    : versions.sort((a, b) => a.localeCompare(b, "en", { numeric: true })).at(-1);
  if (version === undefined) {
    throw new NotFoundError(
      `The sysclone image ${image} has no kernel (/boot/vmlinuz-<version>): the golden client must boot a kernel installed in its root`,
    );
  }
  return { version, host: `${repository}/boot/vmlinuz-${version}` };
}

/**
 * The digest a deploy environment is stamped with: the deploy format, the layout text, the
 * postscripts, the kernel version and the metadata of every path of the repository.
 */
export async function deployStamp(
  paths: Pick<DeployPaths, "repository">,
  layoutText: string,
  postscripts: readonly string[],
  kernelVersion: string,
): Promise<string> {
  const digest = createHash("sha256");
  digest.update(`${DEPLOY_FORMAT}\n${layoutText}\n${postscripts.join(",")}\n${kernelVersion}\n`);
  await treeDigest(paths.repository, "", digest);
  return digest.digest("hex") + "\n";
}

/** Hashes every path's metadata under `dir` in sorted order (not contents: mtimes say it). */
async function treeDigest(
  root: string,
  relative: string,
  digest: ReturnType<typeof createHash>,
): Promise<void> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(relative === "" ? root : `${root}/${relative}`)) {
    names.push(entry.name);
  }
  names.sort();
  for (const name of names) {
    const path = relative === "" ? name : `${relative}/${name}`;
    const info = await Deno.lstat(`${root}/${path}`);
    digest.update(
      `${path}\0${info.mode}\0${info.uid}:${info.gid}\0${info.size}\0${info.mtime?.getTime()}\0${
        info.isSymlink ? await Deno.readLink(`${root}/${path}`) : ""
      }\n`,
    );
    if (info.isDirectory) await treeDigest(root, path, digest);
  }
}

interface DeployInitrdOptions {
  image: string;
  repository: string;
  kernelVersion: string;
  layout: DiskLayout;
  plan: ReturnType<typeof deployPlan>;
  postscripts: readonly string[];
}

/**
 * Every initrd member's mtime: fixed, so an unchanged image gives the same initrd bytes (the
 * stamp, not the time, says when it must be rebuilt).
 */
const INITRD_MTIME = 0;

/** Writes the deploy initrd (gzip'd cpio newc, members sorted, owned by root, one mtime). */
async function buildDeployInitrd(
  runner: ProcessRunner,
  options: DeployInitrdOptions,
  output: string,
): Promise<number> {
  const { repository, kernelVersion, image } = options;
  const initrd = new InitrdTree(
    repository,
    `the sysclone deploy initrd of ${image}`,
    INITRD_MTIME,
    ["target", "etc/osimg/sysclone"],
  );
  await initrd.addBusybox(
    "install busybox (or busybox-static) on the golden client and capture again",
  );

  const types = new Set(fileSystems(options.layout).map((fs) => fs.type));
  const programs = [...ALWAYS_PROGRAMS];
  for (const type of types) programs.push(...(FILE_SYSTEM_PROGRAMS[type] ?? []));
  const lvm = options.layout.disks.some((disk) => disk.volumeGroups.length > 0);
  if (lvm) programs.push(...LVM_PROGRAMS);
  const missing: string[] = [];
  for (const [name, candidates] of programs) {
    if (initrd.has(`osimg/bin/${name}`)) continue;
    const found = await findInImage(repository, candidates);
    if (!found) {
      missing.push(`${name} (${PROGRAM_PACKAGES[name]})`);
      continue;
    }
    await initrd.addProgram(found.host, `osimg/bin/${name}`);
  }
  if (missing.length > 0) {
    throw new NotFoundError(
      `Cannot build the sysclone deploy initrd of ${image}: its image lacks ${
        missing.join(", ")
      }; ` +
        `install them on the golden client and capture again`,
    );
  }
  const mke2fsConf = await resolveInRoot(repository, "/etc/mke2fs.conf");
  if (mke2fsConf) initrd.addFile("etc/mke2fs.conf", await Deno.readFile(mke2fsConf), 0o644);

  const required = new Set<string>();
  const optional = new Set<string>(HARDWARE_MODULES);
  if (lvm) { for (const module of LVM_MODULES) required.add(module); }
  for (const type of types) {
    for (const module of FILE_SYSTEM_MODULES[type]?.required ?? []) required.add(module);
    for (const module of FILE_SYSTEM_MODULES[type]?.optional ?? []) optional.add(module);
  }
  await addModules(initrd, runner, {
    rootimg: repository,
    kernelVersion,
    drivers: [...required],
    optionalDrivers: [...optional],
  });

  const grub = async (target: string) =>
    (await resolveInRoot(repository, `/usr/lib/grub/${target}/modinfo.sh`)) !== undefined;
  const conf = options.plan.conf +
    `GRUB_BIOS=${(await grub("i386-pc")) ? "yes" : "no"}\n` +
    `GRUB_EFI=${(await grub("x86_64-efi")) ? "yes" : "no"}\n` +
    updateConf(options.plan);
  initrd.addText("init", SYSCLONE_DEPLOY_INIT, 0o755);
  initrd.addUdhcpcScript();
  initrd.addText("etc/osimg/sysclone/layout.conf", conf);
  initrd.addText("etc/osimg/sysclone/partitions.sfdisk", options.plan.sfdisk);
  initrd.addText("etc/osimg/sysclone/filesystems", options.plan.filesystems);
  initrd.addText("etc/osimg/sysclone/update.awk", SYSCLONE_UPDATE_AWK);
  initrd.addText("etc/osimg/sysclone/node-own", nodeOwnPattern(nodeOwnPaths(options.plan)) + "\n");
  initrd.addText("etc/osimg/sysclone/lvm", options.plan.lvm);
  initrd.addText(
    "etc/osimg/sysclone/postscripts",
    options.postscripts.map((name) => name + "\n").join(""),
  );
  return await initrd.write(runner, output, 6);
}

/**
 * The update's settings in layout.conf: the manifest's name beside the archive, and the layout
 * id a clone is stamped with (a digest of the partition plan: a clone made from another plan is
 * not updated but cloned again).
 */
function updateConf(plan: ReturnType<typeof deployPlan>): string {
  const id = createHash("sha256").update(plan.sfdisk).update("\0").update(plan.filesystems)
    .digest("hex").slice(0, 16);
  return `LAYOUT_ID=${id}\nMANIFEST=${SYSCLONE_DEPLOY_FILES.manifest}\n`;
}

/** The node-own paths, plus everything on the EFI system partition (grub-install's files). */
function nodeOwnPaths(plan: ReturnType<typeof deployPlan>): string[] {
  const esp = /^ESP_MOUNT=(.*)$/m.exec(plan.conf)?.[1];
  return esp && esp !== "-" && esp !== "/"
    ? [...NODE_OWN_PATHS, `${esp.replace(/^\//, "")}/**`]
    : [...NODE_OWN_PATHS];
}
