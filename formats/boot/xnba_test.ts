import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { renderXnba } from "./xnba.ts";
import { argument, BOOT_SERVER, type KernelBoot } from "./boot_entry.ts";

const OPTIONS = { httpPort: "80", node: "cn01", scriptsDir: "xcat/xnba/nodes" };
const KERNEL: KernelBoot = {
  kind: "kernel",
  state: "netboot x",
  kernel: "xcat/osimage/x/kernel",
  initrds: ["xcat/osimage/x/initrd-stateless.gz"],
  args: [argument("XCAT", BOOT_SERVER, ":3001")],
  efiStub: true,
};

Deno.test("xnba: an EFI-stub kernel gets a UEFI script booting it directly, with initrd=initrd", () => {
  const files = renderXnba(KERNEL, OPTIONS)!;
  ok(
    files.uefi!.includes(
      "imgargs kernel XCAT=${next-server}:3001 BOOTIF=01-${netX/mac:hexhyp} initrd=initrd\n",
    ),
  );
  assertEquals(files.elilo, undefined);
});

Deno.test("xnba: a kernel without EFI stub gets a UEFI script chaining elilo and the .elilo file", () => {
  const files = renderXnba({ ...KERNEL, efiStub: false }, OPTIONS)!;
  assertEquals(
    files.uefi,
    "#!gpxe\nchain http://${next-server}/tftpboot/xcat/elilo-x64.efi -C /tftpboot/xcat/xnba/nodes/cn01.elilo\n",
  );
  ok(files.elilo!.includes('append="XCAT=%N:3001 BOOTIF=%B"'));
});

Deno.test("xnba: no UEFI script without arguments or initrd, the bare MAC as BOOTIF without arguments", () => {
  const files = renderXnba({ ...KERNEL, args: [] }, OPTIONS)!;
  assertEquals(files.uefi, undefined);
  ok(files.script.includes("imgargs kernel BOOTIF=${netX/mac}\n"));
});

Deno.test("xnba: a second initrd is fetched under its own name", () => {
  const files = renderXnba({ ...KERNEL, initrds: ["a", "b"] }, OPTIONS)!;
  ok(
    files.script.includes(
      "imgfetch -n initrd http://${next-server}/tftpboot/a\nimgfetch -n initrd1 http://${next-server}/tftpboot/b\n",
    ),
  );
  ok(files.uefi!.includes(" initrd=initrd initrd=initrd1\n"));
});

Deno.test("xnba: local boot exits in both scripts; offline has no files", () => {
  assertEquals(renderXnba({ kind: "local", state: "boot" }, OPTIONS), {
    script: "#!gpxe\n#boot\nexit\n",
    uefi: "#!gpxe\n#boot\nexit\n",
  });
  assertEquals(renderXnba({ kind: "offline" }, OPTIONS), undefined);
});
