import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { BOOTLOADERS, bootloadersFor, findBootloader, grubMacName, hexIp } from "./bootloaders.ts";

Deno.test("hexIp is 8 upper-case hex digits; grub's MAC name is 01- and lower case with dashes", () => {
  assertEquals(hexIp("10.0.0.101"), "0A000065");
  assertEquals(hexIp("192.168.255.1"), "C0A8FF01");
  assertEquals(grubMacName("AA:BB:CC:0d:EE:FF"), "01-aa-bb-cc-0d-ee-ff");
});

Deno.test("the loader table is keyed by netboot value, each fitting xCAT's arches", () => {
  assertEquals(BOOTLOADERS.map((loader) => loader.name), [
    "xnba",
    "pxe",
    "elilo",
    "grub2",
    "grub2-tftp",
    "grub2-http",
  ]);
  assertEquals(bootloadersFor("x86_64"), ["xnba", "pxe", "elilo", "grub2"]);
  assertEquals(bootloadersFor("ppc64le"), ["grub2", "grub2-tftp", "grub2-http"]);
  assertEquals(bootloadersFor("aarch64"), ["grub2"]);
  assertEquals(findBootloader(" xnba ")?.name, "xnba");
  assertEquals(findBootloader("petitboot"), undefined);
});

Deno.test("pxelinux links every IP of the node to its entry by hex name; grub2 hard-links IP and MAC names", () => {
  const addresses = { node: "cn01", ips: ["10.0.0.101", "10.1.0.101"], mac: "aa:bb:cc:dd:ee:01" };
  const settings = {
    server: "s",
    tftpServer: "t",
    httpPort: "80",
    tftpDir: "/tftpboot",
    arch: "x86_64",
    debug: false,
    ipappend: true,
  };
  const entry = { kind: "local", state: "boot" } as const;
  assertEquals(findBootloader("pxe")!.render(entry, addresses, settings).links, [
    { path: "pxelinux.cfg/0A000065", target: "cn01", kind: "symlink" },
    { path: "pxelinux.cfg/0A010065", target: "cn01", kind: "symlink" },
  ]);
  assertEquals(
    findBootloader("grub2")!.render(entry, addresses, settings).links.map((
      link,
    ) => [link.path, link.kind]),
    [
      ["boot/grub2/grub.cfg-0A000065", "hardlink"],
      ["boot/grub2/grub.cfg-0A010065", "hardlink"],
      ["boot/grub2/grub.cfg-01-aa-bb-cc-dd-ee-01", "hardlink"],
    ],
  );
});
