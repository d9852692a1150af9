// The kernel accepts what packimage writes: QEMU (TCG) boots Debian's kernel with our initramfs.

import { ok } from "node:assert/strict";
import { testRoot } from "../../testdata/support/testing.ts";
import { defineImage } from "../../testdata/support/pack_testing.ts";
import { sh } from "../../testdata/support/process.ts";
import { bootQemu, debianKernel, staticBusybox } from "../../testdata/support/debian_kernel.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";

const BOOT_TIMEOUT_MS = 150_000;

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
function boot(vmlinuz: string, initrd: string, marker: string): Promise<string> {
  return bootQemu({
    vmlinuz,
    initrd,
    append: "console=ttyS0 panic=-1 rdinit=/init quiet",
    until: (serial) => serial.includes(`MARKER: ${marker}`),
    timeoutMs: BOOT_TIMEOUT_MS,
  });
}

for (const compression of ["gzip", "zstd", "xz"] as const) {
  heavyTest(`QEMU boots Debian's kernel with packimage's cpio (${compression})`, async () => {
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
