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

/**
 * Packs a marker root with `packArgs`, builds the initrd, boots, returns the console and log.
 * `imgurl` makes the kernel's imgurl= from the served URL (for servers the test runs itself).
 */
async function netboot(
  packArgs: string[],
  archive: (dirHost: string) => string,
  until: (serial: string, marker: string) => boolean,
  imgurl: (served: string, rootimg: string) => Promise<string> | string = (served) => served,
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
    append: `imgurl=${await imgurl(
      url,
      `${dirHost}/${archive(dirHost)}`,
    )} XCAT=10.0.2.2:3001 NODE=cn01 BOOTIF=01-${MAC.replaceAll(":", "-")} ` +
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
      /osimg: could not fetch and unpack http:\/\/10\.0\.2\.2:\d+\/.*rootimg-missing\.cpio\.gz \(attempt 1\); retrying in [5-7] s/
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

/**
 * The first image server of a failover test: answers the rootimg request with its full
 * Content-Length, sends the first half, then drops the connection and stops listening (a server
 * that dies mid-download). `dead` is resolved once it has.
 */
function dyingServer(rootimg: Uint8Array): { port: number; dead: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = (async () => {
    const conn = await listener.accept();
    try {
      await conn.read(new Uint8Array(8192));
      const head = `HTTP/1.1 200 OK\r\nContent-Length: ${rootimg.length}\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`;
      await conn.write(new TextEncoder().encode(head));
      const half = rootimg.subarray(0, rootimg.length >> 1);
      let written = 0;
      while (written < half.length) written += await conn.write(half.subarray(written));
    } finally {
      conn.close();
      listener.close();
    }
  })();
  return { port: listener.addr.port, dead };
}

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

const failedOver = (text: string, marker: string) =>
  text.includes(`MARKER: ${marker} on cn01`) || text.includes("(attempt 3)");

heavyTest(
  "QEMU netboots: the first image server dies mid-download, the initrd clears it and boots from the second",
  async () => {
    let first: { port: number; dead: Promise<void> } | undefined;
    const { serial, marker, log } = await netboot(
      ["-m", "cpio", "-c", "gzip"],
      () => "rootimg.cpio.gz",
      failedOver,
      async (served, rootimg) => {
        first = dyingServer(await Deno.readFile(rootimg));
        const path = new URL(served).pathname;
        return `http://10.0.2.2:${first.port}${path},${served}`;
      },
    );
    await first!.dead;
    // busybox wget's own word that the body was cut short: a failure mid-download.
    ok(serial.includes("wget: connection closed prematurely"), serial.slice(-4000));
    ok(
      new RegExp(
        `osimg: could not fetch and unpack http://10\\.0\\.2\\.2:${
          first!.port
        }/\\S*rootimg\\.cpio\\.gz \\(attempt 1\\); trying the next image server`,
      ).test(serial),
      serial.slice(-4000),
    );
    ok(
      /osimg: fetching the root from http:\/\/10\.0\.2\.2:\d+\/\S*rootimg\.cpio\.gz \(attempt 2, image server 2 of 2\)/
        .test(serial),
      serial.slice(-4000),
    );
    ok(
      serial.includes(`MARKER: ${marker} on cn01`),
      `no marker on the console:\n${serial.slice(-4000)}`,
    );
    ok(log.some((line) => /^GET \/install\/.*\/rootimg\.cpio\.gz 200$/.test(line)), log.join("\n"));
  },
);

heavyTest(
  "QEMU netboots: the image server of imgurl= is not listening at all, the initrd boots from imgservers=",
  async () => {
    const port = closedPort();
    const { serial, marker } = await netboot(
      ["-m", "cpio", "-c", "gzip"],
      () => "rootimg.cpio.gz",
      failedOver,
      // As nodeset writes a service node pool: one imgurl=, the other servers by address.
      (served) =>
        `http://10.0.2.2:${port}${new URL(served).pathname} imgservers=${new URL(served).host}`,
    );
    ok(
      serial.includes(
        `osimg: could not fetch and unpack http://10.0.2.2:${port}/`,
      ) && serial.includes("(attempt 1); trying the next image server"),
      serial.slice(-4000),
    );
    ok(
      serial.includes(`MARKER: ${marker} on cn01`),
      `no marker on the console:\n${serial.slice(-4000)}`,
    );
  },
);
