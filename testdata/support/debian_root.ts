// Test support: one real Debian root (debootstrap minbase plus packages, through genimage's apt
// provider), built once per mirror, suite and package list and shared by every heavy test.
//
// The mirror is the one this machine's apt uses (/etc/apt/sources.list, sources.list.d/*.list
// and deb822 *.sources), never a host written here. The root is cached under
// $OSIMG_TEST_CACHE (default /var/tmp/osimg-test-cache), so a CI run builds it once; a test that
// changes it works on a copy (copyDebianRoot).

import { createHash } from "node:crypto";
import { installPackages } from "../../core/genimage/packages.ts";
import { readPackageList } from "../../formats/xcat/pkglist.ts";
import { debianMirror, osversOf } from "../../core/genimage/apt_mirror.ts";
import { imageTargetOf } from "../../providers/distros/distros.ts";
import { packageContext } from "./package_testing.ts";
import { run } from "./process.ts";

export type { AptSource } from "../../formats/linux/apt_sources.ts";
export { parseAptSources } from "../../formats/linux/apt_sources.ts";
export { debianMirror, osversOf };

/** What the shared root holds. */
export interface DebianRootOptions {
  /** The pkglist text (xCAT syntax) installed over the minbase (default: less, then busybox-static). */
  pkglist?: string;
}

export const DEFAULT_DEBIAN_PKGLIST = "less\n#NEW_INSTALL_LIST#\nbusybox-static\n";

/**
 * A root that boots by itself and serves as a golden client: Debian's kernel, systemd as init,
 * busybox for osimg's netboot initrd, and sshd and rsync for imgcapture and sysclone to reach it.
 * The genimage, imgcapture and sysclone tests share it so they hit one cache entry.
 */
export const BOOTABLE_DEBIAN_PKGLIST =
  "linux-image-amd64\nsystemd-sysv\nbusybox-static\nopenssh-server\nrsync\n";

/** The cache directory of the shared roots. */
export function testCacheDir(): string {
  return Deno.env.get("OSIMG_TEST_CACHE") ?? "/var/tmp/osimg-test-cache";
}

/**
 * A Debian root (its path: treat it as read-only) built by genimage's apt provider —
 * debootstrap --variant=minbase with the first pass, apt-get in the chroot for the rest — from
 * this machine's mirror. Built once per mirror, suite and pkglist; concurrent callers wait for
 * the one that builds it.
 */
export async function debianRoot(options: DebianRootOptions = {}): Promise<string> {
  const pkglist = options.pkglist ?? DEFAULT_DEBIAN_PKGLIST;
  const mirror = await debianMirror();
  const osvers = osversOf(mirror.suite);
  const key = createHash("sha256")
    .update(JSON.stringify(["v1", mirror.url, mirror.suite, pkglist]))
    .digest("hex")
    .slice(0, 16);
  const dir = `${testCacheDir()}/debian-${mirror.suite}-${key}`;
  await Deno.mkdir(dir, { recursive: true });
  const lock = await Deno.open(`${dir}/.lock`, { create: true, write: true });
  try {
    await lock.lock(true);
    const rootimg = `${dir}/rootimg`;
    if (await Deno.stat(`${dir}/complete`).then(() => true, () => false)) return rootimg;
    const staging = `${dir}/build/rootimg`;
    await Deno.remove(`${dir}/build`, { recursive: true }).catch(() => {});
    await Deno.remove(rootimg, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${dir}/build`, { recursive: true });
    const image = imageTargetOf(osvers)!;
    await installPackages(packageContext(dir), {
      root: staging,
      osvers,
      arch: "x86_64",
      release: image.release,
      packageManager: image.build.packageManager(image.release),
      pkglist: await readPackageList("/pkglist", {
        read: (path) => Promise.resolve(path === "/pkglist" ? pkglist : undefined),
      }),
      pkgdir: `${mirror.url} ${mirror.suite} ${mirror.components.join(" ")}`,
    });
    await Deno.rename(staging, rootimg);
    await Deno.remove(`${dir}/build`, { recursive: true });
    await Deno.writeTextFile(`${dir}/complete`, `${mirror.url} ${mirror.suite}\n${pkglist}`);
    return rootimg;
  } finally {
    lock.close();
  }
}

/** A private copy of the shared root at `dest` (cp -a: owners, modes, links, devices kept). */
export async function copyDebianRoot(dest: string, options: DebianRootOptions = {}): Promise<void> {
  const source = await debianRoot(options);
  await run(["cp", "-a", source, dest]);
}
