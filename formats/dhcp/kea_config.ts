// ISC Kea's kea-dhcp4 JSON configuration from a DhcpConfig, and the host entries read back.

import { InvalidInputError } from "../../core/errors.ts";
import {
  type BootClient,
  type DhcpConfig,
  type DhcpHost,
  inSubnet,
  ipv4Value,
  parseHostRecord,
} from "./dhcp_model.ts";

/**
 * Client class tests. iPXE says who it is by user class "iPXE" (option 77, sent raw, not in
 * RFC 3004 form) and by its encapsulated option 175; xCAT's own iPXE build says "xNBA". UEFI
 * clients send client architecture (option 93) 7 or 9 (RFC 4578; both x86-64 UEFI).
 */
const IPXE = "(option[77].hex == 'iPXE' or option[77].hex == 'xNBA' or option[175].exists)";
const UEFI = "(option[93].hex == 0x0007 or option[93].hex == 0x0009)";

const KIND_TEST: Readonly<Record<BootClient, string>> = {
  "ipxe-uefi": `${IPXE} and ${UEFI}`,
  "ipxe-bios": `${IPXE} and not ${UEFI}`,
  "uefi": `not ${IPXE} and ${UEFI}`,
  "bios": `not ${IPXE} and not ${UEFI}`,
  "any": "",
};

/** The class name of one rule of one host: `osimg-<node>-<kind>`. */
function className(node: string, client: BootClient): string {
  return `osimg-${node}-${client}`;
}

/**
 * Renders the kea-dhcp4 configuration. Each node gets a reservation (MAC, IP, host name,
 * next-server) in the subnet its IP lies in, and one client class per boot rule, tested on its
 * MAC and the client kind, carrying the boot file. The rules of a node exclude each other, so
 * the order Kea evaluates classes in does not matter. The reservation's user-context keeps the
 * host record, which is how makedhcp reads its own entries back (-d, -q).
 *
 * @example
 * ```ts
 * const text = renderKeaConfig(config);
 * ```
 */
export function renderKeaConfig(config: DhcpConfig): string {
  const classes = config.hosts.flatMap((host) =>
    host.rules.map((rule) => {
      const macTest = `pkt4.mac == 0x${host.mac.replaceAll(":", "")}`;
      const kind = KIND_TEST[rule.client];
      return {
        name: className(host.node, rule.client),
        test: kind ? `${macTest} and ${kind}` : macTest,
        "boot-file-name": rule.file,
      };
    })
  );
  const subnets = config.subnets.map((subnet) => {
    const options: { name: string; data: string }[] = [];
    if (subnet.gateway) options.push({ name: "routers", data: subnet.gateway });
    if (subnet.nameservers.length > 0) {
      options.push({ name: "domain-name-servers", data: subnet.nameservers.join(", ") });
    }
    if (subnet.domain) options.push({ name: "domain-name", data: subnet.domain });
    if (subnet.mtu) options.push({ name: "interface-mtu", data: String(subnet.mtu) });
    const reservations = config.hosts.filter((host) => inSubnet(subnet, host.ip)).map((host) => ({
      "hw-address": host.mac,
      "ip-address": host.ip,
      "hostname": host.hostname,
      "next-server": host.nextServer,
      "user-context": { osimg: host },
    }));
    return {
      // The network address as the id: stable across runs, so leases keep their subnet.
      id: ipv4Value(subnet.net),
      subnet: `${subnet.net}/${subnet.prefix}`,
      ...(subnet.nextServer ? { "next-server": subnet.nextServer } : {}),
      ...(subnet.pool ? { pools: [{ pool: `${subnet.pool.start} - ${subnet.pool.end}` }] } : {}),
      ...(options.length > 0 ? { "option-data": options } : {}),
      ...(reservations.length > 0 ? { reservations } : {}),
      "user-context": { netname: subnet.name },
    };
  });
  const dhcp4 = {
    "interfaces-config": {
      interfaces: config.interfaces.length > 0 ? config.interfaces : ["*"],
    },
    "lease-database": { type: "memfile", name: config.leaseFile, "lfc-interval": 3600 },
    "valid-lifetime": config.leaseSeconds,
    // Host reservations are looked up by MAC only.
    "host-reservation-identifiers": ["hw-address"],
    ...(classes.length > 0 ? { "client-classes": classes } : {}),
    subnet4: subnets,
  };
  return "# Written by osimg makedhcp from the xCAT tables (networks, mac, hosts, noderes, site).\n" +
    "# Changes made here are lost at the next makedhcp; change the tables instead.\n" +
    JSON.stringify({ Dhcp4: dhcp4 }, null, 2) + "\n";
}

/**
 * The host entries of a configuration makedhcp wrote (from the reservations' user-context).
 * A file that is not JSON, or not Kea's, is refused: makedhcp does not overwrite what it
 * cannot read (`-n` starts from scratch instead).
 */
export function parseKeaHosts(text: string, where: string): DhcpHost[] {
  let config: unknown;
  try {
    // Kea allows '#' and '//' comment lines; makedhcp only writes '#' lines at the top.
    config = JSON.parse(text.split("\n").filter((line) => !/^\s*(#|\/\/)/.test(line)).join("\n"));
  } catch {
    throw new InvalidInputError(
      `${where} is not a Kea configuration makedhcp can read (not JSON); ` +
        `'makedhcp -n' writes a new one.`,
    );
  }
  const subnets = (config as { Dhcp4?: { subnet4?: unknown } })?.Dhcp4?.subnet4;
  if (!Array.isArray(subnets)) {
    throw new InvalidInputError(
      `${where} has no Dhcp4.subnet4 list; 'makedhcp -n' writes a new configuration.`,
    );
  }
  const hosts: DhcpHost[] = [];
  for (const subnet of subnets) {
    for (const reservation of (subnet as { reservations?: unknown[] })?.reservations ?? []) {
      const record = (reservation as { "user-context"?: { osimg?: unknown } })?.["user-context"]
        ?.osimg;
      if (record !== undefined) hosts.push(parseHostRecord(JSON.stringify(record), where));
    }
  }
  return hosts;
}
