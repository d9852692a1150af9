// Real PXE clients boot what nodeset wrote: iPXE, pxelinux and grub2 (OVMF) under QEMU, each
// through osimg's netboot initrd into the image nodeset pointed it at.
// Heavy: run alone, `flock /work/wt/heavy.lock deno test -A core/nodeset/nodeset_boot_test.ts`.

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { buildNetbootInitrd } from "../genimage/netboot_initrd.ts";
import { systemRunner } from "../process.ts";
import {
  bootGrub2Efi,
  bootIpxe,
  type BootOutcome,
  bootPxelinux,
  GUEST_IP,
  HOST_FROM_GUEST,
  installGrub2Efi,
  installPxelinux,
  serveRoot,
} from "../../testdata/support/boot_clients.ts";
import {
  debianKernel,
  kernelImageRoot,
  staticBusybox,
} from "../../testdata/support/debian_kernel.ts";
import { defineImage } from "../../testdata/support/pack_testing.ts";
import { type TestRoot, testRoot } from "../../testdata/support/testing.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";

const NODE = "cn01";
const IMAGE = "debian12-x86_64-netboot-compute";
/** Set on the NIC, so BOOTIF and grub.cfg-01-<mac> are known (not QEMU's default MAC). */
const MAC = "52:54:00:c0:ff:ee";

/**
 * The image's root: its /sbin/init (reached only after the initrd fetched imgurl and switched
 * to it) prints the line the boot harness waits for, with what the loader passed.
 */
async function markerRoot(rootimg: string, marker: string): Promise<void> {
  for (const dir of ["bin", "sbin", "dev", "etc", "proc"]) {
    await Deno.mkdir(`${rootimg}/${dir}`, { recursive: true });
  }
  await Deno.copyFile(staticBusybox(), `${rootimg}/bin/busybox`);
  await Deno.chmod(`${rootimg}/bin/busybox`, 0o755);
  await Deno.symlink("busybox", `${rootimg}/bin/sh`);
  await Deno.writeTextFile(
    `${rootimg}/sbin/init`,
    [
      "#!/bin/sh",
      "/bin/busybox mount -t proc proc /proc",
      "for arg in $(/bin/busybox cat /proc/cmdline); do",
      '  case "$arg" in NODE=*) NODE="${arg#NODE=}" ;; BOOTIF=*) BOOTIF="${arg#BOOTIF=}" ;; esac',
      "done",
      `echo "${marker} NODE=$NODE BOOTIF=$BOOTIF CMDLINE=$(/bin/busybox cat /proc/cmdline)"`,
      "/bin/busybox poweroff -f",
      "",
    ].join("\n"),
  );
  await Deno.chmod(`${rootimg}/sbin/init`, 0o755);
}

/**
 * A management node in a test root: a packed netboot image with Debian's kernel and osimg's
 * netboot initrd, and node cn01 (QEMU's first guest address) booting by `netboot`, with the
 * master at the address QEMU's user network gives the host and httpport the loopback server's.
 */
async function managementNode(
  t: TestRoot,
  netboot: string,
  marker: string,
  httpPort: number,
): Promise<void> {
  const { rootimgHost, dirHost } = await defineImage(t.root, IMAGE);
  await markerRoot(rootimgHost, marker);
  await t.ok(["packimage", "-m", "cpio", "-c", "gzip", IMAGE]);
  const kernel = await debianKernel();
  await Deno.copyFile(kernel.vmlinuz, `${dirHost}/kernel`);
  const image = await kernelImageRoot();
  try {
    await buildNetbootInitrd(systemRunner, {
      rootimg: image.rootimg,
      kernelVersion: image.kernelVersion,
      drivers: ["virtio_pci", "virtio_net"],
      optionalDrivers: [],
      mtime: 0,
    }, `${dirHost}/initrd-stateless.gz`);
  } finally {
    await Deno.remove(image.rootimg, { recursive: true });
  }
  await t.ok([
    "chdef",
    "-t",
    "site",
    "-o",
    "clustersite",
    `master=${HOST_FROM_GUEST}`,
    `httpport=${httpPort}`,
  ]);
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    NODE,
    "groups=compute",
    `mac=${MAC}`,
    `ip=${GUEST_IP}`,
    `netboot=${netboot}`,
    "serialport=0",
    "serialspeed=115200",
  ]);
  const { stdout } = await t.ok(["nodeset", NODE, `osimage=${IMAGE}`]);
  // xCAT's currstate names <os>-<arch>-<profile>; defineImage sets os "test", profile the image.
  strictEqual(stdout, `${NODE}: netboot test-x86_64-${IMAGE}\n`);
}

/** The failure message: how far the guest got. */
function tail(outcome: BootOutcome): string {
  return `no marker after ${outcome.seconds} s; serial console tail:\n${
    outcome.serial.slice(-4000)
  }`;
}

/** What every boot must show: the image's own init ran, with nodeset's arguments. */
function assertBooted(outcome: BootOutcome, bootif: string): void {
  ok(outcome.report, tail(outcome));
  strictEqual(outcome.report.node, NODE);
  strictEqual(outcome.report.bootif, bootif);
  ok(outcome.report.cmdline.includes(`imgurl=http://`), outcome.report.cmdline);
  ok(outcome.report.cmdline.includes("console=ttyS0,115200"), outcome.report.cmdline);
  ok(outcome.poweredOff, "QEMU did not end by itself after the image's poweroff");
}

heavyTest(
  "iPXE (QEMU's ROM) follows nodeset's xnba script over HTTP into the packed image",
  async () => {
    const marker = `osimg-nodeset-ipxe-${crypto.randomUUID()}`;
    await using t = await testRoot();
    await using http = serveRoot(t.root);
    await managementNode(t, "xnba", marker, http.port);

    const outcome = await bootIpxe(
      `http://${HOST_FROM_GUEST}:${http.port}/tftpboot/xcat/xnba/nodes/${NODE}`,
      { marker, mac: MAC },
    );
    console.log(`iPXE boot: ${outcome.seconds} s`);
    assertBooted(outcome, `01-${MAC.replaceAll(":", "-")}`);
    // The script, then the kernel and initrd nodeset staged, then the root the initrd fetched.
    deepStrictEqual(http.requests.map((request) => `${request.path} ${request.status}`), [
      `/tftpboot/xcat/xnba/nodes/${NODE} 200`,
      `/tftpboot/xcat/osimage/${IMAGE}/kernel 200`,
      `/tftpboot/xcat/osimage/${IMAGE}/initrd-stateless.gz 200`,
      `//install/netboot/test/x86_64/${IMAGE}/rootimg.cpio.gz 200`,
    ]);
  },
);

heavyTest(
  "pxelinux reads nodeset's pxelinux.cfg/<HEXIP> over TFTP into the packed image",
  async () => {
    const marker = `osimg-nodeset-pxelinux-${crypto.randomUUID()}`;
    await using t = await testRoot();
    await using http = serveRoot(t.root);
    await managementNode(t, "pxe", marker, http.port);
    installPxelinux(`${t.root}/tftpboot`);

    const outcome = await bootPxelinux(`${t.root}/tftpboot`, { marker, mac: MAC });
    console.log(`pxelinux boot: ${outcome.seconds} s`);
    // IPAPPEND 2: pxelinux appends the boot NIC's MAC as BOOTIF=01-<mac with dashes>.
    assertBooted(outcome, `01-${MAC.replaceAll(":", "-")}`);
    deepStrictEqual(http.requests.map((request) => `${request.path} ${request.status}`), [
      `//install/netboot/test/x86_64/${IMAGE}/rootimg.cpio.gz 200`,
    ]);
  },
);

heavyTest(
  "grub2 EFI (OVMF) reads nodeset's grub.cfg-01-<mac> over TFTP into the packed image",
  async () => {
    const marker = `osimg-nodeset-grub2-${crypto.randomUUID()}`;
    await using t = await testRoot();
    await using http = serveRoot(t.root);
    await managementNode(t, "grub2", marker, http.port);
    await installGrub2Efi(`${t.root}/tftpboot`);
    // grub2 tries grub.cfg-01-<mac> first: the HEXIP link is removed so the boot proves it.
    await Deno.remove(`${t.root}/tftpboot/boot/grub2/grub.cfg-0A00020F`);

    const outcome = await bootGrub2Efi(`${t.root}/tftpboot`, `/boot/grub2/grub2-${NODE}`, {
      marker,
      mac: MAC,
    });
    console.log(`grub2 EFI boot: ${outcome.seconds} s`);
    // grub2 expands $net_default_mac: the MAC with colons.
    assertBooted(outcome, MAC);
    deepStrictEqual(http.requests.map((request) => `${request.path} ${request.status}`), [
      `//install/netboot/test/x86_64/${IMAGE}/rootimg.cpio.gz 200`,
    ]);
  },
);
