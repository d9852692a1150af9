// Real PXE clients under QEMU boot hand-written entries in xCAT's exact formats and paths.
// Heavy: run alone, `flock /work/wt/heavy.lock deno test -A testdata/support/boot_clients_test.ts`.

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  bootGrub2Efi,
  bootIpxe,
  type BootOutcome,
  bootPxelinux,
  GUEST_HEXIP,
  HOST_FROM_GUEST,
  installGrub2Efi,
  installPxelinux,
  serveRoot,
  writeMarkerInitramfs,
} from "./boot_clients.ts";
import { debianKernel } from "./debian_kernel.ts";

const NODE = "cn01";
const IMAGE = "debian12-x86_64-netboot-compute";
const STATE = "netboot debian12-x86_64-compute";
/** Set on the NIC, so BOOTIF and grub.cfg-01-<mac> are known (not QEMU's default MAC). */
const MAC = "52:54:00:c0:ff:ee";
const MAC_DASHED = MAC.replaceAll(":", "-");

/** A temp root with the image's kernel and marker initrd staged where nodeset stages them. */
async function stagedRoot(
  marker: string,
): Promise<{ root: string; tftpboot: string } & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "osimg-boot-" });
  const tftpboot = `${root}/tftpboot`;
  const imageDir = `${tftpboot}/xcat/osimage/${IMAGE}`;
  Deno.mkdirSync(imageDir, { recursive: true });
  Deno.mkdirSync(`${root}/install`);
  Deno.copyFileSync((await debianKernel()).vmlinuz, `${imageDir}/kernel`);
  await writeMarkerInitramfs(`${imageDir}/initrd-stateless.gz`, marker);
  return {
    root,
    tftpboot,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

/**
 * xCAT's stateless kernel command line (§7.2) for NODE: imgurl with the double slash of an
 * absolute rootimgdir, XCAT/NODE/FC/XCATHTTPPORT, a serial console from nodehm
 * (serialport=0, serialspeed=115200) and `quiet` from linuximage.addkcmdline, spaced as
 * xCAT's code spaces them. `server` is `${next-server}` in iPXE scripts, an IP elsewhere.
 */
function xcatKcmdline(server: string, httpPort: number): string {
  return `imgurl=http://${server}:${httpPort}//install/netboot/debian12/x86_64/compute/` +
    `rootimg.cpio.gz XCAT=${server}:3001 NODE=${NODE} FC=0 XCATHTTPPORT=${httpPort}  ` +
    "console=tty0 console=ttyS0,115200   quiet ";
}

/** The failure message: how far the guest got. */
function tail(outcome: BootOutcome): string {
  return `no marker after ${outcome.seconds} s; serial console tail:\n${
    outcome.serial.slice(-4000)
  }`;
}

Deno.test("iPXE (QEMU's ROM) runs xCAT's xnba script over HTTP and boots its kernel and initrd", async () => {
  const marker = `osimg-ipxe-${crypto.randomUUID()}`;
  await using staged = await stagedRoot(marker);
  await using http = serveRoot(staged.root);
  const nodes = `${staged.tftpboot}/xcat/xnba/nodes`;
  Deno.mkdirSync(nodes, { recursive: true });
  // xnba.pm's BIOS script; the httpport is not 80, so `:<port>` follows ${next-server}.
  const server = `\${next-server}:${http.port}`;
  Deno.writeTextFileSync(
    `${nodes}/${NODE}`,
    [
      "#!gpxe",
      `#${STATE}`,
      `imgfetch -n kernel http://${server}/tftpboot/xcat/osimage/${IMAGE}/kernel`,
      "imgload kernel",
      `imgargs kernel ${xcatKcmdline("${next-server}", http.port)} BOOTIF=01-\${netX/mac:hexhyp}`,
      `imgfetch -n initrd http://${server}/tftpboot/xcat/osimage/${IMAGE}/initrd-stateless.gz`,
      "imgexec kernel",
      "",
    ].join("\n"),
  );

  const outcome = await bootIpxe(
    `http://${HOST_FROM_GUEST}:${http.port}/tftpboot/xcat/xnba/nodes/${NODE}`,
    { marker, mac: MAC },
  );
  console.log(`iPXE boot: ${outcome.seconds} s; /proc/cmdline: ${outcome.report?.cmdline}`);

  ok(outcome.report, tail(outcome));
  strictEqual(outcome.report.node, NODE);
  // iPXE expanded its own settings: ${netX/mac:hexhyp} and ${next-server}.
  strictEqual(outcome.report.bootif, `01-${MAC_DASHED}`);
  ok(
    outcome.report.cmdline.includes(`XCAT=${HOST_FROM_GUEST}:3001`),
    outcome.report.cmdline,
  );
  ok(outcome.poweredOff, "QEMU did not end by itself after /init's poweroff");
  deepStrictEqual(http.requests, [
    { method: "GET", path: `/tftpboot/xcat/xnba/nodes/${NODE}`, status: 200 },
    { method: "GET", path: `/tftpboot/xcat/osimage/${IMAGE}/kernel`, status: 200 },
    { method: "GET", path: `/tftpboot/xcat/osimage/${IMAGE}/initrd-stateless.gz`, status: 200 },
  ]);
});

Deno.test("pxelinux reads xCAT's pxelinux.cfg/<HEXIP> link over TFTP and boots its kernel and initrd", async () => {
  const marker = `osimg-pxelinux-${crypto.randomUUID()}`;
  await using staged = await stagedRoot(marker);
  installPxelinux(staged.tftpboot);
  const config = `${staged.tftpboot}/pxelinux.cfg`;
  Deno.mkdirSync(config);
  // pxe.pm: the node's file, then a symlink named by its IP in uppercase hex (10.0.2.15).
  Deno.writeTextFileSync(
    `${config}/${NODE}`,
    [
      `#${STATE}`,
      "DEFAULT xCAT",
      "LABEL xCAT",
      ` KERNEL xcat/osimage/${IMAGE}/kernel`,
      ` APPEND initrd=xcat/osimage/${IMAGE}/initrd-stateless.gz ${
        xcatKcmdline(HOST_FROM_GUEST, 80)
      }`,
      "  IPAPPEND 2",
      "",
    ].join("\n"),
  );
  Deno.symlinkSync(NODE, `${config}/${GUEST_HEXIP}`);

  const outcome = await bootPxelinux(staged.tftpboot, { marker, mac: MAC });
  console.log(`pxelinux boot: ${outcome.seconds} s; /proc/cmdline: ${outcome.report?.cmdline}`);

  ok(outcome.report, tail(outcome));
  strictEqual(outcome.report.node, NODE);
  // IPAPPEND 2: pxelinux appends the boot NIC's MAC as BOOTIF=01-<mac with dashes>.
  strictEqual(outcome.report.bootif, `01-${MAC_DASHED}`);
  ok(outcome.poweredOff, "QEMU did not end by itself after /init's poweroff");
});

Deno.test("grub2 EFI (OVMF) reads xCAT's grub.cfg-01-<mac> over TFTP and boots its kernel and initrd", async () => {
  const marker = `osimg-grub2-${crypto.randomUUID()}`;
  await using staged = await stagedRoot(marker);
  await installGrub2Efi(staged.tftpboot);
  const grub2 = `${staged.tftpboot}/boot/grub2`;
  // grub2.pm: the node's config (no newline after the closing brace), a hard link named by the
  // MAC (lower case, dashes) and the boot binary linked per node. grub2.pm also links
  // grub.cfg-<HEXIP>, which grub2 tries only after the MAC name: it is left out here so the
  // boot proves grub2 found grub.cfg-01-<mac> (with only the HEXIP link it boots as well).
  Deno.writeTextFileSync(
    `${grub2}/${NODE}`,
    [
      `#${STATE}`,
      "set timeout=5",
      'set default="xCAT OS Deployment"',
      'menuentry "xCAT OS Deployment" {',
      "    insmod http",
      "    insmod tftp",
      `    set root=tftp,${HOST_FROM_GUEST}`,
      "    echo Loading Install kernel ...",
      `    linuxefi /xcat/osimage/${IMAGE}/kernel ${
        xcatKcmdline(HOST_FROM_GUEST, 80)
      } BOOTIF=$net_default_mac`,
      "    echo Loading initial ramdisk ...",
      `    initrdefi /xcat/osimage/${IMAGE}/initrd-stateless.gz`,
      "}",
    ].join("\n"),
  );
  Deno.linkSync(`${grub2}/${NODE}`, `${grub2}/grub.cfg-01-${MAC_DASHED}`);
  Deno.symlinkSync("grub2.x86_64", `${grub2}/grub2-${NODE}`);

  // xCAT's DHCP filename for a grub2 node.
  const outcome = await bootGrub2Efi(staged.tftpboot, `/boot/grub2/grub2-${NODE}`, {
    marker,
    mac: MAC,
  });
  console.log(`grub2 EFI boot: ${outcome.seconds} s; /proc/cmdline: ${outcome.report?.cmdline}`);

  ok(outcome.report, tail(outcome));
  strictEqual(outcome.report.node, NODE);
  // grub2 expands $net_default_mac: the MAC with colons, as xCAT's grub2 entries pass it.
  strictEqual(outcome.report.bootif, MAC);
  ok(outcome.poweredOff, "QEMU did not end by itself after /init's poweroff");
});
