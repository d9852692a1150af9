// A disk layout turned into what the sysclone deploy init reads: an sfdisk script, the file
// systems in mount order, and a few shell variables (the smallest disk, the boot partitions).

import { InvalidInputError } from "../../core/errors.ts";
import {
  DEFAULT_EXTENT_SIZE,
  type Disk,
  type DiskLayout,
  type FileSystem,
  type Partition,
} from "./disk_layout.ts";

/** The deploy environment's files under /etc/osimg/sysclone/ in the initrd. */
export interface DeployPlan {
  /** `layout.conf`: shell assignments the init sources (values are checked words and numbers). */
  conf: string;
  /** `partitions.sfdisk`: sfdisk's input; the last partition has no size, so it takes the rest. */
  sfdisk: string;
  /**
   * `filesystems`: one line per file system, `<partition|vg/lv> <type> <label|-> <mountpoint|-> <options> <dump> <pass>`,
   * those with a mount point first in mount order (parents before children), then swap.
   */
  filesystems: string;
  /**
   * `lvm`: the volume groups and logical volumes to make, after the partitions and before the
   * file systems: `vg <name> <extent bytes> <partition>...`, then `lv <vg> <name> <extents|grow>`,
   * a group's fixed LVs before its growing one (which takes the group's free space). Empty when
   * the layout has no LVM.
   */
  lvm: string;
  /** The smallest disk, in bytes, the layout fits on. */
  minBytes: number;
}

const MIB = 1024 * 1024;

/**
 * The deploy plan of `layout`, or an InvalidInputError saying why osimg cannot deploy it (more
 * than one disk, no root file system, logical volumes that cannot fit). Partitions are created
 * in table order and numbered 1, 2, ... on the node (fstab names file systems by their new UUIDs,
 * so numbers do not matter); fixed sizes are rounded up to MiB, the first partition starts at
 * 1 MiB, and the last partition takes the rest of the disk. In a volume group, fixed LVs keep
 * their size in extents and the growing LV takes what is left; a growing physical volume needs
 * room for the metadata LVM puts before the first extent, its group's fixed LVs and the growing
 * LV's minimum. In `filesystems`, an LV's file system is named `<vg>/<lv>`.
 *
 * @example
 * ```ts
 * const plan = deployPlan(parseDiskLayout(text, path), "rhels9-clone");
 * plan.minBytes; // 1 MiB + the fixed partitions + the last partition's minimum + 1 MiB
 * ```
 */
export function deployPlan(layout: DiskLayout, image: string): DeployPlan {
  const refuse = (why: string) =>
    new InvalidInputError(`Cannot deploy the sysclone image ${image}: ${why}`);
  if (layout.disks.length !== 1) {
    throw refuse(
      `its layout has ${layout.disks.length} disks; osimg clones onto one disk (capture a golden client whose file systems are on one disk)`,
    );
  }
  const disk = layout.disks[0]!;
  const partitions = [...disk.partitions].sort((a, b) => a.number - b.number);
  const onVolumes = disk.volumeGroups.flatMap((group) =>
    group.logicalVolumes.map((volume) => volume.filesystem)
  );
  if (
    ![...partitions.map((part) => part.filesystem), ...onVolumes].some((fs) =>
      fs?.mountpoint === "/"
    )
  ) {
    throw refuse("its layout has no file system mounted at /");
  }
  if (disk.table === "msdos" && partitions.length > 4) {
    throw refuse("an msdos layout deploys at most 4 primary partitions");
  }

  const mib = (bytes: number) => Math.ceil(bytes / MIB);
  const lvm = lvmPlan(disk, partitions, refuse);
  const lines = [`label: ${disk.table}`];
  let minMib = 2; // 1 MiB before the first partition (alignment), 1 MiB at the end (GPT's backup)
  partitions.forEach((part, index) => {
    const last = index === partitions.length - 1;
    const fields: string[] = [];
    if (last) minMib += mib(lvm.growingMin ?? part.minSize ?? part.size);
    else {
      minMib += mib(part.size);
      fields.push(`size=${mib(part.size)}MiB`);
    }
    fields.push(`type=${part.type}`);
    if (disk.table === "gpt" && part.name !== undefined) fields.push(`name="${part.name}"`);
    if (disk.table === "msdos" && part.flags.includes("boot")) fields.push("bootable");
    lines.push(fields.join(", "));
  });

  const position = new Map<Partition, number>(partitions.map((part, index) => [part, index + 1]));
  const mounted: { index: number | string; fs: FileSystem }[] = [];
  const unmounted: { index: number | string; fs: FileSystem }[] = [];
  const place = (index: number | string, fs: FileSystem) =>
    (fs.mountpoint !== undefined ? mounted : unmounted).push({ index, fs });
  for (const part of partitions) if (part.filesystem) place(position.get(part)!, part.filesystem);
  for (const group of disk.volumeGroups) {
    for (const volume of group.logicalVolumes) {
      if (volume.filesystem) place(`${group.name}/${volume.name}`, volume.filesystem);
    }
  }
  // Parents first: "/" before "/boot" before "/boot/efi".
  const depth = (path: string) => path === "/" ? 0 : path.split("/").length - 1;
  mounted.sort((a, b) =>
    depth(a.fs.mountpoint!) - depth(b.fs.mountpoint!) ||
    (a.fs.mountpoint! < b.fs.mountpoint! ? -1 : 1)
  );
  const filesystems = [...mounted, ...unmounted].map(({ index, fs }) =>
    [
      index,
      fs.type,
      fs.label ?? "-",
      fs.mountpoint ?? "-",
      fs.options ?? (fs.type === "swap" ? "sw" : "defaults"),
      fs.dump ?? 0,
      fs.pass ??
        (fs.mountpoint === "/" ? 1 : fs.mountpoint !== undefined && fs.type !== "vfat" ? 2 : 0),
    ].join(" ") + "\n"
  ).join("");

  const esp = partitions.find((part) => part.flags.includes("esp"));
  const biosBoot = disk.table === "msdos" ||
    partitions.some((part) => part.flags.includes("bios_grub"));
  const conf = [
    `# written by osimg nodeset from the disk layout of ${image}`,
    `IMAGE='${image.replaceAll("'", "'\\''")}'`,
    `TABLE=${disk.table}`,
    `PARTITIONS=${partitions.length}`,
    `MIN_BYTES=${minMib * MIB}`,
    // BIOS boot needs somewhere for grub's core image: GPT's BIOS boot partition, or the gap
    // an msdos table leaves before its first partition at 1 MiB.
    `BIOS_BOOT=${biosBoot ? "yes" : "no"}`,
    `ESP_MOUNT=${esp?.filesystem?.mountpoint ?? "-"}`,
    `LVM=${disk.volumeGroups.length > 0 ? "yes" : "no"}`,
    "",
  ].join("\n");
  return {
    conf,
    sfdisk: lines.join("\n") + "\n",
    filesystems,
    lvm: lvm.text,
    minBytes: minMib * MIB,
  };
}

/**
 * The `lvm` file of a disk's volume groups, with the bytes the growing last partition needs
 * when it is a physical volume (undefined when it is not one). A group whose LVs do not fit its
 * fixed physical volumes is refused: the node would fail half way through the deploy.
 */
function lvmPlan(
  disk: Disk,
  partitions: readonly Partition[],
  refuse: (why: string) => InvalidInputError,
): { text: string; growingMin?: number } {
  const position = new Map(partitions.map((part, index) => [part.number, index + 1]));
  const growing = partitions.at(-1)!;
  let growingMin: number | undefined;
  const lines: string[] = [];
  for (const group of disk.volumeGroups) {
    const extent = group.extentSize ?? DEFAULT_EXTENT_SIZE;
    const extents = (bytes: number) => Math.ceil(bytes / extent);
    lines.push(
      `vg ${group.name} ${extent} ${
        group.physicalVolumes.map((number) => position.get(number)).join(" ")
      }`,
    );
    const fixed = group.logicalVolumes.filter((volume) => !volume.grow);
    const grower = group.logicalVolumes.find((volume) => volume.grow);
    for (const volume of fixed) {
      lines.push(`lv ${group.name} ${volume.name} ${extents(volume.size)}`);
    }
    if (grower) lines.push(`lv ${group.name} ${grower.name} grow`);
    // The extents the group needs, and what each physical volume gives: its size less the
    // metadata area LVM puts before the first extent (1 MiB by default), in whole extents.
    const needed = [...fixed.map((volume) => volume.size), grower?.minSize ?? grower?.size ?? 0]
      .reduce((sum, bytes) => sum + extents(bytes), 0);
    const offered = (bytes: number) => Math.max(0, Math.floor((bytes - MIB) / extent));
    const fixedPvs = group.physicalVolumes
      .map((number) => disk.partitions.find((part) => part.number === number)!)
      .filter((part) => part !== growing);
    const fromFixed = fixedPvs.reduce((sum, part) => sum + offered(part.size), 0);
    if (group.physicalVolumes.includes(growing.number)) {
      // At least one extent, so the growing LV is never made empty.
      growingMin = MIB + Math.max(1, needed - fromFixed) * extent;
    } else if (needed > fromFixed) {
      throw refuse(
        `the logical volumes of ${group.name} need ${needed} extents of ${extent} bytes; its ` +
          `physical volumes hold ${fromFixed}`,
      );
    }
  }
  return { text: lines.map((line) => line + "\n").join(""), growingMin };
}
