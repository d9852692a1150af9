// Test support for genimage: image definitions on a temporary root, an offline rpm site, and a
// postinstall that puts Debian's real kernel, its modules and a static busybox into the root.

import { debianKernel, staticBusybox } from "./debian_kernel.ts";
import { defineRows } from "./pack_testing.ts";
import { buildRpmRepository } from "./package_testing.ts";
import { sh } from "./process.ts";
import type { Row } from "../../core/store/store.ts";

/** Where the test images live (xCAT's default layout). */
export function rootimgdirOf(osvers: string, profile: string): string {
  return `/install/netboot/${osvers}/x86_64/${profile}`;
}

/** Writes `text` at the management-node path `path` under `root` (mode optional). */
export async function writeSiteFile(
  root: string,
  path: string,
  text: string,
  mode = 0o644,
): Promise<string> {
  await Deno.mkdir(`${root}${path.replace(/\/[^/]*$/, "")}`, { recursive: true });
  await Deno.writeTextFile(`${root}${path}`, text);
  await Deno.chmod(`${root}${path}`, mode);
  return path;
}

/** Defines the osimage `name` (osimage and linuximage rows) for genimage. */
export async function defineGenimageImage(
  root: string,
  name: string,
  osimage: Row,
  linuximage: Row = {},
): Promise<void> {
  await defineRows(root, {
    osimage: [{ imagename: name, imagetype: "linux", provmethod: "netboot", ...osimage }],
    linuximage: [{ imagename: name, ...linuximage }],
  });
}

/**
 * Puts a bootable payload into `rootimg` (a host path) as a distro's kernel package and busybox
 * would: /boot/vmlinuz-<v>, /lib/modules/<v> (hard-linked from the cached Debian kernel; it is
 * ~400 MB) and /usr/bin/busybox. Returns the kernel version.
 */
export async function addKernelPayload(rootimg: string): Promise<string> {
  const kernel = await debianKernel();
  await Deno.mkdir(`${rootimg}/boot`, { recursive: true });
  await Deno.mkdir(`${rootimg}/usr/lib/modules`, { recursive: true });
  await Deno.mkdir(`${rootimg}/usr/bin`, { recursive: true });
  for (const [link, target] of [["lib", "usr/lib"], ["bin", "usr/bin"]]) {
    if (!(await Deno.lstat(`${rootimg}/${link}`).catch(() => undefined))) {
      await Deno.symlink(target!, `${rootimg}/${link}`);
    }
  }
  await Deno.copyFile(kernel.vmlinuz, `${rootimg}/boot/vmlinuz-${kernel.version}`);
  await Deno.copyFile(staticBusybox(), `${rootimg}/usr/bin/busybox`);
  await Deno.chmod(`${rootimg}/usr/bin/busybox`, 0o755);
  await sh([
    "cp",
    "-al",
    `${kernel.root}/lib/modules/${kernel.version}`,
    `${rootimg}/usr/lib/modules/`,
  ]);
  return kernel.version;
}

/**
 * An offline RHEL-like site under `root`: an rpm-md media tree at /install/rocky9.3/x86_64 with
 * two small packages, a pkglist naming them, and a postinstall script that records its
 * arguments and IMG_* environment in the root, copies a kernel payload in (a real rocky kernel
 * rpm is not available offline) and runs `extra` (shell) last.
 */
export async function rpmSite(
  root: string,
  name: string,
  extra = "",
): Promise<{ rootimgdir: string; kernelVersion: string }> {
  await buildRpmRepository(`${root}/install/rocky9.3/x86_64/BaseOS`, [
    { name: "osimg-alpha", requires: ["osimg-beta"] },
    { name: "osimg-beta" },
  ]);
  await writeSiteFile(root, "/install/custom/netboot/rh/compute.pkglist", "osimg-alpha\n");
  const kernel = await debianKernel();
  // The payload is staged once beside the site, then hard-linked in by the postinstall.
  const payload = `${root}/payload`;
  await Deno.mkdir(payload, { recursive: true });
  await addKernelPayload(payload);
  await writeSiteFile(
    root,
    "/install/custom/netboot/rh/compute.postinstall",
    `#!/bin/sh\n` +
      `set -e\n` +
      `echo "args: $*" > "$1/postinstall.out"\n` +
      `env | grep '^IMG_' | sort >> "$1/postinstall.out"\n` +
      `cp -al ${payload}/. "$1/"\n` +
      `grep -q '^proc ' /proc/self/mounts && awk '{print $2}' /proc/self/mounts | grep -F "$1/" ` +
      `| sort > "$1/postinstall.mounts" || true\n` +
      `echo "postinstall for $IMG_NAME done"\n` +
      extra,
    0o755,
  );
  const rootimgdir = rootimgdirOf("rocky9.3", "compute");
  await defineGenimageImage(root, name, {
    osvers: "rocky9.3",
    osarch: "x86_64",
    profile: "compute",
  }, {
    pkglist: "/install/custom/netboot/rh/compute.pkglist",
    pkgdir: "/install/rocky9.3/x86_64",
    postinstall: "/install/custom/netboot/rh/compute.postinstall",
  });
  return { rootimgdir, kernelVersion: kernel.version };
}

/** Mount points at or below `dir` that this process sees. */
export async function mountsBelow(dir: string): Promise<string[]> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return text.split("\n").map((line) => line.split(" ")[4] ?? "").filter((point) =>
    point === dir || point.startsWith(`${dir}/`)
  );
}
