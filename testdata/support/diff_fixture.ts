// Test support for diff: a netboot image with every file type, and one change of every kind diff reports.

import { sh } from "./process.ts";
import { defineImage, makeFixtureTree } from "./pack_testing.ts";
import { INITRD_BYTES } from "./bundle_testing.ts";

/** A defined netboot image `name` with a root tree (every file type), kernel, initrd and pkglist. */
export async function netbootImage(
  root: string,
  name: string,
): Promise<{ rootimgdir: string; dirHost: string; rootimgHost: string }> {
  const rootimgdir = `/install/netboot/test/x86_64/${name}`;
  const image = await defineImage(root, name, { description: "diff fixture" }, {
    pkglist: `${rootimgdir}/compute.pkglist`,
  });
  await makeFixtureTree(image.rootimgHost);
  await Deno.writeTextFile(`${image.dirHost}/kernel`, "vmlinuz\n");
  await Deno.writeFile(`${image.dirHost}/initrd-stateless.gz`, INITRD_BYTES);
  await Deno.writeTextFile(`${image.dirHost}/compute.pkglist`, "bash\nkernel\n");
  return image;
}

/**
 * One change of every kind diff reports, made in the root tree `rootimg` (makeFixtureTree's):
 * content at the same size, content and size, mode, owner, symlink target, device numbers,
 * xattrs (a file capability), a hard link broken into a copy, a file become a directory, one
 * path added and one removed.
 */
export async function changeEveryKind(rootimg: string): Promise<void> {
  await Deno.writeTextFile(`${rootimg}/etc/hostname`, "nodf\n");
  await Deno.writeTextFile(`${rootimg}/etc/passwd`, "root:x:0:0:root:/root:/bin/bash\n");
  await Deno.chmod(`${rootimg}/usr/bin/su`, 0o755);
  await Deno.chown(`${rootimg}/home/user/owned`, 0, 0);
  await Deno.remove(`${rootimg}/etc/relative-link`);
  await Deno.symlink("../usr/bin/su", `${rootimg}/etc/relative-link`);
  await Deno.remove(`${rootimg}/dev/null`);
  await sh(["mknod", `${rootimg}/dev/null`, "c", "1", "5"]);
  await sh(["setcap", "cap_net_admin+ep", `${rootimg}/usr/bin/tool`]);
  await Deno.remove(`${rootimg}/usr/bin/second`);
  await Deno.copyFile(`${rootimg}/usr/bin/first`, `${rootimg}/usr/bin/second`);
  await Deno.chmod(`${rootimg}/usr/bin/second`, 0o755);
  await Deno.remove(`${rootimg}/etc/empty`);
  await Deno.mkdir(`${rootimg}/etc/empty`);
  await Deno.writeTextFile(`${rootimg}/etc/motd`, "welcome\n");
  await Deno.remove(`${rootimg}/usr/share/man/man8/mount.8`);
}

/**
 * What changeEveryKind changes, as `path: fields` lines (added and removed as `+ path`,
 * `- path`), for an area that records xattrs (`xattrs`) or not.
 */
export function everyKindExpected(xattrs: boolean): string[] {
  return [
    "dev/null: device",
    "etc/empty: type",
    "etc/hostname: content",
    "+ etc/motd",
    "etc/passwd: content,size",
    "etc/relative-link: target",
    "home/user/owned: owner",
    "usr/bin/second: hardlink",
    "usr/bin/su: mode",
    ...(xattrs ? ["usr/bin/tool: xattrs"] : []),
    "- usr/share/man/man8/mount.8",
  ];
}
