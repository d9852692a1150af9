// Tests for the LVM report parsers, on the JSON lvm2 2.03.16 (Debian 12) printed for a real volume
// group: vg0 on a GPT partition, a 152 MiB root LV and a 32 MiB swap LV, 4 MiB extents.

import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { InvalidInputError } from "../../core/errors.ts";
import { lvmReportArgv, parseLvsReport, parsePvsReport, parseVgsReport } from "./lvm_report.ts";

const PVS = `  {
      "report": [
          {
              "pv": [
                  {"pv_name":"/dev/loop0", "vg_name":"vg0", "pv_size":"255852544", "pe_start":"1048576"}
              ]
          }
      ]
  }
`;

const VGS = `  {
      "report": [
          {
              "vg": [
                  {"vg_name":"vg0", "vg_extent_size":"4194304", "vg_size":"255852544", "vg_free":"62914560"}
              ]
          }
      ]
  }
`;

const LVS = `  {
      "report": [
          {
              "lv": [
                  {"lv_name":"root", "vg_name":"vg0", "lv_size":"159383552", "lv_dm_path":"/dev/mapper/vg0-root", "seg_start_pe":"0", "devices":"/dev/loop0(0)", "segtype":"linear"},
                  {"lv_name":"swap", "vg_name":"vg0", "lv_size":"33554432", "lv_dm_path":"/dev/mapper/vg0-swap", "seg_start_pe":"0", "devices":"/dev/loop0(38)", "segtype":"linear"}
              ]
          }
      ]
  }
`;

Deno.test("lvm report: pvs, vgs and lvs JSON of a real volume group read into bytes and extents", () => {
  assertEquals(parsePvsReport(PVS, "node1"), [
    { device: "/dev/loop0", group: "vg0", size: 255852544, peStart: 1048576 },
  ]);
  assertEquals(parseVgsReport(VGS, "node1"), [
    { name: "vg0", extentSize: 4194304, size: 255852544, free: 62914560 },
  ]);
  assertEquals(parseLvsReport(LVS, "node1"), [
    {
      name: "root",
      group: "vg0",
      size: 159383552,
      mapperPath: "/dev/mapper/vg0-root",
      segmentTypes: ["linear"],
      extents: [{ device: "/dev/loop0", start: 0 }],
    },
    {
      name: "swap",
      group: "vg0",
      size: 33554432,
      mapperPath: "/dev/mapper/vg0-swap",
      segmentTypes: ["linear"],
      extents: [{ device: "/dev/loop0", start: 38 }],
    },
  ]);
});

Deno.test("lvm report: an LV of two segments is one LV with both extents, in order", () => {
  const row = (start: number, pe: number) =>
    `{"lv_name":"data", "vg_name":"vg0", "lv_size":"8388608", "lv_dm_path":"/dev/mapper/vg0-data", "seg_start_pe":"${start}", "devices":"/dev/vda3(${pe})", "segtype":"linear"}`;
  const text = `{"report":[{"lv":[${row(0, 10)},${row(1, 40)}]}]}`;
  const [volume, ...rest] = parseLvsReport(text, "node1");
  assertEquals(rest, []);
  assertEquals(volume!.extents, [{ device: "/dev/vda3", start: 10 }, {
    device: "/dev/vda3",
    start: 40,
  }]);
});

Deno.test("lvm report: the argv asks for JSON in bytes without a suffix", () => {
  assertEquals(lvmReportArgv("vgs"), [
    "vgs",
    "--reportformat",
    "json",
    "--units",
    "b",
    "--nosuffix",
    "-o",
    "vg_name,vg_extent_size,vg_size,vg_free",
  ]);
});

function refused(read: () => unknown, message: RegExp): void {
  throws(read, (error: unknown) => {
    if (!(error instanceof InvalidInputError)) throw error;
    if (!message.test(error.message)) throw new Error(`unexpected message: ${error.message}`);
    return true;
  });
}

Deno.test("lvm report: a size with a unit suffix (no --nosuffix) is refused", () => {
  refused(
    () => parseVgsReport(VGS.replace('"4194304"', '"4194304B"'), "node1"),
    /^Cannot read the LVM report of node1: vg_extent_size "4194304B" is not a byte count/,
  );
});

Deno.test("lvm report: text that is not JSON is refused", () => {
  refused(() => parsePvsReport("  No volume groups found\n", "node1"), /is not JSON/);
});

Deno.test("lvm report: a report of the wrong kind is refused", () => {
  refused(() => parseLvsReport(PVS, "node1"), /a report has no "lv" list/);
});

Deno.test("lvm report: a row without a column osimg asked for is refused", () => {
  refused(
    () => parsePvsReport(PVS.replace(`"pe_start":"1048576"`, `"x":"1"`), "n"),
    /has no pe_start/,
  );
});
