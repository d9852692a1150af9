import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { renderPxelinux } from "./pxelinux.ts";
import { argument, BOOT_SERVER, type KernelBoot } from "./boot_entry.ts";

const KERNEL: KernelBoot = {
  kind: "kernel",
  state: "netboot x-x86_64-p",
  kernel: "xcat/osimage/x/kernel",
  initrds: ["xcat/osimage/x/a.gz", "xcat/osimage/x/b.gz"],
  args: [argument("XCAT", BOOT_SERVER, ":3001")],
  efiStub: false,
};

Deno.test("pxelinux: one initrd= with every initrd, the boot server as its address, IPAPPEND 2", () => {
  assertEquals(
    renderPxelinux(KERNEL, { server: "10.1.0.1", ipappend: true }),
    "#netboot x-x86_64-p\nDEFAULT xCAT\nLABEL xCAT\n KERNEL xcat/osimage/x/kernel\n" +
      " APPEND initrd=xcat/osimage/x/a.gz,xcat/osimage/x/b.gz XCAT=10.1.0.1:3001\n  IPAPPEND 2\n",
  );
});

Deno.test("pxelinux: no APPEND without initrd and arguments, no IPAPPEND where it breaks the installer", () => {
  assertEquals(
    renderPxelinux({ ...KERNEL, initrds: [], args: [] }, { server: "s", ipappend: false }),
    "#netboot x-x86_64-p\nDEFAULT xCAT\nLABEL xCAT\n KERNEL xcat/osimage/x/kernel\n",
  );
});

Deno.test("pxelinux: local boot is LOCALBOOT 0, offline has no entry", () => {
  assertEquals(
    renderPxelinux({ kind: "local", state: "boot" }, { server: "s", ipappend: true }),
    "#boot\nDEFAULT xCAT\nLABEL xCAT\nLOCALBOOT 0\n",
  );
  assertEquals(renderPxelinux({ kind: "offline" }, { server: "s", ipappend: true }), undefined);
});
