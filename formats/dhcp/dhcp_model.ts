// What a DHCP server configuration written by makedhcp holds, independent of the server: the
// networks it serves and one host entry per node, with the node's boot-file rules.

import { InvalidInputError } from "../../core/errors.ts";

/**
 * Which clients a boot-file rule is for. The four concrete kinds are mutually exclusive (an
 * iPXE client or not, UEFI — client architecture 7 or 9 — or not), so no server has to rely on
 * the order of its rules; `any` is every client.
 */
export type BootClient = "ipxe-uefi" | "ipxe-bios" | "uefi" | "bios" | "any";

/** One boot-file rule of a host: clients of `client` get `file` (a TFTP path or an HTTP URL). */
export interface BootRule {
  client: BootClient;
  file: string;
}

/** One node's entry: its reservation and its boot rules. */
export interface DhcpHost {
  node: string;
  /** Lower case, colon separated. */
  mac: string;
  ip: string;
  hostname: string;
  /** The TFTP server (siaddr) the node boots from. */
  nextServer: string;
  rules: BootRule[];
}

/** One network of the networks table, as a DHCP subnet. */
export interface DhcpSubnet {
  /** networks.netname. */
  name: string;
  net: string;
  mask: string;
  prefix: number;
  gateway?: string;
  nameservers: string[];
  domain?: string;
  /** networks.dynamicrange: addresses handed to unknown clients. */
  pool?: { start: string; end: string };
  /** networks.tftpserver: the subnet's default next-server. */
  nextServer?: string;
  mtu?: number;
}

/** The whole configuration. Hosts are sorted by node name, subnets by address. */
export interface DhcpConfig {
  /** site.dhcpinterfaces; empty: every interface. */
  interfaces: string[];
  /** site.dhcplease in seconds. */
  leaseSeconds: number;
  /**
   * Where the server keeps its leases, as a host path: under --root for a staged management
   * node (its default place, /var/lib/..., on a real one), so a server started on the staged
   * configuration never writes the machine's own lease file.
   */
  leaseFile: string;
  subnets: DhcpSubnet[];
  hosts: DhcpHost[];
}

/** The 32-bit value of a dotted quad. */
export function ipv4Value(ip: string): number {
  return ip.split(".").reduce((value, part) => value * 256 + Number(part), 0);
}

/** Whether `text` is a dotted-quad IPv4 address. */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

/** The prefix length of a netmask (255.255.255.0 → 24); a mask with holes is refused. */
export function maskPrefix(mask: string): number {
  if (!isIpv4(mask)) throw new InvalidInputError(`'${mask}' is not a netmask`);
  const bits = ipv4Value(mask).toString(2).padStart(32, "0");
  if (!/^1*0*$/.test(bits)) throw new InvalidInputError(`'${mask}' is not a contiguous netmask`);
  return bits.indexOf("0") < 0 ? 32 : bits.indexOf("0");
}

/** Whether `ip` lies in the subnet. */
export function inSubnet(subnet: Pick<DhcpSubnet, "net" | "prefix">, ip: string): boolean {
  const size = 2 ** (32 - subnet.prefix);
  return Math.floor(ipv4Value(ip) / size) === Math.floor(ipv4Value(subnet.net) / size);
}

/** The MAC in the one form every server accepts: lower case, colon separated. */
export function normalizeMac(text: string): string | undefined {
  const mac = text.trim().toLowerCase().replaceAll("-", ":");
  return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) ? mac : undefined;
}

/**
 * The host entries a config file carries as its own record (a comment line or a user-context),
 * read back; anything else is a damaged or foreign file.
 */
export function parseHostRecord(json: string, where: string): DhcpHost {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new InvalidInputError(`${where}: an osimg host record is not valid JSON`);
  }
  const host = value as Partial<DhcpHost>;
  const kinds: BootClient[] = ["ipxe-uefi", "ipxe-bios", "uefi", "bios", "any"];
  if (
    typeof host?.node !== "string" || typeof host.mac !== "string" ||
    typeof host.ip !== "string" || typeof host.hostname !== "string" ||
    typeof host.nextServer !== "string" || !Array.isArray(host.rules) ||
    !host.rules.every((rule) => kinds.includes(rule?.client) && typeof rule.file === "string")
  ) {
    throw new InvalidInputError(`${where}: an osimg host record is incomplete`);
  }
  return {
    node: host.node,
    mac: host.mac,
    ip: host.ip,
    hostname: host.hostname,
    nextServer: host.nextServer,
    rules: host.rules.map((rule) => ({ client: rule.client, file: rule.file })),
  };
}
