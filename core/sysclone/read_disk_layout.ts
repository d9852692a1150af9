// Reads a real disk's layout (sfdisk -J, blkid, lsblk) and the fstab that mounts it into an
// osimg-disklayout: what `imgcapture -t sysclone` records from a golden client.

import { InvalidInputError } from "../errors.ts";
import type { ProcessRunner } from "../process.ts";
import {
  DISK_LAYOUT_FORMAT,
  DISK_LAYOUT_VERSION,
  type DiskLayout,
  FILE_SYSTEM_TYPES,
  type FileSystem,
  type FileSystemType,
  GPT_TYPES,
  type LogicalVolume,
  parseDiskLayout,
  type Partition,
  type PartitionFlag,
  serializeDiskLayout,
  type VolumeGroup,
} from "../../formats/sysclone/disk_layout.ts";
import { type FstabEntry, parseFstab } from "../../formats/linux/fstab.ts";
import {
  lvmReportArgv,
  parseLvsReport,
  parsePvsReport,
  parseVgsReport,
} from "../../formats/sysclone/lvm_report.ts";

/** sfdisk -J's partition table (util-linux 2.33 and later). */
interface SfdiskTable {
  label: string;
  device: string;
  sectorsize?: number;
  partitions?: {
    node: string;
    start: number;
    size: number;
    type: string;
    uuid?: string;
    name?: string;
    bootable?: boolean;
  }[];
}

/** MBR type bytes with a meaning to the deploy. */
const MBR_ESP = "ef";
const MBR_LVM = "8e";

/**
 * The layout of `device` (a whole disk: `/dev/vda`, a loop device) as recorded for sysclone:
 * its partition table through `sfdisk -J`, each partition's file system through `blkid`, the
 * mount points, options and fsck order from `fstab` (the golden client's /etc/fstab, matched by
 * UUID=, LABEL=, PARTUUID=, PARTLABEL= or device path). The last partition is marked to grow.
 * A partition holding an LVM physical volume brings its volume group in through LVM's reports
 * (`pvs`, `vgs`, `lvs`): extent size, logical volumes and each one's file system (an inactive LV
 * has none to probe and is recorded without); the LV mounted at / grows, else the group's last.
 * Every program runs through `runner`, so a capture runs the same code over ssh. The result is
 * checked as a layout file is on reading.
 *
 * @example
 * ```ts
 * const layout = await readDiskLayout(ctx.runner, "/dev/vda", await Deno.readTextFile("/etc/fstab"));
 * await Deno.writeTextFile(path, serializeDiskLayout(layout));
 * ```
 */
export async function readDiskLayout(
  runner: ProcessRunner,
  device: string,
  fstab: string,
): Promise<DiskLayout> {
  const text = async (argv: string[], allowFailure = false) => {
    const result = await runner.run(argv, { allowFailure });
    return { code: result.code, stdout: new TextDecoder().decode(result.stdout) };
  };
  const sfdisk = await text(["sfdisk", "-J", device], true);
  if (sfdisk.code !== 0) {
    throw new InvalidInputError(
      `Cannot read the disk layout of ${device}: it has no partition table sfdisk can read ` +
        `(osimg clones partitioned disks)`,
    );
  }
  let table: SfdiskTable;
  try {
    table = (JSON.parse(sfdisk.stdout) as { partitiontable: SfdiskTable }).partitiontable;
  } catch {
    throw new InvalidInputError(
      `Cannot read the disk layout of ${device}: sfdisk -J printed no JSON`,
    );
  }
  if (table.label !== "gpt" && table.label !== "dos") {
    throw new InvalidInputError(
      `Cannot read the disk layout of ${device}: its partition table is ${table.label}; osimg records gpt and msdos`,
    );
  }
  const gpt = table.label === "gpt";
  const sectorSize = table.sectorsize ?? 512;
  const size = Number(
    (await text(["lsblk", "-b", "-d", "-n", "-o", "SIZE", device])).stdout.trim(),
  );
  const mounts = parseFstab(fstab);
  const rows = table.partitions ?? [];
  if (rows.length === 0) {
    throw new InvalidInputError(`Cannot read the disk layout of ${device}: it has no partitions`);
  }

  const partitions: Partition[] = [];
  /** Physical volumes found: device → partition number. */
  const physicalVolumes = new Map<string, number>();
  for (const [index, row] of rows.entries()) {
    const number = Number(/(\d+)$/.exec(row.node)?.[1]);
    const type = gpt ? row.type.toUpperCase() : row.type.toLowerCase();
    const flags: PartitionFlag[] = [];
    if (gpt && type === GPT_TYPES.biosBoot) flags.push("bios_grub");
    if (gpt ? type === GPT_TYPES.esp : type === MBR_ESP) flags.push("esp");
    if (!gpt && row.bootable) flags.push("boot");
    if (gpt ? type === GPT_TYPES.lvm : type === MBR_LVM) flags.push("lvm");
    const probe = await probeFileSystem(runner, row.node);
    if (probe.TYPE === "LVM2_member") {
      if (!flags.includes("lvm")) flags.push("lvm");
      physicalVolumes.set(row.node, number);
      delete probe.TYPE; // the PV is recorded as the group's, not as a file system
    }
    const partition: Partition = {
      number,
      size: row.size * sectorSize,
      type,
      flags,
      ...(index === rows.length - 1 ? { grow: true } : {}),
      ...(gpt && row.name ? { name: row.name } : {}),
    };
    const filesystem = fileSystemOf(probe, row, mounts);
    if (filesystem) partition.filesystem = filesystem;
    partitions.push(partition);
  }
  const layout: DiskLayout = {
    format: DISK_LAYOUT_FORMAT,
    version: DISK_LAYOUT_VERSION,
    disks: [{
      name: device.replace(/^.*\//, ""),
      size,
      table: gpt ? "gpt" : "msdos",
      partitions,
      volumeGroups: physicalVolumes.size === 0
        ? []
        : await readVolumeGroups(runner, device, physicalVolumes, mounts),
    }],
  };
  // The same checks as a file read back: a label or mount point a shell or fstab would
  // mis-read is refused here, at capture, not on a node.
  return parseDiskLayout(serializeDiskLayout(layout), `of ${device}`);
}

/**
 * The volume groups with a physical volume among `physicalVolumes`, from LVM's reports. A group
 * that also spans another disk, or an LV that is not linear (thin, RAID, a snapshot, a cache),
 * is refused: a clone recreates linear LVs on one disk.
 */
async function readVolumeGroups(
  runner: ProcessRunner,
  device: string,
  physicalVolumes: ReadonlyMap<string, number>,
  mounts: readonly FstabEntry[],
): Promise<VolumeGroup[]> {
  const refuse = (why: string) =>
    new InvalidInputError(`Cannot read the disk layout of ${device}: ${why}`);
  const report = async (kind: "pvs" | "vgs" | "lvs") => {
    const result = await runner.run(lvmReportArgv(kind), { allowFailure: true });
    if (result.code !== 0) {
      throw refuse(
        `it holds LVM physical volumes but '${kind}' failed (is lvm2 installed?): ` +
          result.stderr.trim().split("\n").at(-1),
      );
    }
    return new TextDecoder().decode(result.stdout);
  };
  const pvs = parsePvsReport(await report("pvs"), device);
  const vgs = parseVgsReport(await report("vgs"), device);
  const lvs = parseLvsReport(await report("lvs"), device);
  const groups: VolumeGroup[] = [];
  for (const vg of vgs) {
    const members = pvs.filter((pv) => pv.group === vg.name);
    if (!members.some((pv) => physicalVolumes.has(pv.device))) continue;
    const elsewhere = members.find((pv) => !physicalVolumes.has(pv.device));
    if (elsewhere) {
      throw refuse(
        `its volume group ${vg.name} also uses ${elsewhere.device}, which is not on it; osimg clones one disk`,
      );
    }
    const volumes = lvs.filter((lv) => lv.group === vg.name);
    const logicalVolumes: LogicalVolume[] = [];
    for (const lv of volumes) {
      if (lv.segmentTypes.some((type) => type !== "linear")) {
        throw refuse(
          `the logical volume ${vg.name}/${lv.name} is ${
            lv.segmentTypes.join("+")
          }; osimg recreates linear logical volumes only`,
        );
      }
      const volume: LogicalVolume = { name: lv.name, size: lv.size };
      const filesystem = fileSystemOf(
        await probeFileSystem(runner, lv.mapperPath),
        { node: lv.mapperPath, aliases: [`/dev/${vg.name}/${lv.name}`] },
        mounts,
      );
      if (filesystem) volume.filesystem = filesystem;
      logicalVolumes.push(volume);
    }
    // The growing LV: the one holding /, else the one whose extents come last on the disk.
    const start = (lv: (typeof volumes)[number]) => Math.max(-1, ...lv.extents.map((e) => e.start));
    const root = logicalVolumes.find((volume) => volume.filesystem?.mountpoint === "/");
    const last = volumes.length === 0
      ? undefined
      : volumes.reduce((best, lv) => start(lv) > start(best) ? lv : best);
    const growing = root ?? logicalVolumes.find((volume) => volume.name === last?.name);
    if (growing) growing.grow = true;
    groups.push({
      name: vg.name,
      extentSize: vg.extentSize,
      physicalVolumes: members.map((pv) => physicalVolumes.get(pv.device)!).sort((a, b) => a - b),
      logicalVolumes,
    });
  }
  return groups;
}

/** blkid's low-level probe of one partition (`TYPE`, `LABEL`, `UUID`); empty when it finds none. */
async function probeFileSystem(
  runner: ProcessRunner,
  node: string,
): Promise<Record<string, string>> {
  // -p probes the device itself, not blkid's cache, which may predate the last mkfs.
  const result = await runner.run(["blkid", "-p", "-o", "export", node], { allowFailure: true });
  const fields: Record<string, string> = {};
  if (result.code !== 0) return fields; // 2: nothing recognised (an empty or BIOS boot partition)
  for (const line of new TextDecoder().decode(result.stdout).split("\n")) {
    const equals = line.indexOf("=");
    // `-o export` escapes blanks and shell characters with a backslash ("my\ root").
    if (equals > 0) fields[line.slice(0, equals)] = line.slice(equals + 1).replace(/\\(.)/g, "$1");
  }
  return fields;
}

/** The partition's file system with its fstab entry, or undefined when it has none osimg makes. */
function fileSystemOf(
  probe: Record<string, string>,
  row: { node: string; uuid?: string; name?: string; aliases?: string[] },
  mounts: readonly FstabEntry[],
): FileSystem | undefined {
  const type = probe.TYPE;
  if (type === undefined) return undefined;
  if (!(FILE_SYSTEM_TYPES as readonly string[]).includes(type)) {
    throw new InvalidInputError(
      `Cannot read the disk layout: ${row.node} holds a ${type} file system, which osimg does not ` +
        `recreate (${FILE_SYSTEM_TYPES.join(", ")})`,
    );
  }
  const names = new Set([row.node, ...row.aliases ?? []]);
  if (probe.UUID) names.add(`UUID=${probe.UUID}`).add(`/dev/disk/by-uuid/${probe.UUID}`);
  if (probe.LABEL) names.add(`LABEL=${probe.LABEL}`).add(`/dev/disk/by-label/${probe.LABEL}`);
  if (row.uuid) {
    names.add(`PARTUUID=${row.uuid.toLowerCase()}`).add(`PARTUUID=${row.uuid.toUpperCase()}`);
  }
  if (row.name) names.add(`PARTLABEL=${row.name}`);
  const entry = mounts.find((mount) => names.has(mount.spec));
  const fs: FileSystem = { type: type as FileSystemType };
  if (probe.LABEL) fs.label = probe.LABEL;
  if (probe.UUID) fs.uuid = probe.UUID;
  if (entry) {
    if (type !== "swap") fs.mountpoint = entry.mountpoint;
    fs.options = entry.options;
    fs.dump = entry.dump;
    fs.pass = entry.pass;
  }
  return fs;
}
