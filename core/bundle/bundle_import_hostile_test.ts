// One named test per attack on imgimport: each asserts the exact message and that neither the
// file tree under the root nor the definitions changed.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { baseMeta, bytesContent, type Entry } from "../../formats/archive/entry.ts";
import { tarStream } from "../../formats/archive/tar.ts";
import {
  type BundleSpec,
  makeBundle,
  netbootFiles,
  rootState,
  sha256,
} from "../../testdata/support/bundle_testing.ts";
import { type TestRoot, testRoot } from "../../testdata/support/testing.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";
const text = new TextEncoder();

const workDir = await Deno.makeTempDir({ prefix: "osimg-hostile-" });
const goodBundle = `${workDir}/good.tgz`;
await makeBundle(goodBundle, { files: netbootFiles(), sums: true });
const manifestText = netbootFiles()[`${IMAGE}/manifest.xml`] as string;

globalThis.addEventListener("unload", () => {
  Deno.removeSync(workDir, { recursive: true });
});

/** A root holding the image imported once (files and rows to protect). */
async function rootWithImage(): Promise<TestRoot> {
  const t = await testRoot();
  await t.ok(["imgimport", goodBundle]);
  return t;
}

/** Imports `bundle` expecting failure with exactly `message`; nothing may change. */
async function refused(
  bundle: string,
  message: string | RegExp,
  extra: string[] = [],
): Promise<void> {
  await using t = await rootWithImage();
  const before = await rootState(t);
  const output = await t.run(["imgimport", bundle, ...extra]);
  const errors = output.stderr.split("\n").filter((line) => line.startsWith("Error:"));
  if (typeof message === "string") assertEquals(errors, [`Error: ${message}`]);
  else ok(errors.length === 1 && message.test(errors[0]!.slice(7)), errors.join("\n"));
  assertEquals(output.status, 1);
  assertEquals(await rootState(t), before);
  ok(!(await Deno.stat(`${t.root}/install/.osimg-staging`).catch(() => false)));
}

function file(path: string, body: string): Entry {
  return { ...baseMeta(path, 0o644), kind: "file", content: bytesContent(text.encode(body)) };
}
function dir(path: string): Entry {
  return { ...baseMeta(path, 0o755), kind: "dir" };
}

/** A tar.gz written member by member with osimg's tar writer: any name, any kind. */
async function rawBundle(name: string, entries: Entry[]): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of tarStream(entries)) parts.push(chunk);
  const path = `${workDir}/${name}`;
  await Deno.writeFile(path, gzipSync(await new Blob(parts as BlobPart[]).bytes()));
  return path;
}

/** The members of a sound image, then the attack. */
function withAttack(...attack: Entry[]): Entry[] {
  return [
    dir("."),
    dir(IMAGE),
    file(`${IMAGE}/manifest.xml`, manifestText),
    file(`${IMAGE}/kernel`, "vmlinuz bytes\n"),
    ...attack,
  ];
}

async function bundle(name: string, spec: BundleSpec): Promise<string> {
  const path = `${workDir}/${name}`;
  await makeBundle(path, spec);
  return path;
}

const prefix = (path: string) => `Cannot import bundle "${path}"`;

Deno.test("hostile: absolute member name", async () => {
  const path = await rawBundle("absolute.tgz", withAttack(file("/etc/passwd", "root::0:0\n")));
  await refused(path, `${prefix(path)}: member "/etc/passwd" has an absolute path`);
});

Deno.test("hostile: .. traversal", async () => {
  const path = await rawBundle(
    "traversal.tgz",
    withAttack(file(`${IMAGE}/../../etc/passwd`, "root::0:0\n")),
  );
  await refused(
    path,
    `${prefix(path)}: member "${IMAGE}/../../etc/passwd" leaves the image directory`,
  );
});

Deno.test("hostile: symlink escape", async () => {
  const path = await rawBundle(
    "symlink.tgz",
    withAttack({ ...baseMeta(`${IMAGE}/etc`, 0o777), kind: "symlink", target: "../../../etc" }),
  );
  await refused(
    path,
    `${
      prefix(path)
    }: member "${IMAGE}/etc" is a symbolic link to "../../../etc", which leaves the image directory`,
  );
});

Deno.test("hostile: hardlink escape", async () => {
  const path = await rawBundle(
    "hardlink.tgz",
    withAttack({ ...baseMeta(`${IMAGE}/passwd`, 0o644), kind: "hardlink", target: "/etc/passwd" }),
  );
  await refused(
    path,
    `${
      prefix(path)
    }: member "${IMAGE}/passwd" is a hard link to "/etc/passwd", which leaves the image directory`,
  );
});

Deno.test("hostile: device node", async () => {
  const path = await rawBundle(
    "device.tgz",
    withAttack({
      ...baseMeta(`${IMAGE}/sda`, 0o660),
      kind: "blockdev",
      devmajor: 8,
      devminor: 0,
    }),
  );
  await refused(
    path,
    `${prefix(path)}: member "${IMAGE}/sda" is a device node, which a bundle may not contain`,
  );
});

Deno.test("hostile: oversize member (content longer than its header declares)", async () => {
  // A header that declares 4 bytes in front of 600: the reader takes exactly 4 (and padding),
  // and the rest cannot pass as the next header.
  const parts: Uint8Array[] = [];
  for await (const chunk of tarStream(withAttack(file(`${IMAGE}/big`, "x".repeat(600))))) {
    parts.push(chunk);
  }
  const tar = await new Blob(parts as BlobPart[]).bytes();
  const name = text.encode(`${IMAGE}/big`);
  let header = -1;
  for (let offset = 0; offset < tar.length; offset += 512) {
    if (name.every((byte, index) => tar[offset + index] === byte)) header = offset;
  }
  ok(header >= 0);
  tar.set(text.encode("00000000004\0"), header + 124);
  tar.fill(0x20, header + 148, header + 156);
  const sum = tar.subarray(header, header + 512).reduce((total, byte) => total + byte, 0);
  tar.set(text.encode(sum.toString(8).padStart(6, "0") + "\0 "), header + 148);
  const path = `${workDir}/oversize.tgz`;
  await Deno.writeFile(path, gzipSync(tar));
  await refused(
    path,
    `${prefix(path)}: the archive is cut short or corrupt near member "${IMAGE}/big": ` +
      `Bad tar header checksum at offset ${header + 1024}: stored 0, computed 10816 ` +
      "(corrupt or not a tar archive)",
  );
});

Deno.test("hostile: truncated archive", async () => {
  const whole = await Deno.readFile(goodBundle);
  const path = `${workDir}/truncated.tgz`;
  await Deno.writeFile(path, whole.subarray(0, Math.floor(whole.length / 2)));
  // Where gunzip stops depends on how much of the cut stream it had buffered.
  const escaped = prefix(path).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  await refused(
    path,
    new RegExp(
      `^${escaped}: the archive is cut short or corrupt( near member "[^"]+")?: ` +
        "Cannot decompress gzip data: unexpected end of file\\.$",
    ),
  );
});

Deno.test("hostile: truncated archive (plain tar cut inside a member)", async () => {
  // Sorted members: "./", the image directory, then manifest.xml's header at 1024 and its
  // content from 1536; the cut falls inside that content.
  const path = await bundle("cut.tar", { files: netbootFiles(), compression: "none", sums: true });
  const whole = await Deno.readFile(path);
  await Deno.writeFile(path, whole.subarray(0, 1536 + 100));
  await refused(
    path,
    `${prefix(path)}: the archive is cut short or corrupt near member "${IMAGE}/manifest.xml": ` +
      `Truncated archive: member "./${IMAGE}/manifest.xml" at offset 1024 ends after 100 of ` +
      `${manifestText.length} bytes`,
  );
});

Deno.test("hostile: digest mismatch", async () => {
  const path = await bundle("mismatch.tgz", {
    files: { ...netbootFiles(), [`${IMAGE}/kernel`]: "trojan kernel\n" },
    sums: true,
    editSums: (sums) => sums.replace(/^[0-9a-f]{64}(?= {2}kernel$)/m, "0".repeat(64)),
  });
  const digest = sha256("trojan kernel\n");
  await refused(
    path,
    `${
      prefix(path)
    }: member "${IMAGE}/kernel" does not match SHA256SUMS (its SHA-256 is ${digest}, SHA256SUMS lists ${
      "0".repeat(64)
    })`,
  );
});

Deno.test("hostile: digest mismatch in a member large enough to be hashed by the Worker", async () => {
  const kernel = "trojan kernel, padded\n".repeat(150_000); // 3.3 MB: over the 1 MiB offload size
  const path = await bundle("mismatch-large.tgz", {
    files: { ...netbootFiles(), [`${IMAGE}/kernel`]: kernel },
    sums: true,
    editSums: (sums) => sums.replace(/^[0-9a-f]{64}(?= {2}kernel$)/m, "0".repeat(64)),
  });
  await refused(
    path,
    `${prefix(path)}: member "${IMAGE}/kernel" does not match SHA256SUMS (its SHA-256 is ${
      sha256(kernel)
    }, SHA256SUMS lists ${"0".repeat(64)})`,
  );
});

Deno.test("hostile: missing member", async () => {
  const path = await bundle("missing.tgz", {
    files: netbootFiles(),
    sums: true,
    editSums: (sums) => sums + `${"1".repeat(64)}  ghost\n`,
  });
  await refused(
    path,
    `${prefix(path)}: member "${IMAGE}/ghost" is listed in SHA256SUMS but missing from the bundle`,
  );
});

Deno.test("hostile: unlisted member", async () => {
  const path = await bundle("unlisted.tgz", {
    files: netbootFiles(),
    sums: true,
    editSums: (sums) => sums.replace(/^.* {2}kernel\n/m, ""),
  });
  await refused(path, `${prefix(path)}: member "${IMAGE}/kernel" is not listed in SHA256SUMS`);
});

Deno.test("hostile: XML entity expansion (billion laughs)", async () => {
  const lol = `<?xml version="1.0"?>
<!DOCTYPE xcatimage [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xcatimage><osimage><imagename>&lol3;</imagename></osimage></xcatimage>
`;
  const path = await bundle("laughs.tgz", { files: { [`${IMAGE}/manifest.xml`]: lol } });
  await refused(
    path,
    `${
      prefix(path)
    }: ${IMAGE}/manifest.xml: Cannot parse manifest.xml: no XML entities (the document has a DOCTYPE or ENTITY declaration)`,
  );
});

Deno.test("hostile: XML external entity (XXE)", async () => {
  const xxe = manifestText.replace(
    '<?xml version="1.0"?>\n',
    '<?xml version="1.0"?>\n<!DOCTYPE x [ <!ENTITY xxe SYSTEM "file:///etc/shadow"> ]>\n',
  ).replace("<osname>Linux</osname>", "<osname>&xxe;</osname>");
  const path = await bundle("xxe.tgz", {
    files: { ...netbootFiles(), [`${IMAGE}/manifest.xml`]: xxe },
  });
  await refused(
    path,
    `${
      prefix(path)
    }: ${IMAGE}/manifest.xml: Cannot parse manifest.xml: no XML entities (the document has a DOCTYPE or ENTITY declaration)`,
  );
});

Deno.test("hostile: manifest path outside the allowed roots", async () => {
  const evil = manifestText.replace(
    "<kernel>/install/netboot/rhels8.8.0/x86_64/compute/kernel</kernel>",
    "<kernel>/etc/cron.d/kernel</kernel>",
  );
  const path = await bundle("outside.tgz", {
    files: { ...netbootFiles(), [`${IMAGE}/manifest.xml`]: evil },
    sums: true,
  });
  await refused(
    path,
    `${
      prefix(path)
    }: the manifest path "/etc/cron.d/kernel" (kernel) is outside the allowed directories (/install, /tftpboot, /opt/xcat/share/xcat); name its directory with --allow-path to allow it`,
  );
  // The admin can allow it explicitly.
  await using t = await testRoot();
  await t.ok(["imgimport", path, "--allow-path", "/etc/cron.d"]);
  assertEquals(await Deno.readTextFile(`${t.root}/etc/cron.d/kernel`), "vmlinuz bytes\n");
});

Deno.test("hostile: a manifest path climbing out with .. is judged after normalizing", async () => {
  const evil = manifestText.replace(
    "<kernel>/install/netboot/rhels8.8.0/x86_64/compute/kernel</kernel>",
    "<kernel>/install/../etc/kernel</kernel>",
  );
  const path = await bundle("climb.tgz", {
    files: { ...netbootFiles(), [`${IMAGE}/manifest.xml`]: evil },
  });
  await refused(
    path,
    `${
      prefix(path)
    }: the manifest path "/install/../etc/kernel" (kernel) is outside the allowed directories (/install, /tftpboot, /opt/xcat/share/xcat); name its directory with --allow-path to allow it`,
  );
});

Deno.test("hostile: a link placed by an earlier bundle is not a way out", async () => {
  // First bundle: its extra directory holds "up -> ../..", harmless inside the archive (it
  // stays in the image directory) but pointing at the root once placed at /install/mydir.
  const first = await bundle("link-first.tgz", {
    files: { ...netbootFiles(), [`${IMAGE}/extra/tmp/mydir/up`]: { symlink: "../.." } },
  });
  const second = await bundle("link-second.tgz", {
    files: {
      ...netbootFiles(),
      [`${IMAGE}/manifest.xml`]: manifestText.replace(
        "<dest>/install/mydir</dest>",
        "<dest>/install/mydir/up/etc</dest>",
      ),
    },
  });
  await using t = await testRoot();
  await t.ok(["imgimport", first]);
  const before = await rootState(t);
  const output = await t.run(["imgimport", second]);
  assertEquals(output.status, 1);
  ok(
    output.stderr.includes(
      `Error: ${
        prefix(second)
      }: the path "/install/mydir/up/etc/a.conf" leads through a symbolic link out of the allowed directories\n`,
    ),
    output.stderr,
  );
  assertEquals(await rootState(t), before);
  ok(!(await Deno.stat(`${t.root}/etc/a.conf`).catch(() => false)));
});

/** A netboot bundle whose manifest is edited by `edit`; SHA256SUMS computed over the result. */
async function editedManifestBundle(name: string, edit: (text: string) => string): Promise<string> {
  const files = netbootFiles();
  files[`${IMAGE}/manifest.xml`] = edit(manifestText);
  return await bundle(name, { files, sums: true });
}

/** Imports expecting the manifest to be refused with exactly these lines; nothing may change. */
async function refusedManifest(path: string, problems: string[], extra: string[] = []) {
  await using t = await rootWithImage();
  const before = await rootState(t);
  const output = await t.run(["imgimport", path, ...extra]);
  assertEquals(
    output.stderr,
    [`Error: ${prefix(path)}: ${IMAGE}/manifest.xml is not valid:`, ...problems, ""].join("\n"),
  );
  assertEquals(output.status, 1);
  assertEquals(await rootState(t), before);
  ok(!(await Deno.stat(`${t.root}/install/.osimg-staging`).catch(() => false)));
}

Deno.test("hostile: manifest <imagename>..</imagename>", async () => {
  const path = await editedManifestBundle(
    "imagename-dotdot.tgz",
    (text) => text.replaceAll(`<imagename>${IMAGE}</imagename>`, "<imagename>..</imagename>"),
  );
  await refusedManifest(path, [
    "The object name '..' is invalid: '.' and '..' name directories, not objects.",
  ]);
});

Deno.test("hostile: manifest image name '.', with a glob or too long", async () => {
  const cases: [string, string][] = [
    [".", "The object name '.' is invalid: '.' and '..' name directories, not objects."],
    [
      "a*",
      "The object name 'a*' is invalid: it contains '*'; only letters, digits, '.', '_', '+' and '-' are allowed.",
    ],
    [
      "i".repeat(300),
      `The object name '${
        "i".repeat(40)
      }... (300 characters)' is invalid: it is 300 characters long; at most 128 are allowed.`,
    ],
  ];
  for (const [name, problem] of cases) {
    const path = await editedManifestBundle(
      `imagename-${name.length}.tgz`,
      (text) =>
        text.replaceAll(`<imagename>${IMAGE}</imagename>`, `<imagename>${name}</imagename>`),
    );
    await refusedManifest(path, [problem]);
  }
});

Deno.test("hostile: manifest profile, osvers, osarch and provmethod that are paths", async () => {
  const path = await editedManifestBundle(
    "profile-dotdot.tgz",
    (text) =>
      text.replace("<profile>compute</profile>", "<profile>..</profile>")
        .replace("<osvers>rhels8.8.0</osvers>", "<osvers>../../etc</osvers>")
        .replace("<osarch>x86_64</osarch>", "<osarch>x86_64;id</osarch>")
        .replace("<provmethod>netboot</provmethod>", "<provmethod>netboot/..</provmethod>"),
  );
  await refusedManifest(path, [
    "The profile '..' is invalid: '.' and '..' name directories, not objects.",
    "The osvers '../../etc' is invalid: it contains '/'.",
    "The osarch 'x86_64;id' is invalid: it contains ';'; only letters, digits, '.', '_', '+' and '-' are allowed.",
    "The provmethod 'netboot/..' is invalid: it contains '/'.",
  ]);
});

Deno.test("hostile: manifest kit name '..'", async () => {
  const path = await editedManifestBundle(
    "kit-dotdot.tgz",
    (text) =>
      text.replace(
        "<postbootscripts>",
        "<kit><kitname>..</kitname><kitdir>/install/kits/x</kitdir></kit>\n  <postbootscripts>",
      ),
  );
  await refusedManifest(path, [
    "The object name '..' is invalid: '.' and '..' name directories, not objects.",
  ]);
});

Deno.test("hostile: imgimport -f with a profile that is a path", async () => {
  await using t = await rootWithImage();
  const before = await rootState(t);
  for (const profile of ["..", "../../etc", "x*"]) {
    const output = await t.run(["imgimport", goodBundle, "-f", profile]);
    ok(
      output.stderr.startsWith(`Error: The profile '${profile}' is invalid: `),
      output.stderr,
    );
    assertEquals(output.stderr.split("\n").length, 2, output.stderr);
    assertEquals(output.status, 1);
    assertEquals(await rootState(t), before);
  }
  // A profile that makes the new name too long for a file name.
  const long = "p".repeat(120);
  const output = await t.run(["imgimport", goodBundle, "-f", long]);
  const name = `rhels8.8.0-x86_64-netboot-${long}`;
  assertEquals(
    output.stderr.split("\n").filter((line) => line.startsWith("Error:")),
    [
      `Error: ${prefix(goodBundle)}: The object name '${
        name.slice(0, 40)
      }... (${name.length} characters)' ` +
      `is invalid: it is ${name.length} characters long; at most 128 are allowed.`,
    ],
  );
  assertEquals(await rootState(t), before);
});

Deno.test("hostile: manifest rootimgdir outside the install directory", async () => {
  const cases: [string, string][] = [
    ["/etc", "it is not below '/install'"],
    ["/install/netboot/../../etc", "it has '.' or '..' parts"],
    ["/install", "it is not below '/install'"],
  ];
  for (const [rootimgdir, problem] of cases) {
    const path = await editedManifestBundle(
      `rootimgdir-${rootimgdir.length}.tgz`,
      (text) =>
        text.replace(
          "<rootimgdir>/install/netboot/rhels8.8.0/x86_64/compute</rootimgdir>",
          `<rootimgdir>${rootimgdir}</rootimgdir>`,
        ),
    );
    await refused(
      path,
      `${prefix(path)}: the manifest's rootimgdir "${rootimgdir}" is invalid: ${problem}`,
    );
  }
});
