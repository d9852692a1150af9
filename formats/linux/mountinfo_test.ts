import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { mountsUnder, parseMountInfo } from "./mountinfo.ts";

const SAMPLE = [
  "22 27 0:21 / /proc rw,relatime - proc proc rw",
  "24 27 0:6 / /dev rw,relatime shared:2 - devtmpfs devtmpfs rw,mode=755",
  "90 27 0:50 / /install/netboot/x/rootimg/proc rw,relatime - proc proc rw",
  "91 27 0:51 / /install/netboot/x/rootimg/dev rw - tmpfs tmpfs rw,mode=755",
  "92 91 0:52 / /install/netboot/x/rootimg/dev/pts rw - devpts devpts rw",
  "93 27 0:53 / /install/netboot/x/rootimg\\040two/proc rw - proc proc rw",
  "94 27 0:54 / /install/netboot/x/rootimg-other/proc rw - proc proc rw",
  "malformed line",
  "",
].join("\n");

Deno.test("parseMountInfo: ids, mount points with octal escapes, optional fields, fstype and source", () => {
  const entries = parseMountInfo(SAMPLE);
  assertEquals(entries.length, 7);
  assertEquals(entries[1], {
    id: 24,
    parentId: 27,
    mountPoint: "/dev",
    fsType: "devtmpfs",
    source: "devtmpfs",
  });
  assertEquals(entries[5]!.mountPoint, "/install/netboot/x/rootimg two/proc");
});

Deno.test("mountsUnder: only mounts at or below the directory (not a sibling with the same prefix), latest first", () => {
  assertEquals(
    mountsUnder(parseMountInfo(SAMPLE), "/install/netboot/x/rootimg").map((entry) => entry.id),
    [92, 91, 90],
  );
  assertEquals(mountsUnder(parseMountInfo(SAMPLE), "/nothing"), []);
});
