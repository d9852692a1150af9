// Test fixture: Debian's own amd64 kernel and modules, downloaded once per machine, and QEMU runs.

import { existsSync } from "node:fs";
import { sh } from "./process.ts";

/** Where downloaded kernels are kept between runs: per user, outside the checkout and /tmp. */
function cacheDir(): string {
  const home = Deno.env.get("HOME");
  const base = Deno.env.get("XDG_CACHE_HOME") ?? (home ? `${home}/.cache` : "/var/tmp");
  return `${base}/osimg-test`;
}

/** Debian's kernel package, unpacked: the image and the module tree of one version. */
export interface DebianKernel {
  /** "6.1.0-57-amd64" */
  version: string;
  vmlinuz: string;
  config: string;
  /** The unpacked package's root: lib/modules/<version> with modules.dep (depmod ran). */
  root: string;
}

let kernelPromise: Promise<DebianKernel> | undefined;

/**
 * Debian's current amd64 kernel (the package linux-image-amd64 depends on), unpacked with its
 * modules. Downloaded with `apt-get download` once per machine and package version, shared by
 * every test of a run. A kernel must never be committed, so it lives outside the checkout.
 */
export function debianKernel(): Promise<DebianKernel> {
  kernelPromise ??= fetchDebianKernel();
  return kernelPromise;
}

async function fetchDebianKernel(): Promise<DebianKernel> {
  const depends = await sh(["apt-cache", "depends", "linux-image-amd64"]);
  const pkg = /Depends: (linux-image-[0-9][^\s]*-amd64)\b/.exec(depends)?.[1];
  if (!pkg) throw new Error(`cannot tell which kernel linux-image-amd64 wants:\n${depends}`);
  const version = (await sh(["apt-cache", "policy", pkg])).match(/Candidate: (\S+)/)?.[1];
  if (!version || version === "(none)") throw new Error(`apt-cache knows no version of ${pkg}`);
  const kernelVersion = pkg.slice("linux-image-".length);
  // The cache key names the exact package version, so a kernel update fetches the new one.
  const dir = `${cacheDir()}/${pkg}_${version.replaceAll(":", "%3a")}.unpacked`;
  const found: DebianKernel = {
    version: kernelVersion,
    vmlinuz: `${dir}/boot/vmlinuz-${kernelVersion}`,
    config: `${dir}/boot/config-${kernelVersion}`,
    root: dir,
  };
  if (existsSync(`${dir}/lib/modules/${kernelVersion}/modules.dep`)) return found;
  Deno.mkdirSync(cacheDir(), { recursive: true });
  // Built in a private directory and renamed into place: test files running in parallel may
  // both fetch, and neither ever sees half a cache entry.
  const work = await Deno.makeTempDir({ dir: cacheDir(), prefix: ".fetch-" });
  try {
    await sh(["apt-get", "download", "-q", `${pkg}=${version}`], { cwd: work });
    const deb = [...Deno.readDirSync(work)].find((entry) => entry.name.endsWith(".deb"))?.name;
    if (!deb) throw new Error(`apt-get download ${pkg}=${version} left no .deb in ${work}`);
    await sh(["dpkg-deb", "-x", `${work}/${deb}`, `${work}/unpacked`]);
    // dpkg-deb -x does not run the package's postinst, so depmod is run here once.
    await sh(["depmod", "-b", `${work}/unpacked`, kernelVersion]);
    try {
      Deno.renameSync(`${work}/unpacked`, dir);
    } catch (error) {
      // Another test process won the race: its entry is as good as ours.
      if (!existsSync(`${dir}/lib/modules/${kernelVersion}/modules.dep`)) throw error;
    }
    if (!existsSync(found.vmlinuz)) throw new Error(`${pkg} has no /boot/vmlinuz-${kernelVersion}`);
    return found;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
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
