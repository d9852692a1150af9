// The network seam of nodeset: host-name lookups and this machine's addresses, so tests are
// deterministic and the real run asks the system.

import { lookup } from "node:dns/promises";

/** One IPv4 address of this machine with its network prefix length. */
export interface LocalAddress {
  address: string;
  prefix: number;
}

/** What nodeset asks the network. */
export interface NodesetNetwork {
  /** The IPv4 address of a host name by the system resolver (/etc/hosts, DNS), or undefined. */
  lookup(name: string): Promise<string | undefined>;
  /** This machine's IPv4 addresses (to find the one facing a node, xCAT's `!myipfn!`). */
  localAddresses(): LocalAddress[];
}

/** The system's resolver and interfaces. */
export const systemNetwork: NodesetNetwork = {
  async lookup(name) {
    try {
      return (await lookup(name, { family: 4 })).address;
    } catch {
      return undefined;
    }
  },
  localAddresses() {
    return Deno.networkInterfaces()
      .filter((nic) => nic.family === "IPv4" && !nic.address.startsWith("127."))
      .map((nic) => ({ address: nic.address, prefix: Number(nic.cidr.split("/")[1] ?? 32) }));
  },
};

/** Whether `text` is a dotted-quad IPv4 address. */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

function ipValue(ip: string): number {
  return ip.split(".").reduce((value, part) => value * 256 + Number(part), 0);
}

/** The local address on the same network as `ip` (the one the node reaches us by), if any. */
export function facingAddress(local: readonly LocalAddress[], ip: string): string | undefined {
  const target = ipValue(ip);
  for (const { address, prefix } of local) {
    const size = 2 ** (32 - Math.min(32, Math.max(0, prefix)));
    if (Math.floor(ipValue(address) / size) === Math.floor(target / size)) return address;
  }
  return undefined;
}
