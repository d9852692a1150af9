// Test support for bundle import/verify: bundles built the way real xCAT builds them (GNU tar of a staging directory) and the state checks every hostile-input test makes.

import { concatBytes } from "../../formats/bytes.ts";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { cpioStream } from "../../formats/archive/cpio_newc.ts";
import { baseMeta, bytesContent, type Entry } from "../../formats/archive/entry.ts";
import { utf8 } from "../../formats/archive/archive_stream.ts";
import type { TestRoot } from "./testing.ts";
import { run } from "./process.ts";
import { snapshotTree } from "./testing.ts";

/** A member of a hand-built staging directory. */
export type BundleFile =
  | string
  | Uint8Array
  | { symlink: string }
  | { dir: true }
  | { mode: number; content: string };

export interface BundleSpec {
  /** Paths relative to the staging directory ("img/manifest.xml") and what they hold. */
  files: Record<string, BundleFile>;
  /**
   * Write `<dir>/SHA256SUMS` for each top-level directory with GNU sha256sum over every regular
   * file in it, and put manifest.xml and SHA256SUMS first in the archive (osimg's layout).
   * Without it, the archive is `tar czf x .` in readdir order, as xCAT's imgexport makes it.
   */
  sums?: boolean;
  compression?: "gzip" | "xz" | "zstd" | "bzip2" | "none";
  /** GNU tar's --format (default: GNU tar's own default, "gnu", as on RHEL and SLES). */
  tarFormat?: "gnu" | "pax" | "ustar";
  /** Change SHA256SUMS after it was computed (hostile fixtures). */
  editSums?: (text: string, dir: string) => string;
}

/** Builds a bundle at `path` with real GNU tar (and gzip -n, xz, zstd, bzip2). */
export async function makeBundle(path: string, spec: BundleSpec): Promise<void> {
  const stage = await Deno.makeTempDir({ prefix: "osimg-bundle-stage-" });
  try {
    const tops = new Set<string>();
    for (const [name, file] of Object.entries(spec.files)) {
      const host = `${stage}/${name}`;
      tops.add(name.split("/")[0]!);
      await Deno.mkdir(host.slice(0, host.lastIndexOf("/")), { recursive: true });
      if (typeof file === "string") await Deno.writeTextFile(host, file);
      else if (file instanceof Uint8Array) await Deno.writeFile(host, file);
      else if ("symlink" in file) await Deno.symlink(file.symlink, host);
      else if ("dir" in file) await Deno.mkdir(host, { recursive: true });
      else {
        await Deno.writeTextFile(host, file.content);
        await Deno.chmod(host, file.mode);
      }
    }
    const tarFile = `${stage}.tar`;
    if (spec.sums) {
      for (const top of [...tops].sort()) {
        const info = await Deno.lstat(`${stage}/${top}`);
        if (!info.isDirectory) continue;
        const listing = new TextDecoder().decode(
          await run(["find", ".", "-type", "f", "!", "-path", "./SHA256SUMS"], {
            cwd: `${stage}/${top}`,
          }),
        );
        const names = listing.split("\n").filter(Boolean).map((name) => name.slice(2)).sort();
        let sums = names.length
          ? new TextDecoder().decode(
            await run(["sha256sum", "--", ...names], { cwd: `${stage}/${top}` }),
          )
          : "";
        if (spec.editSums) sums = spec.editSums(sums, top);
        await Deno.writeTextFile(`${stage}/${top}/SHA256SUMS`, sums);
      }
      const all = new TextDecoder().decode(await run(["find", "."], { cwd: stage })).split("\n")
        .filter((name) => name !== "" && name !== ".").sort();
      const first = (name: string) =>
        name.endsWith("/manifest.xml") && name.split("/").length === 3
          ? 0
          : name.endsWith("/SHA256SUMS") && name.split("/").length === 3
          ? 1
          : 2;
      // Directories before their contents (sorted order gives that), manifest and sums first
      // in each image directory.
      const ordered = [
        "./",
        ...all.sort((a, b) => {
          const topA = a.split("/")[1]!;
          const topB = b.split("/")[1]!;
          if (topA !== topB) return topA < topB ? -1 : 1;
          const depthA = a.split("/").length === 2 ? -1 : first(a);
          const depthB = b.split("/").length === 2 ? -1 : first(b);
          if (depthA !== depthB) return depthA - depthB;
          return a < b ? -1 : 1;
        }),
      ];
      await Deno.writeTextFile(`${stage}.list`, ordered.join("\n") + "\n");
      await run([
        "tar",
        "-c",
        "-f",
        tarFile,
        ...(spec.tarFormat ? [`--format=${spec.tarFormat}`] : []),
        "--no-recursion",
        "-C",
        stage,
        "-T",
        `${stage}.list`,
      ]);
      await Deno.remove(`${stage}.list`);
    } else {
      // Exactly xCAT's `tar czf <dest> .` from inside the staging directory.
      await run(
        [
          "tar",
          "-c",
          "-f",
          tarFile,
          ...(spec.tarFormat ? [`--format=${spec.tarFormat}`] : []),
          ".",
        ],
        { cwd: stage },
      );
    }
    const compressor = {
      gzip: ["gzip", "-n", "-c"],
      xz: ["xz", "-c"],
      zstd: ["zstd", "-q", "-c"],
      bzip2: ["bzip2", "-c"],
      none: undefined,
    }[spec.compression ?? "gzip"];
    if (compressor) {
      await Deno.writeFile(path, await run([...compressor, tarFile]));
    } else {
      await Deno.copyFile(tarFile, path);
    }
    await Deno.remove(tarFile);
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}

/** A small cpio newc archive (a directory and one file), as packimage writes a root's first bytes. */
async function smallCpio(): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const entries: Entry[] = [
    { ...baseMeta(".", 0o755), kind: "dir" },
    { ...baseMeta("etc/hostname", 0o644), kind: "file", content: bytesContent(utf8("node\n")) },
  ];
  for await (const chunk of cpioStream(entries)) parts.push(chunk.slice());
  return concatBytes(parts);
}

/** A real rootimg.cpio.gz (gzip'd cpio newc): bundles' packed roots must be what they are named. */
export const PACKED_ROOT_BYTES: Uint8Array = new Uint8Array(gzipSync(await smallCpio()));
/** A real initrd-*.gz (an initramfs: gzip'd cpio newc). */
export const INITRD_BYTES: Uint8Array = new Uint8Array(gzipSync(await smallCpio(), { level: 1 }));

/** sha256 hex of a string, for expected SHA256SUMS lines. */
export function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Everything an import may change: the tree under the root (DB files aside) and the rows. */
export async function rootState(t: TestRoot): Promise<{ tree: string[]; tables: string[] }> {
  const tree = (await snapshotTree(t.root)).filter((line) => !/osimg\.sqlite/.test(line));
  const tables: string[] = [];
  for (const table of ["osimage", "linuximage", "litefile", "postscripts", "kit"]) {
    tables.push((await t.ok(["tabdump", table])).stdout);
  }
  return { tree, tables };
}

/** A realistic xCAT 2.8+ netboot bundle's staging directory (manifest in XML::Simple's bytes). */
export function netbootFiles(
  image = "rhels8.8.0-x86_64-netboot-compute",
): Record<string, BundleFile> {
  const dir = image;
  return {
    [`${dir}/manifest.xml`]: `<?xml version="1.0"?>
<xcatimage>
  <extra>
    <dest>/install/postscripts</dest>
    <src>/install/postscripts/myscript1</src>
  </extra>
  <extra>
    <dest>/install/mydir</dest>
    <src>/tmp/mydir</src>
  </extra>
  <kernel>/install/netboot/rhels8.8.0/x86_64/compute/kernel</kernel>
  <linuximage>
    <exlist>/opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.exlist</exlist>
    <imagename>${image}</imagename>
    <netdrivers>e1000,virtio_net</netdrivers>
    <nodebootif>eth0</nodebootif>
    <otherpkgdir>/install/post/otherpkgs/rhels8.8.0/x86_64</otherpkgdir>
    <otherpkglist>/install/custom/netboot/rh/compute.otherpkgs.pkglist</otherpkglist>
    <pkgdir>/install/rhels8.8.0/x86_64</pkgdir>
    <pkglist>/opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.pkglist</pkglist>
    <postinstall>/opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.postinstall</postinstall>
    <rootimgdir>/install/netboot/rhels8.8.0/x86_64/compute</rootimgdir>
  </linuximage>
  <osimage>
    <imagename>${image}</imagename>
    <imagetype>linux</imagetype>
    <osarch>x86_64</osarch>
    <osdistroname>rhels8.8.0-x86_64</osdistroname>
    <osname>Linux</osname>
    <osvers>rhels8.8.0</osvers>
    <profile>compute</profile>
    <provmethod>netboot</provmethod>
    <synclists>/install/custom/netboot/rh/compute.synclist</synclists>
  </osimage>
  <postbootscripts>otherpkgs</postbootscripts>
  <postscripts>syslog,remoteshell,syncfiles,myscript1</postscripts>
  <ramdisk>/install/netboot/rhels8.8.0/x86_64/compute/initrd-stateless.gz</ramdisk>
  <rootimg>/install/netboot/rhels8.8.0/x86_64/compute/rootimg.cpio.gz</rootimg>
</xcatimage>
`,
    [`${dir}/kernel`]: "vmlinuz bytes\n",
    [`${dir}/initrd-stateless.gz`]: INITRD_BYTES,
    [`${dir}/rootimg.cpio.gz`]: PACKED_ROOT_BYTES,
    [`${dir}/compute.rhels8.x86_64.pkglist`]: "bash\nkernel\n",
    [`${dir}/compute.otherpkgs.pkglist`]: "vim\n",
    [`${dir}/compute.rhels8.x86_64.postinstall`]: { mode: 0o755, content: "#!/bin/sh\n" },
    [`${dir}/compute.rhels8.x86_64.exlist`]: "./usr/share/doc*\n",
    [`${dir}/compute.synclist`]: "/etc/hosts -> /etc/hosts\n",
    [`${dir}/extra/myscript1`]: { mode: 0o755, content: "#!/bin/sh\necho hi\n" },
    [`${dir}/extra/tmp/mydir/a.conf`]: "a=1\n",
    [`${dir}/extra/tmp/mydir/sub/b.conf`]: "b=2\n",
    [`${dir}/extra/tmp/mydir/link`]: { symlink: "a.conf" },
  };
}

/** The paths (under the root) a netbootFiles() import writes. */
export const NETBOOT_TARGETS = [
  "install/netboot/rhels8.8.0/x86_64/compute/kernel",
  "install/netboot/rhels8.8.0/x86_64/compute/initrd-stateless.gz",
  "install/netboot/rhels8.8.0/x86_64/compute/rootimg.cpio.gz",
  "opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.pkglist",
  "install/custom/netboot/rh/compute.otherpkgs.pkglist",
  "opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.postinstall",
  "opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.exlist",
  "install/custom/netboot/rh/compute.synclist",
  "install/postscripts/myscript1",
  "install/mydir/a.conf",
  "install/mydir/sub/b.conf",
];
