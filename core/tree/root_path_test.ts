import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { resolveInRoot } from "./root_path.ts";

async function imageRoot(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "osimg-root-path-" });
  await Deno.mkdir(`${root}/usr/bin`, { recursive: true });
  await Deno.mkdir(`${root}/usr/lib/x86_64-linux-gnu`, { recursive: true });
  await Deno.writeTextFile(`${root}/usr/bin/busybox`, "image's busybox");
  await Deno.symlink("usr/bin", `${root}/bin`);
  await Deno.symlink("usr/lib", `${root}/lib`);
  await Deno.mkdir(`${root}/lib64`);
  await Deno.symlink("/lib/x86_64-linux-gnu/ld.so", `${root}/lib64/ld-linux-x86-64.so.2`);
  await Deno.writeTextFile(`${root}/usr/lib/x86_64-linux-gnu/ld.so`, "loader");
  await Deno.symlink("../../../../../../etc/passwd", `${root}/usr/bin/climber`);
  await Deno.symlink("loop", `${root}/usr/bin/loop`);
  return root;
}

Deno.test("resolveInRoot follows relative and absolute links inside the image, never to the host", async () => {
  const root = await imageRoot();
  try {
    assertEquals(await resolveInRoot(root, "/bin/busybox"), `${root}/usr/bin/busybox`);
    assertEquals(
      await resolveInRoot(root, "/lib64/ld-linux-x86-64.so.2"),
      `${root}/usr/lib/x86_64-linux-gnu/ld.so`,
    );
    // ".." stops at the image's root, as it does for a process chrooted there.
    assertEquals(await resolveInRoot(root, "/usr/bin/climber"), undefined);
    assertEquals(await resolveInRoot(root, "/sbin/busybox"), undefined);
    await rejects(
      resolveInRoot(root, "/bin/loop"),
      /Too many symbolic links while resolving \/bin\/loop/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
