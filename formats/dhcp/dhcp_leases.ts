// The lease files DHCP servers keep (Kea's memfile CSV, dnsmasq's leasefile): which MAC got
// which address.

import { normalizeMac } from "./dhcp_model.ts";

/** One lease: the client's MAC (lower case, colons) and the address it got. */
export interface DhcpLease {
  mac: string;
  ip: string;
}

/** The leases in file order; a later line for a MAC (a renewal) comes after the earlier one. */
function leasesOf(rows: Iterable<{ mac?: string; ip?: string }>): DhcpLease[] {
  const leases: DhcpLease[] = [];
  for (const row of rows) {
    const mac = row.mac === undefined ? undefined : normalizeMac(row.mac);
    if (mac && row.ip && /^\d{1,3}(\.\d{1,3}){3}$/.test(row.ip)) leases.push({ mac, ip: row.ip });
  }
  return leases;
}

/**
 * Kea's memfile lease file (kea-leases4.csv): a header line naming the columns (`address`,
 * `hwaddr`, ...), then one line per lease change; state 0 is a live lease, 1 declined and 2
 * expired-reclaimed, which are left out.
 *
 * @example
 * ```ts
 * parseKeaLeases("address,hwaddr,state\n198.51.100.11,52:54:00:51:64:0b,0\n");
 * // [{ mac: "52:54:00:51:64:0b", ip: "198.51.100.11" }]
 * ```
 */
export function parseKeaLeases(text: string): DhcpLease[] {
  const [header, ...lines] = text.split("\n").filter((line) => line.trim() !== "");
  if (!header) return [];
  const columns = header.split(",");
  const at = (name: string) => columns.indexOf(name);
  const [address, hwaddr, state] = [at("address"), at("hwaddr"), at("state")];
  if (address < 0 || hwaddr < 0) return [];
  return leasesOf(
    lines.map((line) => line.split(",")).filter((fields) =>
      state < 0 || (fields[state] ?? "0") === "0"
    ).map((fields) => ({ mac: fields[hwaddr], ip: fields[address] })),
  );
}

/**
 * dnsmasq's lease file: `<expiry> <mac> <ip> <hostname> <client-id>` per line.
 *
 * @example
 * ```ts
 * parseDnsmasqLeases("1733400000 52:54:00:51:64:0b 198.51.100.11 cn01 *\n");
 * ```
 */
export function parseDnsmasqLeases(text: string): DhcpLease[] {
  return leasesOf(
    text.split("\n").map((line) => line.trim().split(/\s+/)).map((fields) => ({
      mac: fields[1],
      ip: fields[2],
    })),
  );
}
