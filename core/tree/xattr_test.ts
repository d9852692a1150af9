// Tests for core/tree/xattr.ts: raw bytes through libc FFI, compared with setfattr/getfattr.

import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { isVanished, XattrError, xattrReader } from "./xattr.ts";

async function sh(script: string, cwd: string): Promise<void> {
  const output = await new Deno.Command("sh", { args: ["-euc", script], cwd }).output();
  if (output.code !== 0) throw new Error(`sh failed: ${script}`);
}

function reader() {
  const opened = xattrReader();
  if (typeof opened === "string") throw new Error(opened);
  return opened;
}

Deno.test("xattrReader: binary values, capabilities, symlinks, names in byte order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // every byte value, including NUL and bytes >= 0x80 that a UTF-8 round trip would mangle
    const all = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
    await sh(
      `printf x > f && setfattr -n user.z -v 0x${all.join("")} f && setfattr -n user.b -v '' f
       setfattr -n user.a -v 0x80 f && setcap cap_setuid,cap_setgid+ep f
       ln -s f link && printf y > plain`,
      dir,
    );
    const attributes = reader().read(`${dir}/f`);
    assertEquals([...attributes.keys()], ["security.capability", "user.a", "user.b", "user.z"]);
    assertEquals([...attributes.get("user.z")!], Array.from({ length: 256 }, (_, byte) => byte));
    assertEquals([...attributes.get("user.a")!], [0x80]);
    assertEquals(attributes.get("user.b")!.byteLength, 0);
    const getfattr = await new Deno.Command("getfattr", {
      args: ["--absolute-names", "-n", "security.capability", "-e", "hex", `${dir}/f`],
    }).output();
    const hex = new TextDecoder().decode(getfattr.stdout).match(/=0x([0-9a-f]+)/)![1];
    assertEquals(
      [...attributes.get("security.capability")!].map((b) => b.toString(16).padStart(2, "0"))
        .join(""),
      hex,
    );
    // l*xattr: a symlink's own attributes (none), not its target's
    assertEquals(reader().read(`${dir}/link`).size, 0);
    assertEquals(reader().read(`${dir}/plain`).size, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("xattrReader: a vanished path is an XattrError with ENOENT", () => {
  throws(() => reader().read("/nonexistent/osimg-xattr-test"), (error: unknown) => {
    ok(error instanceof XattrError);
    ok(isVanished(error));
    return true;
  });
});

Deno.test("xattrReader: file systems without xattrs give an empty map", () => {
  // procfs supports no user/security xattrs: EOPNOTSUPP or an empty list, never an error.
  assertEquals(reader().read("/proc/self/status").size, 0);
});
