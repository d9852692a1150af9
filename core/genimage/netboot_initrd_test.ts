import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { systemRunner } from "../process.ts";
import { kernelImageRoot as initrdImageRoot } from "../../testdata/support/debian_kernel.ts";
import { sh } from "../../testdata/support/process.ts";
import { buildNetbootInitrd, type NetbootInitrdOptions } from "./netboot_initrd.ts";

const OPTIONS = {
  drivers: ["virtio_net", "e1000"],
  optionalDrivers: ["squashfs", "loop", "overlay"],
  mtime: 1700000000,
};

Deno.test("the netboot initrd holds busybox, the init, and the drivers with their dependencies in load order", async () => {
  const { rootimg, kernelVersion } = await initrdImageRoot();
  const out = await Deno.makeTempDir({ prefix: "osimg-initrd-out-" });
  try {
    const summary = await buildNetbootInitrd(
      systemRunner,
      { rootimg, kernelVersion, ...OPTIONS, rootlimit: "2g" },
      `${out}/initrd-stateless.gz`,
    );
    // virtio_net needs net_failover, which needs failover: each before its user.
    const order = summary.modules.map((path) => path.slice(path.lastIndexOf("/") + 1));
    ok(order.indexOf("failover.ko") < order.indexOf("net_failover.ko"), order.join(" "));
    ok(order.indexOf("net_failover.ko") < order.indexOf("virtio_net.ko"), order.join(" "));
    for (const name of ["e1000.ko", "squashfs.ko", "loop.ko", "overlay.ko"]) {
      ok(order.includes(name), name);
    }

    // GNU cpio reads it back; the listing shows what the kernel will unpack.
    const listing = await sh([
      "sh",
      "-c",
      `gzip -dc ${out}/initrd-stateless.gz | cpio -itv --quiet`,
    ]);
    const names = listing.split("\n").filter((line) => line !== "").map((line) =>
      line.split(/\s+/).at(-1)!
    );
    for (
      const name of [
        "init",
        "bin/busybox",
        "dev/console",
        "etc/osimg/modules",
        "etc/osimg/udhcpc.script",
      ]
    ) {
      ok(names.includes(name), `${name} missing from:\n${listing}`);
    }
    ok(/^crw-------\s.*\s5,\s+1\s.*dev\/console$/m.test(listing), listing);
    const extracted = `${out}/x`;
    await Deno.mkdir(extracted);
    await sh(["sh", "-c", `gzip -dc ${out}/initrd-stateless.gz | cpio -idm --quiet`], {
      cwd: extracted,
    });
    assertEquals(
      await Deno.readTextFile(`${extracted}/etc/osimg/modules`),
      summary.modules.map((path) => `${path}\n`).join(""),
    );
    assertEquals(await Deno.readTextFile(`${extracted}/etc/osimg/rootlimit`), "2g\n");
    assertEquals(await Deno.readTextFile(`${extracted}/etc/osimg/kernel`), `${kernelVersion}\n`);
    // The init is valid shell.
    await sh(["sh", "-n", `${extracted}/init`]);
    await sh(["sh", "-n", `${extracted}/etc/osimg/udhcpc.script`]);
  } finally {
    await Deno.remove(rootimg, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("the netboot initrd is the same bytes when built twice from the same image", async () => {
  const { rootimg, kernelVersion } = await initrdImageRoot();
  const out = await Deno.makeTempDir({ prefix: "osimg-initrd-out-" });
  try {
    const options: NetbootInitrdOptions = { rootimg, kernelVersion, ...OPTIONS };
    await buildNetbootInitrd(systemRunner, options, `${out}/one.gz`);
    // Touching the image's files changes their mtimes, which must not leak in.
    await sh(["touch", `${rootimg}/usr/bin/busybox`]);
    await buildNetbootInitrd(systemRunner, options, `${out}/two.gz`);
    assertEquals(await Deno.readFile(`${out}/one.gz`), await Deno.readFile(`${out}/two.gz`));
  } finally {
    await Deno.remove(rootimg, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a dynamically linked busybox comes with its loader and libraries from the image", async () => {
  const { rootimg, kernelVersion } = await initrdImageRoot();
  const out = await Deno.makeTempDir({ prefix: "osimg-initrd-out-" });
  try {
    // Stand in a dynamic program (the host's ls) for busybox, with the host's libc copied into
    // the image: the initrd must take the libraries from the image, by the image's paths.
    await Deno.remove(`${rootimg}/usr/bin/busybox`);
    await Deno.copyFile("/usr/bin/ls", `${rootimg}/usr/bin/busybox`);
    await Deno.mkdir(`${rootimg}/usr/lib/x86_64-linux-gnu`, { recursive: true });
    await Deno.mkdir(`${rootimg}/lib64`);
    for (const lib of ["libc.so.6", "libselinux.so.1", "libpcre2-8.so.0"]) {
      await Deno.copyFile(
        `/lib/x86_64-linux-gnu/${lib}`,
        `${rootimg}/usr/lib/x86_64-linux-gnu/${lib}`,
      );
    }
    await Deno.copyFile(
      "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
      `${rootimg}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`,
    );
    await Deno.symlink(
      "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
      `${rootimg}/lib64/ld-linux-x86-64.so.2`,
    );
    await buildNetbootInitrd(
      systemRunner,
      { rootimg, kernelVersion, ...OPTIONS },
      `${out}/initrd.gz`,
    );
    const listing = await sh(["sh", "-c", `gzip -dc ${out}/initrd.gz | cpio -it --quiet`]);
    for (
      const name of [
        "lib64/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/libc.so.6",
        "lib/x86_64-linux-gnu/libselinux.so.1",
      ]
    ) {
      ok(listing.split("\n").includes(name), `${name} missing from:\n${listing}`);
    }
  } finally {
    await Deno.remove(rootimg, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a netdriver the kernel does not have, or an image without busybox, is refused and writes nothing", async () => {
  const { rootimg, kernelVersion } = await initrdImageRoot();
  const out = await Deno.makeTempDir({ prefix: "osimg-initrd-out-" });
  try {
    await rejects(
      buildNetbootInitrd(systemRunner, {
        rootimg,
        kernelVersion,
        ...OPTIONS,
        drivers: ["virtio_net", "nosuchnic"],
      }, `${out}/a.gz`),
      /kernel 6\.[^ ]+ has no module nosuchnic \(netdrivers names modules of the image's kernel/,
    );
    await rejects(
      buildNetbootInitrd(
        systemRunner,
        { rootimg, kernelVersion: "9.9.9-nope", ...OPTIONS },
        `${out}/b.gz`,
      ),
      /the image has no \/lib\/modules\/9\.9\.9-nope\/modules\.dep/,
    );
    await Deno.remove(`${rootimg}/usr/bin/busybox`);
    await rejects(
      buildNetbootInitrd(systemRunner, { rootimg, kernelVersion, ...OPTIONS }, `${out}/c.gz`),
      /has no busybox \(looked for \/usr\/bin\/busybox, .*add busybox to its pkglist/,
    );
    assertEquals([...Deno.readDirSync(out)], []);
  } finally {
    await Deno.remove(rootimg, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
