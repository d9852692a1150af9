// The DHCP servers makedhcp writes for, chosen by site.dhcpserver: where each one's
// configuration lives, how it is rendered and read back, and the server's own check of it.

import type { DhcpConfig, DhcpHost } from "../../formats/dhcp/dhcp_model.ts";
import { parseKeaHosts, renderKeaConfig } from "../../formats/dhcp/kea_config.ts";
import { parseDnsmasqHosts, renderDnsmasqConfig } from "../../formats/dhcp/dnsmasq_config.ts";

/** One DHCP server. */
export interface DhcpServer {
  /** The site.dhcpserver value. */
  name: string;
  /** The configuration file (a management path, under --root). */
  configPath: string;
  /** The lease file the server keeps (a management path; the package's default place). */
  leasePath: string;
  /** The program that checks a configuration, and the Debian package that has it. */
  checker: { program: string; package: string };
  /** The argv that checks `file` without serving anything. */
  checkArgv(file: string): string[];
  render(config: DhcpConfig): string;
  /** The hosts of a configuration makedhcp wrote; `where` names it in errors. */
  parseHosts(text: string, where: string): DhcpHost[];
}

/** The default of site.dhcpserver (isc-dhcp-server is end-of-life; Kea is ISC's successor). */
export const DEFAULT_DHCP_SERVER = "kea";

/** Every server makedhcp can configure. */
export const DHCP_SERVERS: readonly DhcpServer[] = [
  {
    name: "kea",
    configPath: "/etc/kea/kea-dhcp4.conf",
    leasePath: "/var/lib/kea/kea-leases4.csv",
    checker: { program: "kea-dhcp4", package: "kea-dhcp4-server" },
    checkArgv: (file) => ["kea-dhcp4", "-t", file],
    render: renderKeaConfig,
    parseHosts: parseKeaHosts,
  },
  {
    name: "dnsmasq",
    // A file of its own in dnsmasq's conf-dir: the site's dnsmasq.conf stays the admin's.
    configPath: "/etc/dnsmasq.d/osimg.conf",
    leasePath: "/var/lib/misc/dnsmasq.leases",
    checker: { program: "dnsmasq", package: "dnsmasq-base" },
    checkArgv: (file) => ["dnsmasq", "--test", `--conf-file=${file}`],
    render: renderDnsmasqConfig,
    parseHosts: parseDnsmasqHosts,
  },
];

/** The server named by site.dhcpserver, or undefined. */
export function dhcpServer(name: string): DhcpServer | undefined {
  return DHCP_SERVERS.find((server) => server.name === name);
}
