// The disk layout of a running system (the golden client, read through a runner that may be ssh):
// which disk holds /, every local file system mounted from it, and the smallest disk a clone needs.

import { InvalidInputError } from "../errors.ts";
import type { ProcessRunner } from "../process.ts";
import { type DiskLayout, fileSystems } from "../../formats/sysclone/disk_layout.ts";
import { readDiskLayout } from "./read_disk_layout.ts";

/** A running system's layout and the mount points whose files make the image. */
export interface SystemLayout {
  layout: DiskLayout;
  /** The whole disk read (`/dev/vda`). */
  device: string;
  /** Mount points of the layout's mounted file systems, parents first ("/" before "/boot"). */
  mountpoints: string[];
  /** File systems the node's fstab mounts but which were not mounted: "<mountpoint> (<type>)". */
  unmounted: string[];
}

/** One line of `findmnt -rn -o TARGET,SOURCE,FSTYPE`. */
interface Mount {
  target: string;
  source: string;
  fstype: string;
}

/** Room a growing file system needs beyond its data: metadata, journal, reserved blocks. */
const GROWTH_FACTOR = 1.15;
const GROWTH_SLACK = 128 * 1024 ** 2;
const MIB = 1024 ** 2;

/** findmnt's raw output escapes blanks and odd bytes as \xNN. */
function unescapeRaw(text: string): string {
  return text.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Reads the layout of the disk the system's `/` is on: the mounts (`findmnt`), the disk of
 * each block device (`lsblk`), the system's /etc/fstab, then {@linkcode readDiskLayout} with
 * fstab's entries first (their options) and the live mounts after (a partition mounted without
 * an fstab entry still gets its mount point). The growing last partition's `minSize` is what
 * its file system holds (`df`) with room for metadata, so a node's disk may be smaller than the
 * golden client's. A local file system on another disk is refused (a clone has one disk); one
 * the fstab names but that is not mounted is recorded and listed in `unmounted`, for the caller
 * to say that the image has none of its files.
 *
 * @example
 * ```ts
 * const { layout, mountpoints } = await readSystemLayout(nodeRunner(ctx.runner, target));
 * ```
 */
export async function readSystemLayout(runner: ProcessRunner): Promise<SystemLayout> {
  const stdout = async (argv: string[]) =>
    new TextDecoder().decode((await runner.run(argv)).stdout);
  const mounts: Mount[] = (await stdout(["findmnt", "-rn", "-o", "TARGET,SOURCE,FSTYPE"]))
    .split("\n").filter((line) => line.trim() !== "").map((line) => {
      const [target, source, fstype] = line.split(" ").map(unescapeRaw);
      return { target: target!, source: source ?? "", fstype: fstype ?? "" };
    });
  // Block devices only; a bind mount of a directory (SOURCE "dev[/dir]") is a view of another.
  const local = mounts.filter((mount) =>
    mount.source.startsWith("/dev/") && !/\[/.test(mount.source)
  );
  const root = local.find((mount) => mount.target === "/");
  if (!root) {
    const shown = mounts.find((mount) => mount.target === "/");
    throw new InvalidInputError(
      `The node's / is ${shown ? `${shown.source} (${shown.fstype})` : "not listed by findmnt"}, ` +
        "not a disk partition: imgcapture -t sysclone captures a node installed on a disk.",
    );
  }
  // --list: one row per device and parent (an LV on two PVs is two rows), never a tree.
  const diskOf = blockDeviceDisks(
    await stdout(["lsblk", "-J", "--list", "-o", "PATH,KNAME,PKNAME,TYPE"]),
  );
  const diskName = diskOf(root.source);
  if (!diskName) {
    throw new InvalidInputError(
      `The node's / is on ${root.source}, which is not a partition of a disk or an LVM logical ` +
        "volume on one (RAID and whole-disk file systems are not captured yet): imgcapture " +
        "-t sysclone records a partitioned disk.",
    );
  }
  const device = `/dev/${diskName}`;
  const seen = new Set<string>();
  const onDisk: Mount[] = [];
  for (const mount of local) {
    if (seen.has(mount.source)) continue; // the same file system mounted twice: its first place
    seen.add(mount.source);
    if (diskOf(mount.source) !== diskName) {
      throw new InvalidInputError(
        `The node mounts ${mount.source} at ${mount.target}, which is not on ${device} (the ` +
          `disk of /): osimg clones one disk; unmount it or capture a node installed on one disk.`,
      );
    }
    onDisk.push(mount);
  }

  const fstab = await runner.run(["cat", "/etc/fstab"], { allowFailure: true });
  const liveLines = onDisk.map((mount) =>
    `${mount.source} ${mount.target} ${mount.fstype} defaults 0 ${mount.target === "/" ? 1 : 2}`
  );
  const layout = await readDiskLayout(
    runner,
    device,
    (fstab.code === 0 ? new TextDecoder().decode(fstab.stdout) : "") + "\n" +
      liveLines.join("\n") + "\n",
  );

  const mounted = new Set(onDisk.map((mount) => mount.target));
  const mountpoints: string[] = [];
  const unmounted: string[] = [];
  for (const fs of fileSystems(layout)) {
    if (fs.mountpoint === undefined) continue;
    // Recorded (a clone gets the file system) but its files are not the node's to copy now.
    if (!mounted.has(fs.mountpoint)) unmounted.push(`${fs.mountpoint} (${fs.type})`);
    else mountpoints.push(fs.mountpoint);
  }
  const depth = (path: string) => path === "/" ? 0 : path.split("/").length - 1;
  mountpoints.sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : 1));

  // What grows: the last partition, or the growing LV of the group on it (the partition's
  // minimum then follows from its group's LVs).
  const disk = layout.disks[0]!;
  const last = disk.partitions.at(-1)!;
  const group = disk.volumeGroups.find((each) => each.physicalVolumes.includes(last.number));
  const growing = group ? group.logicalVolumes.find((volume) => volume.grow) : last;
  const growingMount = growing?.filesystem?.mountpoint;
  if (last.grow && growing && growingMount !== undefined && mounted.has(growingMount)) {
    const df = await stdout(["df", "-B1", "-P", growingMount]);
    const used = Number(df.trim().split("\n").at(-1)?.split(/\s+/)[2]);
    if (Number.isSafeInteger(used) && used >= 0) {
      const needed = Math.ceil((used * GROWTH_FACTOR + GROWTH_SLACK) / MIB) * MIB;
      growing.minSize = Math.min(growing.size, needed);
    }
  }
  return { layout, device, mountpoints, unmounted };
}

/**
 * The disk (kernel name) each block device is on, from `lsblk -J --list -o
 * PATH,KNAME,PKNAME,TYPE`: a partition's parent, an LVM logical volume's partitions' disk (one
 * disk for all of them, else none). Undefined for anything else (a whole disk, RAID, a loop
 * device without partitions).
 */
export function blockDeviceDisks(lsblkJson: string): (path: string) => string | undefined {
  const rows = (JSON.parse(lsblkJson) as {
    blockdevices: { path: string; kname: string; pkname: string | null; type: string }[];
  }).blockdevices;
  const byKname = new Map(rows.map((row) => [row.kname, row]));
  const partitionDisk = (kname: string | null) => {
    const row = kname === null ? undefined : byKname.get(kname);
    return row?.type === "part" ? row.pkname ?? undefined : undefined;
  };
  return (path) => {
    const own = rows.filter((row) => row.path === path);
    if (own.length === 0) return undefined;
    if (own[0]!.type === "part") return own[0]!.pkname ?? undefined;
    if (own[0]!.type !== "lvm") return undefined;
    const disks = new Set(own.map((row) => partitionDisk(row.pkname)));
    return disks.size === 1 ? [...disks][0] : undefined;
  };
}
