// demo: run the main job end to end in a temporary root; --boot boots two VMs from it.

import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import { runDemo } from "../core/demo.ts";
import { runBootDemo } from "../core/chain/boot_demo.ts";

export const demo: Command = {
  name: "demo",
  usage: `Usage:
  osimg demo [--keep]
  osimg --root DIR demo
  osimg [--root DIR] demo --boot [--mirror 'URL [SUITE [COMPONENT...]]'] [--dhcp kea|dnsmasq] [--keep]

    Defines an osimage and nodes, builds a small sample root tree, packs it, writes the nodes'
    boot entries (nodeset), exports it to a bundle, verifies it, imports it into a second empty root, snapshots, changes and rolls the
    image back, printing each command and its output.

    Without --root everything happens in a new temporary directory, removed at the end unless
    --keep is given. With --root DIR (a new or empty directory) the first management node is
    DIR and stays there afterwards, with the sample image debian12-x86_64-netboot-compute
    ready for packimage, imgexport, snapshot and the other image verbs (the README's tour uses
    it); the second management node is temporary.

    --boot   Boots nodes from an image osimg makes, on this machine: genimage of a Debian image
             from the mirror, packimage, two nodes (BIOS and UEFI), nodeset, then a network
             namespace with a bridge (198.51.100.1/24) where makedhcp's DHCP server (Kea or
             dnsmasq) and 'osimg serve' run, and two QEMU VMs (SeaBIOS with iPXE, OVMF) that
             netboot until systemd prints each node's name. Prints every command; takes
             several minutes. Needs root and the Debian packages qemu-system-x86, ipxe-qemu,
             ovmf, ipxe, iproute2, debootstrap and kea-dhcp4-server or dnsmasq-base; says
             what is missing, changing nothing, when they are not there.
    --mirror The Debian mirror (default: the first Debian release source of /etc/apt).
    --dhcp   The DHCP server to run (default: kea if installed, else dnsmasq).
    --keep   Keep the temporary directory (both management nodes and the bundle; with --boot
             the management node, the logs, the lease file and the VMs' consoles).
`,
  async run(ctx, args) {
    const { flags } = parseFlags("demo", args, {
      keep: { type: "boolean" },
      boot: { type: "boolean" },
      mirror: { type: "string" },
      dhcp: { type: "string" },
    }, { maxPositionals: 0 });
    const keep = booleanFlag(flags, "keep");
    const mirror = stringFlag(flags, "mirror");
    const dhcp = stringFlag(flags, "dhcp");
    if (!booleanFlag(flags, "boot")) {
      if (mirror !== undefined || dhcp !== undefined) {
        throw new UsageError("demo: --mirror and --dhcp go with --boot.");
      }
      await runDemo(ctx, { keep });
      return;
    }
    await runBootDemo(ctx, { keep, mirror, dhcp });
  },
};
