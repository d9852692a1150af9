// The sysclone disk layout (osimg-disklayout v1): a golden client's partitions, file systems and
// LVM, recorded beside its image and read back, strictly, before a node's disk is partitioned.
//
// LVM in v1: `disks[].volumeGroups[]` name a group, the partitions that are its physical volumes
// (each flagged "lvm", without a file system of its own), its extent size (`extentSize`, bytes;
// optional, LVM's default 4 MiB when absent — files written before it was recorded still read)
// and its logical volumes in creation order. Growing: on the disk, only the last partition grows
// (it takes the rest of the node's disk); in a volume group at most one LV grows, and it takes the
// group's free space after the fixed LVs are made. A capture marks the LV holding / when it is in
// the group, else the group's last LV (the one whose extents come last), and gives it a `minSize`
// like a growing partition's.

import { InvalidInputError } from "../../core/errors.ts";

/** The `format` value every layout file carries. */
export const DISK_LAYOUT_FORMAT = "osimg-disklayout";
/** The version this osimg writes and the newest it reads. */
export const DISK_LAYOUT_VERSION = 1;

/** The partition tables osimg deploys (sfdisk's `label:` values). */
export type PartitionTableType = "gpt" | "msdos";

/** File systems osimg can record and recreate (mkfs.<type>, mkswap for swap). */
export const FILE_SYSTEM_TYPES = ["ext2", "ext3", "ext4", "xfs", "vfat", "swap"] as const;
export type FileSystemType = (typeof FILE_SYSTEM_TYPES)[number];

/**
 * Partition roles that change how a node is set up: `bios_grub` (GPT's BIOS boot partition,
 * where grub-pc puts its core image), `esp` (the EFI system partition, mounted at its mount
 * point, normally /boot/efi), `boot` (MBR's active flag), `lvm` (a physical volume).
 */
export const PARTITION_FLAGS = ["bios_grub", "esp", "boot", "lvm"] as const;
export type PartitionFlag = (typeof PARTITION_FLAGS)[number];

/** A file system as the golden client had it and the node gets it (with a new UUID). */
export interface FileSystem {
  type: FileSystemType;
  /** Its label, when it has one ([A-Za-z0-9_.-], as fstab and a shell take it unquoted). */
  label?: string;
  /** The golden client's UUID: recorded for reference; a clone gets a new one. */
  uuid?: string;
  /** Where fstab mounts it (absolute); absent for swap and for an unmounted file system. */
  mountpoint?: string;
  /** fstab's fourth field (default "defaults"). */
  options?: string;
  /** fstab's fifth and sixth fields. */
  dump?: number;
  pass?: number;
}

/** One partition, in table order. */
export interface Partition {
  /** Its number in the table (1-based). */
  number: number;
  /** Its size in bytes on the golden client. */
  size: number;
  /** It takes the rest of the disk on a node (only the last partition may). */
  grow?: boolean;
  /** Bytes a growing partition needs at least (default: its recorded size). */
  minSize?: number;
  /** GPT: the type GUID (upper case); msdos: the type byte in hex ("83", "ef", "82"). */
  type: string;
  /** GPT partition name (PARTLABEL). */
  name?: string;
  flags: PartitionFlag[];
  filesystem?: FileSystem;
}

/** An LVM logical volume. */
export interface LogicalVolume {
  name: string;
  /** Its size in bytes on the golden client (a whole number of extents). */
  size: number;
  /** It takes the group's free space on a node (at most one LV of a group may). */
  grow?: boolean;
  /** Bytes a growing LV needs at least (default: its recorded size). */
  minSize?: number;
  filesystem?: FileSystem;
}

/** LVM's default extent size, for a group recorded without one. */
export const DEFAULT_EXTENT_SIZE = 4 * 1024 * 1024;

/** An LVM volume group and the partitions it is made of. */
export interface VolumeGroup {
  name: string;
  /** Its extent size in bytes (a power of two of at least 1 KiB); absent: LVM's default 4 MiB. */
  extentSize?: number;
  /** Partition numbers of its physical volumes on the disk. */
  physicalVolumes: number[];
  logicalVolumes: LogicalVolume[];
}

/** One disk of the golden client. */
export interface Disk {
  /** Its kernel name on the golden client ("vda", "sda", "nvme0n1"); informational. */
  name: string;
  /** Its size in bytes on the golden client. */
  size: number;
  table: PartitionTableType;
  partitions: Partition[];
  volumeGroups: VolumeGroup[];
}

/** A whole layout file. */
export interface DiskLayout {
  format: typeof DISK_LAYOUT_FORMAT;
  version: typeof DISK_LAYOUT_VERSION;
  disks: Disk[];
}

/** GPT type GUIDs with a meaning to the deploy (upper case, as sfdisk prints them). */
export const GPT_TYPES = {
  biosBoot: "21686148-6449-6E6F-744E-656564454649",
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  linux: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  swap: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
  lvm: "E6D6D379-F507-44C2-A23C-238F2A3DF928",
} as const;

const GUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
const MBR_TYPE = /^[0-9a-f]{1,2}$/;
/** Labels, names and LVM names: what a shell, sfdisk and fstab take without quoting. */
const WORD = /^[A-Za-z0-9_.+-]{1,64}$/;
/** LVM's own rule for VG and LV names, within WORD: no leading "-" (lvm would read an option). */
const LVM_NAME = /^(?!-)(?!\.\.?$)[A-Za-z0-9_.+-]{1,64}$/;
const MOUNTPOINT = /^\/(?:[A-Za-z0-9_.+@-]+(?:\/[A-Za-z0-9_.+@-]+)*)?$/;
const MOUNT_OPTIONS = /^[A-Za-z0-9_=.,:+@-]{1,256}$/;
const FS_UUID =
  /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}|[0-9A-Fa-f]{8,16})$/;

/**
 * Reads a layout file, checking every field: an unknown format, a newer version, a missing or
 * malformed field, a name a shell or fstab would mis-read, a second growing partition — each is
 * one InvalidInputError naming `what` and the field.
 *
 * @example
 * ```ts
 * const layout = parseDiskLayout(await Deno.readTextFile(path), path);
 * layout.disks[0]!.partitions.at(-1)!.grow; // true
 * ```
 */
export function parseDiskLayout(text: string, what: string): DiskLayout {
  const bad = (why: string) =>
    new InvalidInputError(`The disk layout ${what} is not usable: ${why}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw bad(`it is not JSON (${(error as Error).message})`);
  }
  const top = object(data, "the file", bad);
  if (top.format !== DISK_LAYOUT_FORMAT) {
    throw bad(`"format" is ${JSON.stringify(top.format)}, not "${DISK_LAYOUT_FORMAT}"`);
  }
  if (typeof top.version !== "number" || !Number.isInteger(top.version) || top.version < 1) {
    throw bad(`"version" must be a positive integer`);
  }
  if (top.version > DISK_LAYOUT_VERSION) {
    throw bad(
      `it is version ${top.version}, newer than this osimg reads (${DISK_LAYOUT_VERSION}); ` +
        `use the osimg that captured it or a newer one`,
    );
  }
  if (!Array.isArray(top.disks) || top.disks.length === 0) {
    throw bad(`"disks" must be a non-empty list`);
  }
  const layout: DiskLayout = {
    format: DISK_LAYOUT_FORMAT,
    version: DISK_LAYOUT_VERSION,
    disks: top.disks.map((disk, index) => parseDisk(disk, `disks[${index}]`, bad)),
  };
  const mountpoints = new Set<string>();
  for (const fs of fileSystems(layout)) {
    if (fs.mountpoint === undefined) continue;
    if (mountpoints.has(fs.mountpoint)) {
      throw bad(`two file systems are mounted at ${fs.mountpoint}`);
    }
    mountpoints.add(fs.mountpoint);
  }
  return layout;
}

/** The layout as osimg writes it: stable key order, two-space indent, a final newline. */
export function serializeDiskLayout(layout: DiskLayout): string {
  const fs = (each: FileSystem | undefined) =>
    each === undefined ? undefined : {
      type: each.type,
      label: each.label,
      uuid: each.uuid,
      mountpoint: each.mountpoint,
      options: each.options,
      dump: each.dump,
      pass: each.pass,
    };
  const ordered = {
    format: layout.format,
    version: layout.version,
    disks: layout.disks.map((disk) => ({
      name: disk.name,
      size: disk.size,
      table: disk.table,
      partitions: disk.partitions.map((part) => ({
        number: part.number,
        size: part.size,
        grow: part.grow,
        minSize: part.minSize,
        type: part.type,
        name: part.name,
        flags: part.flags,
        filesystem: fs(part.filesystem),
      })),
      volumeGroups: disk.volumeGroups.map((group) => ({
        name: group.name,
        extentSize: group.extentSize,
        physicalVolumes: group.physicalVolumes,
        logicalVolumes: group.logicalVolumes.map((volume) => ({
          name: volume.name,
          size: volume.size,
          grow: volume.grow,
          minSize: volume.minSize,
          filesystem: fs(volume.filesystem),
        })),
      })),
    })),
  };
  return JSON.stringify(ordered, null, 2) + "\n";
}

/** Every file system of the layout: partitions' then logical volumes', in order. */
export function fileSystems(layout: DiskLayout): FileSystem[] {
  const found: FileSystem[] = [];
  for (const disk of layout.disks) {
    for (const part of disk.partitions) if (part.filesystem) found.push(part.filesystem);
    for (const group of disk.volumeGroups) {
      for (const volume of group.logicalVolumes) {
        if (volume.filesystem) found.push(volume.filesystem);
      }
    }
  }
  return found;
}

type Bad = (why: string) => InvalidInputError;
type Fields = Record<string, unknown>;

function object(value: unknown, where: string, bad: Bad): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad(`${where} must be an object`);
  }
  return value as Fields;
}

function bytes(value: unknown, where: string, bad: Bad): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw bad(`${where} must be a positive whole number of bytes`);
  }
  return value;
}

function optionalWord(value: unknown, where: string, bad: Bad): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !WORD.test(value)) {
    throw bad(`${where} ${JSON.stringify(value)} must be 1-64 of A-Z a-z 0-9 _ . + -`);
  }
  return value;
}

function lvmName(value: unknown, where: string, bad: Bad): string {
  const name = optionalWord(value, where, bad);
  if (name === undefined) throw bad(`${where} is missing`);
  if (!LVM_NAME.test(name)) throw bad(`${where} ${JSON.stringify(name)} is not an LVM name`);
  return name;
}

function parseDisk(value: unknown, where: string, bad: Bad): Disk {
  const disk = object(value, where, bad);
  const name = optionalWord(disk.name, `${where}.name`, bad);
  if (name === undefined) throw bad(`${where}.name is missing`);
  if (disk.table !== "gpt" && disk.table !== "msdos") {
    throw bad(`${where}.table must be "gpt" or "msdos", not ${JSON.stringify(disk.table)}`);
  }
  const table = disk.table;
  if (!Array.isArray(disk.partitions) || disk.partitions.length === 0) {
    throw bad(`${where}.partitions must be a non-empty list`);
  }
  const partitions = disk.partitions.map((part, index) =>
    parsePartition(part, `${where}.partitions[${index}]`, table, bad)
  );
  const numbers = new Set<number>();
  partitions.forEach((part, index) => {
    if (numbers.has(part.number)) throw bad(`${where} has two partitions numbered ${part.number}`);
    numbers.add(part.number);
    if (part.grow && index !== partitions.length - 1) {
      throw bad(`${where}.partitions[${index}] grows but is not the last partition`);
    }
    if (table === "msdos" && part.number > 4) {
      throw bad(
        `${where}.partitions[${index}] is a logical partition (${part.number}); osimg records ` +
          `and deploys primary partitions only`,
      );
    }
  });
  const groups = disk.volumeGroups === undefined ? [] : disk.volumeGroups;
  if (!Array.isArray(groups)) throw bad(`${where}.volumeGroups must be a list`);
  const volumeGroups = groups.map((group, index) =>
    parseVolumeGroup(group, `${where}.volumeGroups[${index}]`, partitions, bad)
  );
  const groupNames = new Set<string>();
  const used = new Set<number>();
  volumeGroups.forEach((group, index) => {
    if (groupNames.has(group.name)) throw bad(`${where} has two volume groups named ${group.name}`);
    groupNames.add(group.name);
    for (const number of group.physicalVolumes) {
      if (used.has(number)) {
        throw bad(
          `${where}.volumeGroups[${index}] uses partition ${number}, a physical volume of another group`,
        );
      }
      used.add(number);
    }
  });
  return { name, size: bytes(disk.size, `${where}.size`, bad), table, partitions, volumeGroups };
}

function parsePartition(
  value: unknown,
  where: string,
  table: PartitionTableType,
  bad: Bad,
): Partition {
  const part = object(value, where, bad);
  const number = part.number;
  if (typeof number !== "number" || !Number.isInteger(number) || number < 1 || number > 128) {
    throw bad(`${where}.number must be a whole number from 1 to 128`);
  }
  if (typeof part.type !== "string") throw bad(`${where}.type is missing`);
  const type = table === "gpt" ? part.type.toUpperCase() : part.type.toLowerCase();
  if (!(table === "gpt" ? GUID : MBR_TYPE).test(type)) {
    throw bad(
      `${where}.type ${JSON.stringify(part.type)} is not a ${
        table === "gpt" ? "GPT type GUID" : "MBR type byte in hex"
      }`,
    );
  }
  if (part.grow !== undefined && typeof part.grow !== "boolean") {
    throw bad(`${where}.grow must be true or false`);
  }
  if (!Array.isArray(part.flags)) throw bad(`${where}.flags must be a list`);
  const flags = part.flags.map((flag) => {
    if (!(PARTITION_FLAGS as readonly unknown[]).includes(flag)) {
      throw bad(`${where}.flags has ${JSON.stringify(flag)}; known: ${PARTITION_FLAGS.join(", ")}`);
    }
    return flag as PartitionFlag;
  });
  const name = optionalWord(part.name, `${where}.name`, bad);
  if (name !== undefined && table !== "gpt") throw bad(`${where}.name needs a GPT table`);
  const parsed: Partition = {
    number,
    size: bytes(part.size, `${where}.size`, bad),
    type,
    flags,
    ...(part.grow ? { grow: true } : {}),
    ...(part.minSize !== undefined
      ? { minSize: bytes(part.minSize, `${where}.minSize`, bad) }
      : {}),
    ...(name !== undefined ? { name } : {}),
  };
  if (part.filesystem !== undefined) {
    parsed.filesystem = parseFileSystem(part.filesystem, `${where}.filesystem`, bad);
  }
  if (flags.includes("esp") && parsed.filesystem?.type !== "vfat") {
    throw bad(`${where} is an EFI system partition without a vfat file system`);
  }
  return parsed;
}

function parseFileSystem(value: unknown, where: string, bad: Bad): FileSystem {
  const fs = object(value, where, bad);
  if (!(FILE_SYSTEM_TYPES as readonly unknown[]).includes(fs.type)) {
    throw bad(
      `${where}.type ${JSON.stringify(fs.type)} is not one osimg recreates (${
        FILE_SYSTEM_TYPES.join(", ")
      })`,
    );
  }
  const type = fs.type as FileSystemType;
  const label = optionalWord(fs.label, `${where}.label`, bad);
  if (label !== undefined && type === "vfat" && label.length > 11) {
    throw bad(`${where}.label ${label} is longer than vfat's 11 characters`);
  }
  if (label !== undefined && /^ext/.test(type) && label.length > 16) {
    throw bad(`${where}.label ${label} is longer than ext's 16 characters`);
  }
  const parsed: FileSystem = { type, ...(label !== undefined ? { label } : {}) };
  if (fs.uuid !== undefined) {
    if (typeof fs.uuid !== "string" || !FS_UUID.test(fs.uuid)) {
      throw bad(`${where}.uuid ${JSON.stringify(fs.uuid)} is not a file system UUID`);
    }
    parsed.uuid = fs.uuid;
  }
  if (fs.mountpoint !== undefined) {
    if (
      typeof fs.mountpoint !== "string" || !MOUNTPOINT.test(fs.mountpoint) ||
      fs.mountpoint.split("/").some((part) => part === "." || part === "..")
    ) {
      throw bad(
        `${where}.mountpoint ${JSON.stringify(fs.mountpoint)} is not a plain absolute path`,
      );
    }
    if (type === "swap") throw bad(`${where} is swap and cannot have a mount point`);
    parsed.mountpoint = fs.mountpoint;
  }
  if (fs.options !== undefined) {
    if (typeof fs.options !== "string" || !MOUNT_OPTIONS.test(fs.options)) {
      throw bad(`${where}.options ${JSON.stringify(fs.options)} are not fstab mount options`);
    }
    parsed.options = fs.options;
  }
  for (const key of ["dump", "pass"] as const) {
    const field = fs[key];
    if (field === undefined) continue;
    if (typeof field !== "number" || !Number.isInteger(field) || field < 0 || field > 9) {
      throw bad(`${where}.${key} must be a whole number from 0 to 9`);
    }
    parsed[key] = field;
  }
  return parsed;
}

function parseVolumeGroup(
  value: unknown,
  where: string,
  partitions: readonly Partition[],
  bad: Bad,
): VolumeGroup {
  const group = object(value, where, bad);
  const name = lvmName(group.name, `${where}.name`, bad);
  if (!Array.isArray(group.physicalVolumes) || group.physicalVolumes.length === 0) {
    throw bad(`${where}.physicalVolumes must be a non-empty list of partition numbers`);
  }
  const physicalVolumes = group.physicalVolumes.map((number) => {
    const partition = partitions.find((part) => part.number === number);
    if (typeof number !== "number" || !partition) {
      throw bad(
        `${where}.physicalVolumes names ${JSON.stringify(number)}, not a partition of its disk`,
      );
    }
    if (!partition.flags.includes("lvm") || partition.filesystem) {
      throw bad(
        `${where}.physicalVolumes names partition ${number}, which is not flagged "lvm" or holds a file system`,
      );
    }
    return number;
  });
  let extentSize: number | undefined;
  if (group.extentSize !== undefined) {
    extentSize = bytes(group.extentSize, `${where}.extentSize`, bad);
    if (extentSize < 1024 || (extentSize & (extentSize - 1)) !== 0) {
      throw bad(`${where}.extentSize must be a power of two of at least 1024 bytes`);
    }
  }
  if (!Array.isArray(group.logicalVolumes)) throw bad(`${where}.logicalVolumes must be a list`);
  const logicalVolumes = group.logicalVolumes.map((each, index) => {
    const at = `${where}.logicalVolumes[${index}]`;
    const volume = object(each, at, bad);
    const volumeName = lvmName(volume.name, `${at}.name`, bad);
    const parsed: LogicalVolume = { name: volumeName, size: bytes(volume.size, `${at}.size`, bad) };
    if (volume.grow !== undefined && typeof volume.grow !== "boolean") {
      throw bad(`${at}.grow must be true or false`);
    }
    if (volume.grow === true) parsed.grow = true;
    if (volume.minSize !== undefined) parsed.minSize = bytes(volume.minSize, `${at}.minSize`, bad);
    if (volume.filesystem !== undefined) {
      parsed.filesystem = parseFileSystem(volume.filesystem, `${at}.filesystem`, bad);
    }
    return parsed;
  });
  const names = new Set<string>();
  for (const volume of logicalVolumes) {
    if (names.has(volume.name)) throw bad(`${where} has two logical volumes named ${volume.name}`);
    names.add(volume.name);
  }
  if (logicalVolumes.filter((volume) => volume.grow).length > 1) {
    throw bad(
      `${where} has more than one growing logical volume (at most one takes the free space)`,
    );
  }
  return {
    name,
    ...(extentSize !== undefined ? { extentSize } : {}),
    physicalVolumes,
    logicalVolumes,
  };
}
