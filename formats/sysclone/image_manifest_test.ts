// The sysclone image manifest: its lines, names with spaces and control characters, refusals,
// and the node-own pattern the update's awk applies.

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { InvalidInputError } from "../../core/errors.ts";
import {
  escapeManifestName,
  MANIFEST_HEADER,
  type ManifestEntry,
  NODE_OWN_PATHS,
  nodeOwnPattern,
  parseManifest,
  serializeManifest,
  unescapeManifestName,
} from "./image_manifest.ts";

const DIGEST = "a".repeat(64);
const ENTRIES: ManifestEntry[] = [
  { path: "etc", type: "d", mode: 0o755, uid: 0, gid: 0, mtime: 1700000000, size: 4096 },
  {
    path: "etc/a file\twith\\odd\nname",
    type: "f",
    mode: 0o4755,
    uid: 1000,
    gid: 100,
    mtime: 1,
    size: 3,
    digest: DIGEST,
  },
  {
    path: "etc/link",
    type: "l",
    mode: 0o777,
    uid: 0,
    gid: 0,
    mtime: 2,
    size: 9,
    target: "../a b/c",
  },
  {
    path: "dev/null",
    type: "c",
    mode: 0o666,
    uid: 0,
    gid: 0,
    mtime: 3,
    size: 0,
    device: "1:3",
  },
  { path: "run/fifo", type: "p", mode: 0o600, uid: 0, gid: 0, mtime: 4, size: 0 },
  { path: "é/ü", type: "d", mode: 0o700, uid: 0, gid: 0, mtime: 5, size: 4096 },
];

Deno.test("image manifest: one line per entry, names escaped so a line splits on spaces", () => {
  strictEqual(
    serializeManifest(ENTRIES),
    [
      MANIFEST_HEADER,
      "d 755 0 0 1700000000 4096 - etc",
      `f 4755 1000 100 1 3 ${DIGEST} etc/a\\040file\\011with\\134odd\\012name`,
      "l 777 0 0 2 9 - etc/link ../a\\040b/c",
      "c 666 0 0 3 0 1:3 dev/null",
      "p 600 0 0 4 0 - run/fifo",
      "d 700 0 0 5 4096 - é/ü",
      "",
    ].join("\n"),
  );
});

Deno.test("image manifest: parse reads back what serialize wrote", () => {
  deepStrictEqual(parseManifest(serializeManifest(ENTRIES), "m"), ENTRIES);
});

Deno.test("image manifest: escape and unescape are inverse on every control character", () => {
  const name = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code)).join("");
  const escaped = escapeManifestName(name);
  ok([...escaped].every((char) => char > " " && char !== "\x7f"), escaped);
  strictEqual(unescapeManifestName(escaped), name);
});

Deno.test("image manifest: refuses another header", () => {
  throws(
    () => parseManifest("osimg-sysclone-manifest 9\n", "x.manifest"),
    (error: Error) =>
      error instanceof InvalidInputError &&
      error.message ===
        "x.manifest is not an osimg sysclone manifest (its first line is not 'osimg-sysclone-manifest 1')",
  );
});

Deno.test("image manifest: refuses a path leaving the image", () => {
  throws(
    () => parseManifest(`${MANIFEST_HEADER}\nf 644 0 0 1 1 ${DIGEST} etc/../../x\n`, "m"),
    (error: Error) =>
      error instanceof InvalidInputError &&
      error.message === "m, line 2: path 'etc/../../x' is not a relative path inside the image",
  );
});

Deno.test("image manifest: refuses a file without a sha256", () => {
  throws(
    () => parseManifest(`${MANIFEST_HEADER}\nf 644 0 0 1 1 - etc/x\n`, "m"),
    (error: Error) =>
      error instanceof InvalidInputError &&
      error.message === "m, line 2: '-' is not a sha256 digest",
  );
});

Deno.test("image manifest: refuses a line with a field missing", () => {
  throws(
    () => parseManifest(`${MANIFEST_HEADER}\nl 777 0 0 1 1 - etc/link\n`, "m"),
    (error: Error) =>
      error instanceof InvalidInputError &&
      error.message === "m, line 2: 8 fields where a 'l' entry has 9",
  );
});

Deno.test("image manifest: the node-own pattern takes identity, boot loader and run-time state, not the system", () => {
  const keep = new RegExp(nodeOwnPattern([...NODE_OWN_PATHS, "boot/efi/**"]));
  for (
    const path of [
      "etc/fstab",
      "etc/hostname",
      "etc/machine-id",
      "etc/ssh/ssh_host_ed25519_key.pub",
      "etc/network/interfaces",
      "etc/osimg/sysclone.id",
      "boot/grub/grub.cfg",
      "boot/efi/EFI/BOOT/BOOTX64.EFI",
      "var/log/syslog",
      "lost+found",
      "boot/efi/lost+found/x",
      ".osimg-update",
      "boot/efi/.osimg-update/" + DIGEST,
    ]
  ) ok(keep.test(path), `${path} is the node's own`);
  for (
    const path of [
      "etc",
      "etc/fstab.d",
      "etc/ssh/sshd_config",
      "boot/vmlinuz-6.1.0-amd64",
      "boot/grub",
      "boot/efi",
      "var/log",
      "usr/bin/ls",
      "etc/osimg-clone-payload",
    ]
  ) ok(!keep.test(path), `${path} is the image's`);
});
