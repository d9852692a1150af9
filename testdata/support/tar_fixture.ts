// Test fixtures for the tar codec tests: a sample of every entry kind and awkward value, and
// hand-forged headers for inputs osimg's writer would never produce.

import { baseMeta, bytesContent, type Entry } from "../../formats/archive/entry.ts";
import { describeEntries, NAME_255 } from "./tree_fixture.ts";

const encoder = new TextEncoder();
const text = (value: string) => bytesContent(encoder.encode(value));
/** cap_setuid,cap_setgid+ep as the kernel stores it: bytes >= 0x80 that UTF-8 would mangle. */
export const CAPABILITY = Uint8Array.from([
  0x01,
  0x00,
  0x00,
  0x02,
  0xc0,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
]);

/** A 4096-byte path made of 255-byte components. */
export function name4096(): string {
  const path = `${"p".repeat(255)}/`.repeat(15) + "q".repeat(4096 - 256 * 15);
  if (encoder.encode(path).byteLength !== 4096) throw new Error("bad fixture");
  return path;
}

/** Every entry kind and every value that needs ustar's split, pax or base-256. */
export function sampleEntries(): Entry[] {
  return [
    { ...baseMeta(".", 0o755), kind: "dir", mtime: 1_700_000_000 },
    { ...baseMeta("bin", 0o755), kind: "dir" },
    {
      ...baseMeta("bin/su", 0o4755),
      kind: "file",
      content: text("su\n"),
      xattrs: new Map([["security.capability", CAPABILITY]]),
    },
    {
      ...baseMeta("bin/wall", 0o2755),
      kind: "file",
      content: text("wall\n"),
      gid: 5,
      gname: "tty",
    },
    { ...baseMeta("tmp", 0o1777), kind: "dir" },
    {
      ...baseMeta("etc/empty", 0o644),
      kind: "file",
      content: text(""),
      xattrs: new Map([
        ["user.z", new Uint8Array([0, 255, 10, 61, 32])],
        ["user.a", encoder.encode("plain")],
        ["user.ünï", encoder.encode("ok")],
      ]),
    },
    {
      ...baseMeta("etc/big-ids", 0o640),
      kind: "file",
      content: text("x"),
      uid: 4_000_000_000,
      gid: 2_097_152,
      uname: "ädmin",
      gname: "a-group-name-that-is-longer-than-32-bytes",
      mtime: 2 ** 34,
    },
    { ...baseMeta("etc/old", 0o644), kind: "file", content: text("1969"), mtime: -86400 },
    { ...baseMeta("usr/bin/perl", 0o755), kind: "file", content: text("perl!\n"), links: 2 },
    { ...baseMeta("usr/bin/perl5.36", 0o755), kind: "hardlink", target: "usr/bin/perl" },
    { ...baseMeta("bin/awk", 0o777), kind: "symlink", target: "/etc/alternatives/awk" },
    { ...baseMeta("bin/far", 0o777), kind: "symlink", target: "x/".repeat(80) + "target" },
    { ...baseMeta("bin/snow", 0o777), kind: "symlink", target: "☃" },
    { ...baseMeta("dev/null", 0o666), kind: "chardev", devmajor: 1, devminor: 3 },
    { ...baseMeta("dev/nvme", 0o660), kind: "blockdev", devmajor: 259, devminor: 65536 },
    { ...baseMeta("dev/initctl", 0o600), kind: "fifo" },
    { ...baseMeta("ünïcødé ☃", 0o644), kind: "file", content: text("snow\n") },
    { ...baseMeta("n".repeat(100), 0o644), kind: "file", content: text("100") },
    {
      ...baseMeta(`${"d".repeat(150)}/${"n".repeat(100)}`, 0o644),
      kind: "file",
      content: text("split"),
    },
    { ...baseMeta("d".repeat(101), 0o755), kind: "dir" },
    { ...baseMeta(NAME_255, 0o644), kind: "file", content: text("255") },
    { ...baseMeta(name4096(), 0o644), kind: "file", content: text("4096") },
    { ...baseMeta(`${"h".repeat(200)}/link`, 0o755), kind: "hardlink", target: name4096() },
  ];
}

/** What the reader gives back: entries as written ("links" is not stored in tar). */
export function expectedAfterTar(entries: Entry[]): Promise<string[]> {
  return describeEntries(
    (async function* () {
      for (const entry of entries) {
        yield (entry.kind === "file" ? { ...entry, links: undefined } : entry) as Entry;
      }
    })(),
  );
}

/** A ustar header block with a correct checksum, for inputs our writer would never produce. */
export function forgeHeader(
  fields: {
    name: string;
    type?: string;
    size?: number | string;
    linkname?: string;
    magic?: string;
  },
): Uint8Array {
  const block = new Uint8Array(512);
  const put = (at: number, value: string) =>
    block.set(Uint8Array.from(value, (c) => c.charCodeAt(0)), at);
  put(0, fields.name);
  put(100, "0000644\0");
  put(108, "0000000\0");
  put(116, "0000000\0");
  put(
    124,
    typeof fields.size === "string"
      ? fields.size
      : (fields.size ?? 0).toString(8).padStart(11, "0") + "\0",
  );
  put(136, "00000000000\0");
  put(156, fields.type ?? "0");
  put(157, fields.linkname ?? "");
  put(257, fields.magic ?? "ustar\u000000");
  return withChecksum(block);
}

export function withChecksum(block: Uint8Array): Uint8Array {
  block.fill(0x20, 148, 156);
  const sum = block.reduce((total, byte) => total + byte, 0);
  block.set(Uint8Array.from(sum.toString(8).padStart(6, "0") + "\0 ", (c) => c.charCodeAt(0)), 148);
  return block;
}

export function forge(...members: (Uint8Array | string)[]): Uint8Array {
  const parts = members.map((member) => {
    if (typeof member !== "string") return member;
    const data = encoder.encode(member);
    const padded = new Uint8Array(Math.ceil(data.byteLength / 512) * 512);
    padded.set(data);
    return padded;
  });
  return new Uint8Array([...parts.flatMap((part) => [...part]), ...new Uint8Array(1024)]);
}

export function paxData(records: [string, string][]): string {
  return records.map(([key, value]) => {
    const rest = encoder.encode(`${key}=${value}`).byteLength + 2;
    let length = rest + 1;
    while (String(length).length + rest !== length) length = String(length).length + rest;
    return `${length} ${key}=${value}\n`;
  }).join("");
}
