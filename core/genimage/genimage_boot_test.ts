// HEAVY (run under flock /work/wt/heavy.lock): genimage of a real Debian 12 image from this
// machine's mirror, packed and netbooted in QEMU until its own systemd prints a marker.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { debianMirror, debianRoot, osversOf } from "../../testdata/support/debian_root.ts";
import { bootQemu } from "../../testdata/support/debian_kernel.ts";
import { serveRoot } from "../../testdata/support/boot_clients.ts";
import {
  defineGenimageImage,
  mountsBelow,
  rootimgdirOf,
  writeSiteFile,
} from "../../testdata/support/genimage_testing.ts";
import { run, sh } from "../../testdata/support/process.ts";
import { type TestRoot, testRoot } from "../../testdata/support/testing.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";
import { CHAIN_EXLIST, CHAIN_PKGLIST } from "../chain/boot_chain.ts";

/** The chain's image: the kernel, systemd as init, a busybox for the initrd; a lean packed root. */
const BOOT_PKGLIST = CHAIN_PKGLIST;
const BOOT_EXLIST = CHAIN_EXLIST;

const MAC = "52:54:00:0c:0d:0e";
const BOOT_TIMEOUT_MS = 600_000;
const IMAGE = "debian12-x86_64-netboot-compute";

/**
 * A postinstall that installs and enables a unit printing `marker` on the serial console once
 * multi-user.target is reached (it runs with the rootimg path as $1, as xCAT's do).
 */
function markerPostinstall(marker: string): string {
  return `#!/bin/sh
set -e
unit="$1/etc/systemd/system/osimg-marker.service"
cat > "$unit" <<'EOF'
[Unit]
Description=osimg genimage boot marker
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "OSIMG-MARKER ${marker} on $(cat /etc/hostname)" > /dev/ttyS0'

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$1/etc/systemd/system/multi-user.target.wants"
ln -sf ../osimg-marker.service "$1/etc/systemd/system/multi-user.target.wants/osimg-marker.service"
echo "$IMG_NAME: marker unit installed for kernel $IMG_KERNELVERSION"
`;
}

/**
 * The site: the image defined with the mirror as pkgdir and the marker postinstall, and its
 * rootimg seeded from the shared debootstrapped root built with the same pkglist (so the test
 * runs genimage's re-run path: apt-get update, install, upgrade, postinstall, kernel, initrd).
 */
async function debianSite(t: TestRoot, marker: string): Promise<string> {
  const mirror = await debianMirror();
  const osvers = osversOf(mirror.suite);
  const shared = await debianRoot({ pkglist: BOOT_PKGLIST });
  const rootimgdir = rootimgdirOf(osvers, "compute");
  await Deno.mkdir(`${t.root}${rootimgdir}`, { recursive: true });
  await run(["cp", "-a", shared, `${t.root}${rootimgdir}/rootimg`]);
  await writeSiteFile(t.root, "/install/custom/netboot/debian/compute.pkglist", BOOT_PKGLIST);
  await writeSiteFile(t.root, "/install/custom/netboot/debian/compute.exlist", BOOT_EXLIST);
  await writeSiteFile(
    t.root,
    "/install/custom/netboot/debian/compute.postinstall",
    markerPostinstall(marker),
    0o755,
  );
  await defineGenimageImage(t.root, IMAGE, { osvers, osarch: "x86_64", profile: "compute" }, {
    pkglist: "/install/custom/netboot/debian/compute.pkglist",
    exlist: "/install/custom/netboot/debian/compute.exlist",
    postinstall: "/install/custom/netboot/debian/compute.postinstall",
    pkgdir: `${mirror.url} ${mirror.suite} ${mirror.components.join(" ")}`,
  });
  return rootimgdir;
}

/** Boots `<rootimgdir>/kernel` + initrd-stateless.gz with imgurl= the packed root. */
async function netboot(
  t: TestRoot,
  rootimgdir: string,
  archive: string,
  marker: string,
): Promise<{ serial: string; log: string[] }> {
  await using server = serveRoot(t.root);
  const serial = await bootQemu({
    vmlinuz: `${t.root}${rootimgdir}/kernel`,
    initrd: `${t.root}${rootimgdir}/initrd-stateless.gz`,
    append: `imgurl=http://10.0.2.2:${server.port}${rootimgdir}/${archive} XCAT=10.0.2.2:3001 ` +
      `NODE=cn01 BOOTIF=01-${MAC.replaceAll(":", "-")} console=ttyS0 panic=-1`,
    args: ["-nic", `user,model=virtio-net-pci,mac=${MAC}`],
    memoryMiB: 1536,
    until: (text) => text.includes(`OSIMG-MARKER ${marker} on cn01`) || /Kernel panic/.test(text),
    timeoutMs: BOOT_TIMEOUT_MS,
  });
  return {
    serial,
    log: server.requests.map((request) => `${request.method} ${request.path} ${request.status}`),
  };
}

heavyTest(
  "genimage builds a Debian 12 image from the machine's mirror that QEMU netboots into its own systemd, from rootimg.cpio.gz and from rootimg.sfs",
  async () => {
    await using t = await testRoot();
    const marker = `genimage-${crypto.randomUUID()}`;
    const rootimgdir = await debianSite(t, marker);
    const out = await t.ok(["genimage", IMAGE]);
    ok(out.stdout.includes("the initial ramdisk for stateless is generated successfully."));
    const dir = `${t.root}${rootimgdir}`;
    // The listed packages are in the image, postinstall ran, nothing is mounted.
    const status = await sh([
      "chroot",
      `${dir}/rootimg`,
      "dpkg-query",
      "-W",
      "-f=${db:Status-Abbrev} ${Package}\\n",
      "linux-image-amd64",
      "systemd-sysv",
      "busybox-static",
    ]);
    assertEquals(status.split("\n").filter((line) => line.startsWith("ii ")).length, 3, status);
    ok((await Deno.stat(`${dir}/rootimg/etc/systemd/system/osimg-marker.service`)).isFile);
    assertEquals(await Deno.readTextFile(`${dir}/rootimg/etc/machine-id`), "");
    assertEquals(await mountsBelow(t.root), []);

    await t.ok(["packimage", "-m", "cpio", "-c", "gzip", IMAGE]);
    const cpio = await netboot(t, rootimgdir, "rootimg.cpio.gz", marker);
    ok(
      cpio.serial.includes(`OSIMG-MARKER ${marker} on cn01`),
      `no marker on the console:\n${cpio.serial.slice(-6000)}`,
    );
    ok(cpio.log.some((line) => line.endsWith("/rootimg.cpio.gz 200")), cpio.log.join("\n"));

    await t.ok(["packimage", "-m", "squashfs", IMAGE]);
    const squashfs = await netboot(t, rootimgdir, "rootimg.sfs", marker);
    ok(
      squashfs.serial.includes(`OSIMG-MARKER ${marker} on cn01`),
      `no marker on the console:\n${squashfs.serial.slice(-6000)}`,
    );
    ok(squashfs.log.some((line) => line.endsWith("/rootimg.sfs 200")), squashfs.log.join("\n"));
    assertEquals(await mountsBelow(t.root), []);
  },
);
