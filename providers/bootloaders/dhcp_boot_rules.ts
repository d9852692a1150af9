// What DHCP tells a node to boot, by noderes.netboot (xCAT dhcp.pm's per-host filename rules),
// and the first-stage binaries a loader needs in the TFTP root. makedhcp asks this table
// instead of comparing netboot names.

import type { BootRule } from "../../formats/dhcp/dhcp_model.ts";

/** What a node's rules are built from. */
export interface BootRuleSettings {
  node: string;
  /** The server the node boots from (its next-server), an IPv4 address. */
  server: string;
  /** site.httpport. */
  httpPort: string;
  /** site.tftpdir as a management path: the URL path of the TFTP root (/tftpboot). */
  tftpDir: string;
}

/** A binary copied from a system package into the TFTP root under xCAT's name. */
export interface FirstStageFile {
  /** The file name in the package's directory (Debian's ipxe: /usr/lib/ipxe). */
  source: string;
  /** The path under the TFTP root clients ask for. */
  target: string;
}

/** One netboot value's DHCP side. */
export interface DhcpBootLoader {
  netboot: string;
  rules(settings: BootRuleSettings): BootRule[];
  /** Binaries to copy from the iPXE package (none: the loader's files come from nodeset). */
  firstStage: readonly FirstStageFile[];
}

/** The Debian package the iPXE first stages come from, for the error when they are missing. */
export const IPXE_PACKAGE = "ipxe";

/** Where Debian's ipxe package puts undionly.kpxe, ipxe.efi and snponly.efi. */
export const IPXE_DIRECTORY = "/usr/lib/ipxe";

function httpBase(settings: BootRuleSettings): string {
  // xCAT writes the port only when it is not 80.
  const port = settings.httpPort === "80" ? "" : `:${settings.httpPort}`;
  return `http://${settings.server}${port}${settings.tftpDir}`;
}

function grub2(netboot: string): DhcpBootLoader {
  return {
    netboot,
    // grub2.pm: a per-node link boot/grub2/grub2-<node> to the platform's grub2 binary.
    rules: ({ node }) => [{ client: "any", file: `boot/grub2/grub2-${node}` }],
    firstStage: [],
  };
}

/** Every netboot value makedhcp knows. */
export const DHCP_BOOT_LOADERS: readonly DhcpBootLoader[] = [
  {
    // xNBA (iPXE): firmware PXE gets the iPXE first stage by TFTP; iPXE then gets its node
    // script by HTTP (<node> for BIOS, <node>.uefi for UEFI, as xnba.pm writes them).
    netboot: "xnba",
    rules: (settings) => [
      { client: "ipxe-bios", file: `${httpBase(settings)}/xcat/xnba/nodes/${settings.node}` },
      { client: "ipxe-uefi", file: `${httpBase(settings)}/xcat/xnba/nodes/${settings.node}.uefi` },
      { client: "bios", file: "xcat/xnba.kpxe" },
      { client: "uefi", file: "xcat/xnba.efi" },
    ],
    firstStage: [
      { source: "undionly.kpxe", target: "xcat/xnba.kpxe" },
      { source: "ipxe.efi", target: "xcat/xnba.efi" },
    ],
  },
  {
    netboot: "pxe",
    rules: () => [{ client: "any", file: "pxelinux.0" }],
    firstStage: [],
  },
  grub2("grub2"),
  grub2("grub2-tftp"),
  grub2("grub2-http"),
  {
    // petitboot reads its configuration by itself: a reservation, no boot file.
    netboot: "petitboot",
    rules: () => [],
    firstStage: [],
  },
];

/** The loader of a netboot value, or undefined. */
export function dhcpBootLoader(netboot: string): DhcpBootLoader | undefined {
  return DHCP_BOOT_LOADERS.find((loader) => loader.netboot === netboot);
}
