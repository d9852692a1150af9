import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { type Grub2Options, renderGrub2 } from "./grub2.ts";
import { argument, BOOT_SERVER, flag, type KernelBoot } from "./boot_entry.ts";

const OPTIONS: Grub2Options = {
  protocol: "tftp",
  server: "10.0.0.2",
  argumentServer: "10.0.0.1",
  httpPort: "80",
  tftpDir: "/tftpboot",
  efiCommands: false,
  debug: false,
};
const KERNEL: KernelBoot = {
  kind: "kernel",
  state: "install u",
  kernel: "k",
  initrds: ["i"],
  args: [
    argument("ds", "nocloud-net;s=http://", BOOT_SERVER, "/x/"),
    flag("---"),
    argument("q", "it's"),
  ],
  efiStub: false,
};

Deno.test("grub2 quotes arguments grub would cut or expand, and ends without a newline", () => {
  const text = renderGrub2(KERNEL, OPTIONS)!;
  ok(
    text.includes(
      "    linux /k 'ds=nocloud-net;s=http://10.0.0.1/x/' --- 'q=it'\\''s' BOOTIF=$net_default_mac\n",
    ),
    text,
  );
  ok(text.includes("    set root=tftp,10.0.0.2\n"));
  ok(text.endsWith("    initrd /i\n}"));
});

Deno.test("grub2-http prefixes paths with the TFTP directory and a non-80 port goes into root", () => {
  const text = renderGrub2({ ...KERNEL, args: [] }, {
    ...OPTIONS,
    protocol: "http",
    httpPort: "8080",
    efiCommands: true,
  })!;
  ok(
    text.includes(
      "    set root=http,10.0.0.2:8080\n    echo Loading Install kernel ...\n    linuxefi /tftpboot/k BOOTIF=$net_default_mac\n",
    ),
  );
  ok(text.includes("    initrdefi /tftpboot/i\n"));
});

Deno.test("grub2: debug mode adds set debug=all; a local boot is the header alone; offline nothing", () => {
  assertEquals(
    renderGrub2({ kind: "local", state: "boot" }, { ...OPTIONS, debug: true }),
    "#boot\nset debug=all\nset timeout=5\n",
  );
  assertEquals(renderGrub2({ kind: "offline" }, OPTIONS), undefined);
});
