// A dnsmasq configuration file (for /etc/dnsmasq.d/) from a DhcpConfig, and the host entries
// read back.

import type { BootClient, DhcpConfig, DhcpHost } from "./dhcp_model.ts";
import { parseHostRecord } from "./dhcp_model.ts";

/** The comment line that carries a host's record, before its dnsmasq lines. */
const RECORD = "# osimg-host ";

/**
 * The tags a rule of each client kind needs. iPXE is recognised by option 175 and by its user
 * class (iPXE, or xCAT's xNBA); UEFI by client architecture 7 or 9. Every rule names both tags,
 * set or negated, so the rules of a node exclude each other and their order does not matter.
 */
const KIND_TAGS: Readonly<Record<BootClient, string[]>> = {
  "ipxe-uefi": ["tag:osimg-ipxe", "tag:osimg-uefi"],
  "ipxe-bios": ["tag:osimg-ipxe", "tag:!osimg-uefi"],
  "uefi": ["tag:!osimg-ipxe", "tag:osimg-uefi"],
  "bios": ["tag:!osimg-ipxe", "tag:!osimg-uefi"],
  "any": [],
};

function subnetTag(net: string, prefix: number): string {
  return `osimg-net-${net.replaceAll(".", "-")}-${prefix}`;
}

/**
 * Renders the dnsmasq configuration: the client-kind matches, one dhcp-range (static unless
 * networks.dynamicrange gives a pool) and the options per network, then per node a record
 * comment, its dhcp-host (setting the node's own tag) and one dhcp-boot per rule.
 *
 * @example
 * ```ts
 * const text = renderDnsmasqConfig(config);
 * ```
 */
export function renderDnsmasqConfig(config: DhcpConfig): string {
  const lines = [
    "# Written by osimg makedhcp from the xCAT tables (networks, mac, hosts, noderes, site).",
    "# Changes made here are lost at the next makedhcp; change the tables instead.",
    "",
  ];
  for (const name of config.interfaces) lines.push(`interface=${name}`);
  lines.push(
    `dhcp-leasefile=${config.leaseFile}`,
    "dhcp-match=set:osimg-ipxe,175",
    "dhcp-userclass=set:osimg-ipxe,iPXE",
    "dhcp-userclass=set:osimg-ipxe,xNBA",
    "dhcp-match=set:osimg-uefi,option:client-arch,7",
    "dhcp-match=set:osimg-uefi,option:client-arch,9",
  );
  for (const subnet of config.subnets) {
    const tag = subnetTag(subnet.net, subnet.prefix);
    lines.push("", `# network ${subnet.name}: ${subnet.net}/${subnet.prefix}`);
    lines.push(
      subnet.pool
        ? `dhcp-range=set:${tag},${subnet.pool.start},${subnet.pool.end},${subnet.mask},${config.leaseSeconds}s`
        : `dhcp-range=set:${tag},${subnet.net},static,${subnet.mask},${config.leaseSeconds}s`,
    );
    if (subnet.gateway) lines.push(`dhcp-option=tag:${tag},option:router,${subnet.gateway}`);
    if (subnet.nameservers.length > 0) {
      lines.push(`dhcp-option=tag:${tag},option:dns-server,${subnet.nameservers.join(",")}`);
    }
    if (subnet.domain) lines.push(`dhcp-option=tag:${tag},option:domain-name,${subnet.domain}`);
    if (subnet.mtu) lines.push(`dhcp-option=tag:${tag},option:mtu,${subnet.mtu}`);
  }
  for (const host of config.hosts) {
    const tag = `osimg-${host.node}`;
    lines.push("", `${RECORD}${JSON.stringify(host)}`);
    lines.push(`dhcp-host=${host.mac},set:${tag},${host.ip},${host.hostname}`);
    for (const rule of host.rules) {
      const tags = [`tag:${tag}`, ...KIND_TAGS[rule.client]].join(",");
      // dhcp-boot=<tags>,<file>,<server name>,<server address>: the address is siaddr.
      lines.push(`dhcp-boot=${tags},${rule.file},,${host.nextServer}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** The host entries of a file makedhcp wrote (from its record comments). */
export function parseDnsmasqHosts(text: string, where: string): DhcpHost[] {
  return text.split("\n").filter((line) => line.startsWith(RECORD)).map((line) =>
    parseHostRecord(line.slice(RECORD.length), where)
  );
}
