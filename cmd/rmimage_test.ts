import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { existsSync } from "node:fs";
import { testRoot } from "../core/testing.ts";

Deno.test("rmimage removes the image's generated files and, with --xcatdef, its definition", async () => {
  await using t = await testRoot();
  const dir = `${t.root}/install/netboot/rocky9/x86_64/compute`;
  await Deno.mkdir(`${dir}/rootimg/etc`, { recursive: true });
  await Deno.writeTextFile(`${dir}/rootimg/etc/hostname`, "n\n");
  for (const name of ["kernel", "initrd-stateless.gz", "rootimg.cpio.gz", "rootimg.sfs"]) {
    await Deno.writeTextFile(`${dir}/${name}`, name);
  }
  await Deno.writeTextFile(`${dir}/keep.me`, "not generated");
  await Deno.mkdir(`${t.root}/tftpboot/xcat/osimage/img`, { recursive: true });
  await t.ok([
    "mkdef",
    "-t",
    "osimage",
    "-o",
    "img",
    "provmethod=netboot",
    "osvers=rocky9",
    "osarch=x86_64",
    "profile=compute",
  ]);
  const { stdout } = await t.ok(["rmimage", "-V", "img"]);
  ok(stdout.includes("Removed /install/netboot/rocky9/x86_64/compute/rootimg\n"), stdout);
  ok(stdout.includes("Removed /tftpboot/xcat/osimage/img\n"), stdout);
  assertEquals([...Deno.readDirSync(dir)].map((entry) => entry.name), ["keep.me"]);
  assertEquals(existsSync(`${t.root}/tftpboot/xcat/osimage/img`), false);
  assertEquals((await t.ok(["lsdef", "-t", "osimage"])).stdout, "img  (osimage)\n");
  await t.ok(["rmimage", "img", "--xcatdef"]);
  assertEquals(
    (await t.ok(["lsdef", "-t", "osimage"])).stdout,
    "Could not find any object definitions to display.\n",
  );
});

Deno.test("rmimage refuses while something is mounted inside rootimg", async () => {
  await using t = await testRoot();
  const rootimg = `${t.root}/install/netboot/r/x86_64/p/rootimg`;
  await Deno.mkdir(`${rootimg}/proc`, { recursive: true });
  await t.ok([
    "mkdef",
    "-t",
    "osimage",
    "-o",
    "img",
    "provmethod=netboot",
    "osvers=r",
    "osarch=x86_64",
    "profile=p",
  ]);
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "none", `${rootimg}/proc`],
  })
    .output();
  assertEquals(mount.code, 0, "this test needs root to mount a tmpfs");
  try {
    await Deno.writeTextFile(`${rootimg}/proc/precious`, "host data");
    const output = await t.run(["rmimage", "img"]);
    assertEquals(output.status, 1);
    ok(output.stderr.includes("is mounted inside its rootimg"), output.stderr);
    assertEquals(await Deno.readTextFile(`${rootimg}/proc/precious`), "host data");
  } finally {
    await new Deno.Command("umount", { args: [`${rootimg}/proc`] }).output();
  }
});

Deno.test("rmimage of an unknown image fails with xCAT's message", async () => {
  await using t = await testRoot();
  const output = await t.run(["rmimage", "nosuch"]);
  assertEquals(output.status, 1);
  assertEquals(
    output.stderr,
    "Error: Could not find an object named 'nosuch' of type 'osimage'.\n",
  );
});
