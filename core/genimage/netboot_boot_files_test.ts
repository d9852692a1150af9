// The kernel a diskless image boots: the newest of its /boot (sort -V), links resolved inside it.

import { deepStrictEqual as assertEquals, rejects, strictEqual } from "node:assert/strict";
import { buildNetbootBootFiles, compareKernelVersions, findKernel } from "./netboot_boot_files.ts";
import { systemRunner } from "../process.ts";
import { NotFoundError } from "../errors.ts";

Deno.test("kernel versions compare as sort -V: 6.1.0-10 after 6.1.0-9, 6.10 after 6.9", () => {
  const sorted = ["6.1.0-10-amd64", "5.10.0-9-amd64", "6.1.0-9-amd64", "6.10.1", "6.9.2"].sort(
    compareKernelVersions,
  );
  assertEquals(sorted, ["5.10.0-9-amd64", "6.1.0-9-amd64", "6.1.0-10-amd64", "6.9.2", "6.10.1"]);
});

Deno.test("findKernel: the newest /boot/vmlinuz-*, rescue kernels aside, links taken inside the image", async () => {
  const root = await Deno.makeTempDir({ prefix: "osimg-kernels-" });
  try {
    await Deno.mkdir(`${root}/boot`);
    await Deno.mkdir(`${root}/lib/modules/6.1.0-10-amd64`, { recursive: true });
    for (const name of ["vmlinuz-6.1.0-9-amd64", "vmlinuz-0-rescue-abc", "real-kernel"]) {
      await Deno.writeTextFile(`${root}/boot/${name}`, name);
    }
    // An absolute link, as /boot/vmlinuz-<v> -> /boot/real-kernel: resolved in the image.
    await Deno.symlink("/boot/real-kernel", `${root}/boot/vmlinuz-6.1.0-10-amd64`);
    const kernel = await findKernel(root);
    strictEqual(kernel?.version, "6.1.0-10-amd64");
    strictEqual(kernel?.file, `${root}/boot/real-kernel`);
    strictEqual(
      (await findKernel(root, "6.1.0-9-amd64"))?.file,
      `${root}/boot/vmlinuz-6.1.0-9-amd64`,
    );
    strictEqual(await findKernel(root, "7.0"), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an image without a kernel: the caller's message, nothing written", async () => {
  const root = await Deno.makeTempDir({ prefix: "osimg-kernels-" });
  try {
    await rejects(
      buildNetbootBootFiles(
        systemRunner,
        {
          rootimg: root,
          drivers: [],
          optionalDrivers: [],
          noKernel: (rootimg) => `no kernel in ${rootimg}`,
        },
        `${root}/kernel`,
        `${root}/initrd`,
      ),
      (error) => error instanceof NotFoundError && error.message === `no kernel in ${root}`,
    );
    assertEquals([...Deno.readDirSync(root)], []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
