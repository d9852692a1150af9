// Test fixture: Debian's own amd64 kernel and modules, downloaded once per machine, and QEMU runs.

import { existsSync } from "node:fs";
import { sh } from "./process.ts";

/**
 * Where Debian's kernel package is downloaded and unpacked, once per machine. Outside the
 * checkout on purpose: a kernel must never be committed.
 */
const KERNEL_CACHE = "/tmp/osimg-kernel-cache";

/** Debian's kernel package, unpacked: the image and the module tree of one version. */
export interface DebianKernel {
  /** "6.1.0-57-amd64" */
  version: string;
  vmlinuz: string;
  config: string;
  /** The unpacked package's root: lib/modules/<version> with modules.dep (depmod ran). */
  root: string;
}

/** Debian's current amd64 kernel (the package linux-image-amd64 depends on), unpacked. */
export async function debianKernel(): Promise<DebianKernel> {
  const root = `${KERNEL_CACHE}/unpacked`;
  const find = (): DebianKernel | undefined => {
    if (!existsSync(`${root}/boot`)) return undefined;
    const names = [...Deno.readDirSync(`${root}/boot`)].map((entry) => entry.name).sort();
    const vmlinuz = names.find((name) => name.startsWith("vmlinuz-"));
    const config = names.find((name) => name.startsWith("config-"));
    if (!vmlinuz || !config) return undefined;
    const version = vmlinuz.slice("vmlinuz-".length);
    // dpkg-deb -x does not run the package's postinst, so depmod is run here once.
    if (!existsSync(`${root}/lib/modules/${version}/modules.dep`)) return undefined;
    return { version, vmlinuz: `${root}/boot/${vmlinuz}`, config: `${root}/boot/${config}`, root };
  };
  const cached = find();
  if (cached) return cached;
  Deno.mkdirSync(KERNEL_CACHE, { recursive: true });
  const depends = await sh(["apt-cache", "depends", "linux-image-amd64"]);
  const versioned = /Depends: (linux-image-[0-9][^\s]*-amd64)/.exec(depends)?.[1];
  if (!versioned) throw new Error(`cannot tell which kernel linux-image-amd64 wants:\n${depends}`);
  const deb = () =>
    [...Deno.readDirSync(KERNEL_CACHE)].map((entry) => entry.name)
      .find((name) => name.startsWith(versioned) && name.endsWith(".deb"));
  if (!deb()) await sh(["apt-get", "download", "-q", versioned], { cwd: KERNEL_CACHE });
  if (!deb()) throw new Error(`apt-get download ${versioned} left no .deb in ${KERNEL_CACHE}`);
  await sh(["dpkg-deb", "-x", `${KERNEL_CACHE}/${deb()}`, root]);
  const version = versioned.slice("linux-image-".length);
  await sh(["depmod", "-b", root, version]);
  const found = find();
  if (!found) {
    throw new Error(`${versioned} unpacked into ${root} has no vmlinuz, config or modules`);
  }
  return found;
}

/** A static busybox from Debian's busybox-static package. */
export function staticBusybox(): string {
  for (const path of ["/usr/bin/busybox", "/bin/busybox"]) {
    if (existsSync(path)) return path;
  }
  throw new Error("busybox is missing: apt-get install busybox-static");
}

/**
 * A stand-in image root: merged /usr as Debian lays it out, the host's static busybox, and the
 * module tree of Debian's real kernel (hard-linked, not copied: it is ~400 MB).
 */
export async function kernelImageRoot(): Promise<{ rootimg: string; kernelVersion: string }> {
  const kernel = await debianKernel();
  const rootimg = await Deno.makeTempDir({ prefix: "osimg-initrd-image-" });
  await Deno.mkdir(`${rootimg}/usr/bin`, { recursive: true });
  await Deno.mkdir(`${rootimg}/usr/lib/modules`, { recursive: true });
  await Deno.symlink("usr/bin", `${rootimg}/bin`);
  await Deno.symlink("usr/lib", `${rootimg}/lib`);
  await Deno.copyFile(staticBusybox(), `${rootimg}/usr/bin/busybox`);
  await sh([
    "cp",
    "-al",
    `${kernel.root}/lib/modules/${kernel.version}`,
    `${rootimg}/usr/lib/modules/`,
  ]);
  return { rootimg, kernelVersion: kernel.version };
}

/** One QEMU run (software emulation) of a kernel and initrd, watched on its serial console. */
export interface QemuBoot {
  vmlinuz: string;
  initrd: string;
  append: string;
  /** Extra QEMU arguments (a NIC: `-nic user,model=virtio-net-pci`). */
  args?: readonly string[];
  memoryMiB?: number;
  /** Stop when this returns true for the console text so far. */
  until: (serial: string) => boolean;
  timeoutMs: number;
}

/** Boots and returns the serial console text once `until` holds, or when QEMU ends or times out. */
export async function bootQemu(boot: QemuBoot): Promise<string> {
  const child = new Deno.Command("qemu-system-x86_64", {
    args: [
      "-nographic",
      "-no-reboot",
      "-m",
      String(boot.memoryMiB ?? 256),
      "-kernel",
      boot.vmlinuz,
      "-initrd",
      boot.initrd,
      "-append",
      boot.append,
      ...(boot.args ?? ["-nic", "none"]),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let serial = "";
  const decoder = new TextDecoder();
  const timer = setTimeout(() => child.kill("SIGKILL"), boot.timeoutMs);
  try {
    for await (const chunk of child.stdout) {
      serial += decoder.decode(chunk, { stream: true });
      if (boot.until(serial)) break;
    }
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await child.stderr.cancel().catch(() => {});
  }
  return serial;
}
