// The DHCP servers makedhcp writes for, chosen by site.dhcpserver: where each one's
// configuration lives, how it is rendered and read back, and the server's own check of it.

import type { DhcpConfig, DhcpHost } from "../../formats/dhcp/dhcp_model.ts";
import { parseKeaHosts, renderKeaConfig } from "../../formats/dhcp/kea_config.ts";
import { parseDnsmasqHosts, renderDnsmasqConfig } from "../../formats/dhcp/dnsmasq_config.ts";
import {
  type DhcpLease,
  parseDnsmasqLeases,
  parseKeaLeases,
} from "../../formats/dhcp/dhcp_leases.ts";

/** How the server runs in the foreground on makedhcp's file (`osimg demo --boot`, its test). */
export interface DhcpDaemon {
  /** The argv that serves `configFile` in the foreground, its run files in `runDir`. */
  argv(configFile: string, runDir: string): string[];
  /** Environment for it (where its pid and lock files go). */
  env(runDir: string): Record<string, string>;
  /** The output line that says it is serving. */
  ready: RegExp;
}

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
  daemon: DhcpDaemon;
  /** The leases of its lease file. */
  parseLeases(text: string): DhcpLease[];
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
    daemon: {
      argv: (file) => ["kea-dhcp4", "-c", file],
      // Kea 2.2 puts its pid file in KEA_PIDFILE_DIR and its log lock in KEA_LOCKFILE_DIR
      // (default /run/kea): a run of its own keeps them apart from a system Kea.
      env: (runDir) => ({ KEA_PIDFILE_DIR: runDir, KEA_LOCKFILE_DIR: runDir }),
      ready: /DHCP4_STARTED/,
    },
    parseLeases: parseKeaLeases,
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
    daemon: {
      // No DNS (--port=0): only DHCP; --conf-file alone, not the system's /etc/dnsmasq.conf.
      argv: (file, runDir) => [
        "dnsmasq",
        "--keep-in-foreground",
        "--log-facility=-",
        "--log-dhcp",
        "--port=0",
        `--conf-file=${file}`,
        `--pid-file=${runDir}/dnsmasq.pid`,
      ],
      env: () => ({}),
      ready: /started, version/,
    },
    parseLeases: parseDnsmasqLeases,
  },
];

/** The server named by site.dhcpserver, or undefined. */
export function dhcpServer(name: string): DhcpServer | undefined {
  return DHCP_SERVERS.find((server) => server.name === name);
}
