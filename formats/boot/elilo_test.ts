import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { renderElilo } from "./elilo.ts";
import { argument, type KernelBoot } from "./boot_entry.ts";
import { InvalidInputError } from "../../core/errors.ts";

const KERNEL: KernelBoot = {
  kind: "kernel",
  state: "netboot x",
  kernel: "k",
  initrds: ["i"],
  args: [argument("a", "1")],
  efiStub: false,
};

Deno.test("elilo: xCAT's layout with absolute TFTP paths and BOOTIF=%B", () => {
  assertEquals(
    renderElilo(KERNEL, { tftpPrefix: "/tftpboot" }),
    'default="xCAT"\ndelay=0\n\nimage=/tftpboot/k\n   label="xCAT"\n   initrd=/tftpboot/i\n   append="a=1 BOOTIF=%B"\n',
  );
  assertEquals(
    renderElilo({ kind: "local", state: "boot" }, { tftpPrefix: "/tftpboot" }),
    undefined,
  );
});

Deno.test("elilo refuses what its syntax cannot hold: a quote in an argument, two initrds", () => {
  throws(
    () => renderElilo({ ...KERNEL, args: [argument("a", '"x"')] }, { tftpPrefix: "/t" }),
    (error: Error) =>
      error instanceof InvalidInputError &&
      /cannot pass a kernel argument holding/.test(error.message),
  );
  throws(
    () => renderElilo({ ...KERNEL, initrds: ["a", "b"] }, { tftpPrefix: "/t" }),
    (error: Error) =>
      error instanceof InvalidInputError && /elilo loads one initrd/.test(error.message),
  );
});
