// The boot chain's checks of the machine, without running it (the run itself: the heavy
// boot_chain_boot_test.ts): what is missing is named with its package, before anything changes.

import { deepStrictEqual, rejects, strictEqual, throws } from "node:assert/strict";
import { checkBootChainPrerequisites, type MachineProbe } from "./boot_chain.ts";
import { parseMirror } from "./boot_demo.ts";
import { NotFoundError, UsageError } from "../errors.ts";

/** A made-up machine: its uid, the programs on its PATH and the files it has. */
function machine(uid: number, programs: string[], files: string[]): MachineProbe {
  return {
    uid: () => uid,
    hasProgram: (name) => Promise.resolve(programs.includes(name)),
    exists: (path) => Promise.resolve(files.includes(path)),
  };
}

const ALL_PROGRAMS = ["qemu-system-x86_64", "ip", "timeout", "debootstrap", "kea-dhcp4", "dnsmasq"];
const ALL_FILES = [
  "/usr/share/OVMF/OVMF_CODE_4M.fd",
  "/usr/share/OVMF/OVMF_VARS_4M.fd",
  "/usr/lib/ipxe/qemu/efi-virtio.rom",
  "/usr/lib/ipxe/undionly.kpxe",
  "/usr/lib/ipxe/ipxe.efi",
];

Deno.test("an empty machine without root: every missing piece is named with its Debian package, in one line", async () => {
  const error = await checkBootChainPrerequisites(machine(1000, [], [])).catch((e) => e);
  strictEqual(error instanceof NotFoundError, true);
  strictEqual(
    error.message,
    "demo --boot cannot run on this machine; missing: root (network namespaces, tap devices " +
      "and the DHCP server need it; run with sudo); qemu-system-x86_64 (apt-get install " +
      "qemu-system-x86); ip (apt-get install iproute2); timeout (apt-get install coreutils); " +
      "debootstrap (apt-get install debootstrap); /usr/share/OVMF/OVMF_CODE_4M.fd (apt-get " +
      "install ovmf); /usr/share/OVMF/OVMF_VARS_4M.fd (apt-get install ovmf); " +
      "/usr/lib/ipxe/qemu/efi-virtio.rom (apt-get install ipxe-qemu); " +
      "/usr/lib/ipxe/undionly.kpxe (apt-get install ipxe); /usr/lib/ipxe/ipxe.efi (apt-get " +
      "install ipxe); a DHCP server: kea-dhcp4 (apt-get install kea-dhcp4-server) or dnsmasq " +
      "(apt-get install dnsmasq-base). Nothing was changed.",
  );
});

Deno.test("everything installed but not root: the only thing missing is root", async () => {
  await rejects(
    checkBootChainPrerequisites(machine(1000, ALL_PROGRAMS, ALL_FILES)),
    {
      message: "demo --boot cannot run on this machine; missing: root (network namespaces, tap " +
        "devices and the DHCP server need it; run with sudo). Nothing was changed.",
    },
  );
});

Deno.test("Kea is preferred; dnsmasq is used when Kea is not installed", async () => {
  strictEqual((await checkBootChainPrerequisites(machine(0, ALL_PROGRAMS, ALL_FILES))).name, "kea");
  const withoutKea = ALL_PROGRAMS.filter((program) => program !== "kea-dhcp4");
  strictEqual(
    (await checkBootChainPrerequisites(machine(0, withoutKea, ALL_FILES))).name,
    "dnsmasq",
  );
});

Deno.test("--dhcp kea on a machine with only dnsmasq names Kea's package", async () => {
  const withoutKea = ALL_PROGRAMS.filter((program) => program !== "kea-dhcp4");
  await rejects(checkBootChainPrerequisites(machine(0, withoutKea, ALL_FILES), "kea"), {
    message: "demo --boot cannot run on this machine; missing: kea-dhcp4 (apt-get install " +
      "kea-dhcp4-server). Nothing was changed.",
  });
});

Deno.test("--dhcp names only the servers the chain can run", async () => {
  await rejects(checkBootChainPrerequisites(machine(0, ALL_PROGRAMS, ALL_FILES), "isc-dhcpd"), {
    message: "demo --boot: --dhcp 'isc-dhcpd' is not one of kea, dnsmasq.",
  });
});

Deno.test("--mirror takes a URL, then an optional suite and components", () => {
  deepStrictEqual(parseMirror("http://deb.debian.org/debian"), {
    url: "http://deb.debian.org/debian",
    suite: "bookworm",
    components: ["main"],
  });
  deepStrictEqual(parseMirror("http://mirror.local/debian trixie main contrib"), {
    url: "http://mirror.local/debian",
    suite: "trixie",
    components: ["main", "contrib"],
  });
  throws(() => parseMirror("deb.debian.org bookworm"), UsageError);
});
