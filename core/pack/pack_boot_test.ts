// The kernel accepts what packimage writes: QEMU (TCG) boots Debian's kernel with our initramfs.

import { ok } from "node:assert/strict";
import { existsSync } from "node:fs";
import { testRoot } from "../../testdata/support/testing.ts";
import { defineImage } from "../../testdata/support/pack_testing.ts";
import { sh } from "../../testdata/support/process.ts";

/**
 * Where Debian's kernel package is downloaded and unpacked, once per machine. Outside the
 * checkout on purpose: a kernel must never be committed.
 */
const KERNEL_CACHE = "/tmp/osimg-kernel-cache";
const BOOT_TIMEOUT_MS = 150_000;

/** Debian's current amd64 kernel (the package linux-image-amd64 depends on), unpacked. */
async function debianKernel(): Promise<{ vmlinuz: string; config: string }> {
  const unpacked = `${KERNEL_CACHE}/unpacked/boot`;
  const find = () => {
    if (!existsSync(unpacked)) return undefined;
    const names = [...Deno.readDirSync(unpacked)].map((entry) => entry.name).sort();
    const vmlinuz = names.find((name) => name.startsWith("vmlinuz-"));
    const config = names.find((name) => name.startsWith("config-"));
    return vmlinuz && config
      ? { vmlinuz: `${unpacked}/${vmlinuz}`, config: `${unpacked}/${config}` }
      : undefined;
  };
  const cached = find();
  if (cached) return cached;
  Deno.mkdirSync(KERNEL_CACHE, { recursive: true });
  const depends = await sh(["apt-cache", "depends", "linux-image-amd64"]);
  const versioned = /Depends: (linux-image-[0-9][^\s]*-amd64)/.exec(depends)?.[1];
  if (!versioned) throw new Error(`cannot tell which kernel linux-image-amd64 wants:\n${depends}`);
  await sh(["apt-get", "download", "-q", versioned], { cwd: KERNEL_CACHE });
  const deb = [...Deno.readDirSync(KERNEL_CACHE)].map((entry) => entry.name)
    .find((name) => name.startsWith(versioned) && name.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download ${versioned} left no .deb in ${KERNEL_CACHE}`);
  await sh(["dpkg-deb", "-x", `${KERNEL_CACHE}/${deb}`, `${KERNEL_CACHE}/unpacked`]);
  return find()!;
}

/** A static busybox from Debian's busybox-static package. */
function staticBusybox(): string {
  for (const path of ["/usr/bin/busybox", "/bin/busybox"]) {
    if (existsSync(path)) return path;
  }
  throw new Error("busybox is missing: apt-get install busybox-static");
}

/**
 * Builds a tiny root: busybox, /dev/console, a hard-linked pair and an /init that prints a
 * marker (read through the second hard link, so the kernel's link handling is checked too)
 * and powers off.
 */
async function buildBootRoot(rootimg: string, marker: string): Promise<void> {
  for (const dir of ["bin", "dev", "etc", "proc"]) {
    Deno.mkdirSync(`${rootimg}/${dir}`, { recursive: true });
  }
  Deno.copyFileSync(staticBusybox(), `${rootimg}/bin/busybox`);
  Deno.chmodSync(`${rootimg}/bin/busybox`, 0o755);
  Deno.symlinkSync("busybox", `${rootimg}/bin/sh`);
  await sh(["mknod", "-m", "600", `${rootimg}/dev/console`, "c", "5", "1"]);
  Deno.writeTextFileSync(`${rootimg}/etc/marker`, `${marker}\n`);
  Deno.linkSync(`${rootimg}/etc/marker`, `${rootimg}/etc/marker-link`);
  Deno.writeTextFileSync(
    `${rootimg}/init`,
    [
      "#!/bin/sh",
      "/bin/busybox mount -t proc proc /proc",
      'echo "MARKER: $(/bin/busybox cat /etc/marker-link)"',
      "/bin/busybox poweroff -f",
      "",
    ].join("\n"),
  );
  Deno.chmodSync(`${rootimg}/init`, 0o755);
}

/** Boots QEMU (software emulation) and returns the serial console text once `marker` shows. */
async function boot(vmlinuz: string, initrd: string, marker: string): Promise<string> {
  const child = new Deno.Command("qemu-system-x86_64", {
    args: [
      "-nographic",
      "-no-reboot",
      "-m",
      "256",
      "-kernel",
      vmlinuz,
      "-initrd",
      initrd,
      "-append",
      "console=ttyS0 panic=-1 rdinit=/init quiet",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let serial = "";
  const decoder = new TextDecoder();
  const timer = setTimeout(() => child.kill("SIGKILL"), BOOT_TIMEOUT_MS);
  try {
    for await (const chunk of child.stdout) {
      serial += decoder.decode(chunk, { stream: true });
      if (serial.includes(`MARKER: ${marker}`)) break;
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

for (const compression of ["gzip", "zstd", "xz"] as const) {
  Deno.test(`QEMU boots Debian's kernel with packimage's cpio (${compression})`, async () => {
    const { vmlinuz, config } = await debianKernel();
    const option = { gzip: "CONFIG_RD_GZIP", zstd: "CONFIG_RD_ZSTD", xz: "CONFIG_RD_XZ" }[
      compression
    ];
    // Debian's kernel config decides which initramfs compressions it can unpack.
    ok(
      Deno.readTextFileSync(config).includes(`${option}=y`),
      `${config} lacks ${option}=y: this kernel cannot unpack a ${compression} initramfs`,
    );
    const t = await testRoot();
    await using _ = t;
    const { rootimgHost, dirHost } = await defineImage(t.root, "boot");
    const marker = `osimg-${compression}-${crypto.randomUUID()}`;
    await buildBootRoot(rootimgHost, marker);
    await t.ok(["packimage", "-c", compression, "boot"]);
    const suffix = { gzip: "gz", zstd: "zst", xz: "xz" }[compression];
    const serial = await boot(vmlinuz, `${dirHost}/rootimg.cpio.${suffix}`, marker);
    ok(
      serial.includes(`MARKER: ${marker}`),
      `the marker did not appear on the serial console:\n${serial.slice(-3000)}`,
    );
  });
}
