// The netboot initrd boots for real: QEMU runs Debian's kernel with it, and it fetches the root.

import { ok } from "node:assert/strict";
import { buildNetbootInitrd } from "./netboot_initrd.ts";
import { systemRunner } from "../process.ts";
import {
  bootQemu,
  debianKernel,
  kernelImageRoot,
  staticBusybox,
} from "../../testdata/support/debian_kernel.ts";
import { serveRoot } from "../../testdata/support/boot_clients.ts";
import { defineImage } from "../../testdata/support/pack_testing.ts";
import { testRoot } from "../../testdata/support/testing.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";

const BOOT_TIMEOUT_MS = 240_000;
const MAC = "52:54:00:0a:0b:0c";

/** A root whose /sbin/init prints the marker, proving the switch to the fetched root. */
async function markerRoot(rootimg: string, marker: string): Promise<void> {
  for (const dir of ["bin", "sbin", "dev", "etc", "proc", "sys"]) {
    await Deno.mkdir(`${rootimg}/${dir}`, { recursive: true });
  }
  await Deno.copyFile(staticBusybox(), `${rootimg}/bin/busybox`);
  await Deno.chmod(`${rootimg}/bin/busybox`, 0o755);
  await Deno.symlink("busybox", `${rootimg}/bin/sh`);
  await Deno.writeTextFile(
    `${rootimg}/sbin/init`,
    `#!/bin/sh\n/bin/busybox echo "MARKER: ${marker} on $(/bin/busybox cat /etc/hostname)"\n/bin/busybox poweroff -f\n`,
  );
  await Deno.chmod(`${rootimg}/sbin/init`, 0o755);
}

/** Packs a marker root with `packArgs`, builds the initrd, boots, returns the console and log. */
async function netboot(
  packArgs: string[],
  archive: (dirHost: string) => string,
  until: (serial: string, marker: string) => boolean,
): Promise<{ serial: string; marker: string; log: string[] }> {
  const kernel = await debianKernel();
  const t = await testRoot();
  await using _ = t;
  const { rootimgHost, dirHost, rootimgdir } = await defineImage(t.root, "boot");
  const marker = `osimg-netboot-${crypto.randomUUID()}`;
  await markerRoot(rootimgHost, marker);
  await t.ok(["packimage", ...packArgs, "boot"]);
  const image = await kernelImageRoot();
  try {
    await buildNetbootInitrd(systemRunner, {
      rootimg: image.rootimg,
      kernelVersion: image.kernelVersion,
      drivers: ["virtio_pci", "virtio_net"],
      optionalDrivers: ["squashfs", "loop", "overlay"],
      mtime: 0,
    }, `${dirHost}/initrd-stateless.gz`);
  } finally {
    await Deno.remove(image.rootimg, { recursive: true });
  }
  await using server = serveRoot(t.root);
  const url = `http://10.0.2.2:${server.port}${rootimgdir}/${archive(dirHost)}`;
  const serial = await bootQemu({
    vmlinuz: kernel.vmlinuz,
    initrd: `${dirHost}/initrd-stateless.gz`,
    append: `imgurl=${url} XCAT=10.0.2.2:3001 NODE=cn01 BOOTIF=01-${MAC.replaceAll(":", "-")} ` +
      `console=ttyS0 panic=-1 quiet`,
    args: ["-nic", `user,model=virtio-net-pci,mac=${MAC}`],
    memoryMiB: 512,
    until: (text) => until(text, marker),
    timeoutMs: BOOT_TIMEOUT_MS,
  });
  return {
    serial,
    marker,
    log: server.requests.map((request) => `${request.method} ${request.path} ${request.status}`),
  };
}

heavyTest(
  "QEMU netboots: the initrd fetches rootimg.cpio.gz over HTTP and switches to its init",
  async () => {
    const { serial, marker, log } = await netboot(
      ["-m", "cpio", "-c", "gzip"],
      () => "rootimg.cpio.gz",
      (text, marker) =>
        text.includes(`MARKER: ${marker} on cn01`) || text.includes("osimg: no network interface"),
    );
    ok(
      serial.includes(`MARKER: ${marker} on cn01`),
      `no marker on the console:\n${serial.slice(-4000)}`,
    );
    ok(log.some((line) => /^GET \/install\/.*\/rootimg\.cpio\.gz 200$/.test(line)), log.join("\n"));
  },
);

heavyTest(
  "QEMU netboots: the initrd mounts rootimg.sfs with a tmpfs overlay and switches to it",
  async () => {
    const { serial, marker, log } = await netboot(
      ["-m", "squashfs"],
      () => "rootimg.sfs",
      (text, marker) =>
        text.includes(`MARKER: ${marker} on cn01`) || text.includes("osimg: no network interface"),
    );
    ok(
      serial.includes(`MARKER: ${marker} on cn01`),
      `no marker on the console:\n${serial.slice(-4000)}`,
    );
    ok(log.some((line) => /^GET \/install\/.*\/rootimg\.sfs 200$/.test(line)), log.join("\n"));
  },
);

heavyTest(
  "QEMU netboots: a wrong imgurl prints a clear console error and retries, no panic",
  async () => {
    const { serial, log } = await netboot(
      ["-m", "cpio", "-c", "gzip"],
      () => "rootimg-missing.cpio.gz",
      (text) => text.includes("(attempt 2); retrying"),
    );
    ok(
      /osimg: could not fetch and unpack http:\/\/10\.0\.2\.2:\d+\/.*rootimg-missing\.cpio\.gz \(attempt 1\); retrying in 5 s/
        .test(serial),
      serial.slice(-4000),
    );
    ok(serial.includes("(attempt 2)"), serial.slice(-4000));
    ok(!/Kernel panic/.test(serial), serial.slice(-4000));
    ok(
      log.filter((line) => line.endsWith("rootimg-missing.cpio.gz 404")).length >= 2,
      log.join("\n"),
    );
  },
);
