// LVM's own reports (`pvs`, `vgs`, `lvs` with `--reportformat json --units b --nosuffix`) read
// into the physical volumes, volume groups and logical volumes a sysclone layout records.

import { InvalidInputError } from "../../core/errors.ts";

/** The `-o` columns osimg asks each report for; the parsers below read exactly these. */
export const LVM_REPORT_COLUMNS = {
  pvs: "pv_name,vg_name,pv_size,pe_start",
  vgs: "vg_name,vg_extent_size,vg_size,vg_free",
  lvs: "lv_name,vg_name,lv_size,lv_dm_path,seg_start_pe,devices,segtype",
} as const;

/** The argv of one report, as osimg runs it (sizes in bytes without a unit suffix). */
export function lvmReportArgv(report: keyof typeof LVM_REPORT_COLUMNS): string[] {
  return [
    report,
    "--reportformat",
    "json",
    "--units",
    "b",
    "--nosuffix",
    "-o",
    LVM_REPORT_COLUMNS[report],
  ];
}

/** One physical volume (`pvs`). */
export interface PhysicalVolumeReport {
  /** Its device (`/dev/vda3`). */
  device: string;
  /** Its volume group; empty for a PV in no group. */
  group: string;
  size: number;
  /** Where its first extent starts (the metadata area before it). */
  peStart: number;
}

/** One volume group (`vgs`). */
export interface VolumeGroupReport {
  name: string;
  extentSize: number;
  size: number;
  free: number;
}

/** One logical volume (`lvs`, its segments joined). */
export interface LogicalVolumeReport {
  name: string;
  group: string;
  size: number;
  /** `/dev/mapper/<vg>-<lv>`: what findmnt shows for a mounted LV. */
  mapperPath: string;
  /** Its segments' type ("linear", "striped", "thin"...); osimg recreates linear LVs only. */
  segmentTypes: string[];
  /** The PV device and first extent of each segment, in segment order. */
  extents: { device: string; start: number }[];
}

type Row = Record<string, unknown>;

/** The rows of one `--reportformat json` report: `{"report":[{"<kind>":[...]}]}`. */
function rows(text: string, kind: "pv" | "vg" | "lv", what: string): Row[] {
  const bad = (why: string) =>
    new InvalidInputError(`Cannot read the LVM report of ${what}: ${why}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw bad(`it is not JSON (${(error as Error).message})`);
  }
  const report = (data as { report?: unknown })?.report;
  if (!Array.isArray(report)) throw bad(`it has no "report" list`);
  const found: Row[] = [];
  for (const part of report) {
    const list = (part as Record<string, unknown>)?.[kind];
    if (!Array.isArray(list)) throw bad(`a report has no "${kind}" list`);
    for (const row of list) {
      if (typeof row !== "object" || row === null) throw bad(`a "${kind}" row is not an object`);
      found.push(row as Row);
    }
  }
  return found;
}

function field(row: Row, name: string, what: string): string {
  const value = row[name];
  if (typeof value !== "string") {
    throw new InvalidInputError(`Cannot read the LVM report of ${what}: a row has no ${name}`);
  }
  return value;
}

function byteCount(row: Row, name: string, what: string): number {
  const text = field(row, name, what);
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new InvalidInputError(
      `Cannot read the LVM report of ${what}: ${name} ${
        JSON.stringify(text)
      } is not a byte count ` +
        `(osimg asks for --units b --nosuffix)`,
    );
  }
  return value;
}

/**
 * The physical volumes of a `pvs` JSON report (columns {@linkcode LVM_REPORT_COLUMNS}.pvs).
 *
 * @example
 * ```ts
 * parsePvsReport(stdout, "node1")[0]!.peStart; // 1048576
 * ```
 */
export function parsePvsReport(text: string, what: string): PhysicalVolumeReport[] {
  return rows(text, "pv", what).map((row) => ({
    device: field(row, "pv_name", what),
    group: field(row, "vg_name", what),
    size: byteCount(row, "pv_size", what),
    peStart: byteCount(row, "pe_start", what),
  }));
}

/** The volume groups of a `vgs` JSON report (columns {@linkcode LVM_REPORT_COLUMNS}.vgs). */
export function parseVgsReport(text: string, what: string): VolumeGroupReport[] {
  return rows(text, "vg", what).map((row) => ({
    name: field(row, "vg_name", what),
    extentSize: byteCount(row, "vg_extent_size", what),
    size: byteCount(row, "vg_size", what),
    free: byteCount(row, "vg_free", what),
  }));
}

/**
 * The logical volumes of an `lvs` JSON report (columns {@linkcode LVM_REPORT_COLUMNS}.lvs): a
 * segment column makes one row per segment, joined here into one LV in report order.
 */
export function parseLvsReport(text: string, what: string): LogicalVolumeReport[] {
  const volumes = new Map<string, LogicalVolumeReport>();
  for (const row of rows(text, "lv", what)) {
    const name = field(row, "lv_name", what);
    const group = field(row, "vg_name", what);
    const key = `${group}/${name}`;
    let volume = volumes.get(key);
    if (!volume) {
      volume = {
        name,
        group,
        size: byteCount(row, "lv_size", what),
        mapperPath: field(row, "lv_dm_path", what),
        segmentTypes: [],
        extents: [],
      };
      volumes.set(key, volume);
    }
    const type = field(row, "segtype", what);
    if (!volume.segmentTypes.includes(type)) volume.segmentTypes.push(type);
    // "devices" is "<pv>(<first extent>)", comma-separated for a striped or mirrored segment.
    for (const device of field(row, "devices", what).split(",")) {
      const match = /^(.+)\((\d+)\)$/.exec(device.trim());
      if (match) volume.extents.push({ device: match[1]!, start: Number(match[2]) });
    }
  }
  return [...volumes.values()];
}
