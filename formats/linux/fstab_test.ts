// Tests for the fstab reader.

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseFstab } from "./fstab.ts";

Deno.test("fstab: entries with comments, escapes, defaults and a short line skipped", () => {
  const text = [
    "# /etc/fstab: static file system information.",
    "UUID=1417731a-652a-004e-b156-0f46c836e1b5 /               ext4    errors=remount-ro 0       1",
    "",
    "LABEL=EFI\t/boot/efi vfat umask=0077 0 1",
    "/dev/vda3 none swap sw",
    "/dev/vdb1 /srv/my\\040data xfs",
    "broken-line /x",
  ].join("\n");
  assertEquals(parseFstab(text), [
    {
      spec: "UUID=1417731a-652a-004e-b156-0f46c836e1b5",
      mountpoint: "/",
      type: "ext4",
      options: "errors=remount-ro",
      dump: 0,
      pass: 1,
    },
    {
      spec: "LABEL=EFI",
      mountpoint: "/boot/efi",
      type: "vfat",
      options: "umask=0077",
      dump: 0,
      pass: 1,
    },
    { spec: "/dev/vda3", mountpoint: "none", type: "swap", options: "sw", dump: 0, pass: 0 },
    {
      spec: "/dev/vdb1",
      mountpoint: "/srv/my data",
      type: "xfs",
      options: "defaults",
      dump: 0,
      pass: 0,
    },
  ]);
});
