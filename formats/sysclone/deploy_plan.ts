// A disk layout turned into what the sysclone deploy init reads: an sfdisk script, the file
// systems in mount order, and a few shell variables (the smallest disk, the boot partitions).

import { InvalidInputError } from "../../core/errors.ts";
import type { DiskLayout, FileSystem, Partition } from "./disk_layout.ts";

/** The deploy environment's files under /etc/osimg/sysclone/ in the initrd. */
export interface DeployPlan {
  /** `layout.conf`: shell assignments the init sources (values are checked words and numbers). */
  conf: string;
  /** `partitions.sfdisk`: sfdisk's input; the last partition has no size, so it takes the rest. */
  sfdisk: string;
  /**
   * `filesystems`: one line per file system, `<partition> <type> <label|-> <mountpoint|-> <options> <dump> <pass>`,
   * those with a mount point first in mount order (parents before children), then swap.
   */
  filesystems: string;
  /** The smallest disk, in bytes, the layout fits on. */
  minBytes: number;
}

const MIB = 1024 * 1024;

/**
 * The deploy plan of `layout`, or an InvalidInputError saying why osimg cannot deploy it (more
 * than one disk, LVM, no root file system). Partitions are created in table order and numbered
 * 1, 2, ... on the node (fstab names file systems by their new UUIDs, so numbers do not matter);
 * fixed sizes are rounded up to MiB, the first partition starts at 1 MiB, and the last partition
 * takes the rest of the disk.
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
  if (disk.volumeGroups.length > 0) {
    throw refuse(
      `its layout uses LVM (volume group ${
        disk.volumeGroups[0]!.name
      }), which osimg records but does not deploy yet`,
    );
  }
  const partitions = [...disk.partitions].sort((a, b) => a.number - b.number);
  if (!partitions.some((part) => part.filesystem?.mountpoint === "/")) {
    throw refuse("its layout has no file system mounted at /");
  }
  if (disk.table === "msdos" && partitions.length > 4) {
    throw refuse("an msdos layout deploys at most 4 primary partitions");
  }

  const mib = (bytes: number) => Math.ceil(bytes / MIB);
  const lines = [`label: ${disk.table}`];
  let minMib = 2; // 1 MiB before the first partition (alignment), 1 MiB at the end (GPT's backup)
  partitions.forEach((part, index) => {
    const last = index === partitions.length - 1;
    const fields: string[] = [];
    if (last) minMib += mib(part.minSize ?? part.size);
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
  const mounted: { index: number; fs: FileSystem }[] = [];
  const unmounted: { index: number; fs: FileSystem }[] = [];
  for (const part of partitions) {
    if (!part.filesystem) continue;
    (part.filesystem.mountpoint !== undefined ? mounted : unmounted).push({
      index: position.get(part)!,
      fs: part.filesystem,
    });
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
    "",
  ].join("\n");
  return { conf, sfdisk: lines.join("\n") + "\n", filesystems, minBytes: minMib * MIB };
}
