// makedhcp: the DHCP server's configuration from the tables — host reservations and the boot
// files xCAT gives each netboot kind — checked by the server itself before it replaces the old.

import { lookup as dnsLookup } from "node:dns/promises";
import { dirname } from "node:path";
import { type Context, hostPathOf, siteValue, tftpDir } from "../context.ts";
import { ExternalCommandError, InvalidInputError, NotFoundError, OsimgError } from "../errors.ts";
import { loadNodeUniverse, type NodeUniverse } from "../nodes/node_universe.ts";
import { expandNoderange } from "../nodes/noderange.ts";
import { noderangeEnvironment } from "../nodes/noderange_environment.ts";
import type { Row } from "../store/store.ts";
import {
  type DhcpConfig,
  type DhcpHost,
  type DhcpSubnet,
  inSubnet,
  ipv4Value,
  isIpv4,
  maskPrefix,
  normalizeMac,
} from "../../formats/dhcp/dhcp_model.ts";
import {
  DHCP_BOOT_LOADERS,
  dhcpBootLoader,
  type FirstStageFile,
  IPXE_DIRECTORY,
  IPXE_PACKAGE,
} from "../../providers/bootloaders/dhcp_boot_rules.ts";
import {
  DEFAULT_DHCP_SERVER,
  DHCP_SERVERS,
  type DhcpServer,
  dhcpServer,
} from "../../providers/dhcp_servers/dhcp_servers.ts";

/** What makedhcp was asked: xCAT's verbs. */
export type MakedhcpRequest =
  /** `makedhcp <noderange>`: add or refresh these nodes' entries, keep the others. */
  | { mode: "add"; range: string }
  /** `makedhcp -a`: every node with a MAC, keeping entries of nodes no longer defined. */
  | { mode: "all" }
  /** `makedhcp -n`: a new configuration from scratch, every node with a MAC. */
  | { mode: "new" }
  /** `makedhcp -d <noderange>`: remove exactly these nodes' entries. */
  | { mode: "delete"; range: string }
  /** `makedhcp -q <noderange>`: show these nodes' entries. */
  | { mode: "query"; range: string };

/** The seams of makedhcp: where the iPXE binaries are, how names resolve. */
export interface MakedhcpOptions {
  /** The directory of the iPXE package's binaries (default /usr/lib/ipxe). */
  ipxeDirectory?: string;
  /** The IPv4 address of a host name (default: the system resolver). */
  lookup?: (name: string) => Promise<string | undefined>;
}

/** What makedhcp did. */
export interface MakedhcpResult {
  server: DhcpServer;
  /** The configuration file (a management path). */
  configPath: string;
  /** The entries shown (-q) or now in the file. */
  hosts: DhcpHost[];
  /** Whether the file was replaced (false: -q, or nothing changed). */
  written: boolean;
  /** First-stage binaries copied (new or changed) into the TFTP root (management paths). */
  copied: string[];
}

const NODE_TABLES = ["nodelist", "mac", "hosts", "noderes"];

async function systemLookup(name: string): Promise<string | undefined> {
  try {
    return (await dnsLookup(name, { family: 4 })).address;
  } catch {
    return undefined;
  }
}

/**
 * Runs makedhcp. Every problem is found before anything is written; the new file is written
 * beside the old one, checked by the server's own program (`kea-dhcp4 -t`, `dnsmasq --test`)
 * and only then renamed over it, so a rejected configuration leaves the old one untouched.
 *
 * @example
 * ```ts
 * await makedhcp(ctx, { mode: "add", range: "cn01,cn02" });
 * ```
 */
export async function makedhcp(
  ctx: Pick<Context, "root" | "store" | "runner" | "cwd" | "env">,
  request: MakedhcpRequest,
  options: MakedhcpOptions = {},
): Promise<MakedhcpResult> {
  const store = await ctx.store();
  const { universe, networks } = await store.read(async (reader) => ({
    universe: await loadNodeUniverse(reader, NODE_TABLES),
    networks: await reader.rows("networks"),
  }));
  const serverName = (await siteValue(store, "dhcpserver")) ?? DEFAULT_DHCP_SERVER;
  const server = dhcpServer(serverName);
  if (!server) {
    throw new InvalidInputError(
      `The site attribute dhcpserver='${serverName}' names no DHCP server makedhcp knows ` +
        `(${DHCP_SERVERS.map((known) => known.name).join(", ")}); set it with ` +
        `'chdef -t site dhcpserver=kea'.`,
    );
  }
  const configFile = hostPathOf(ctx, server.configPath);
  const existing = request.mode === "new" ? [] : await readHosts(server, configFile);
  const byNode = new Map(existing.map((host) => [host.node, host]));
  const range = (text: string, verify: boolean) =>
    expandNoderange(text, universe, { ...noderangeEnvironment(ctx), verify });

  if (request.mode === "query") {
    const nodes = range(request.range, false);
    const hosts = nodes.flatMap((node) => byNode.get(node) ?? []);
    if (hosts.length === 0) {
      throw new NotFoundError(
        `No DHCP entry for ${nodes.join(",")} in ${server.configPath} (${server.name}).`,
      );
    }
    return { server, configPath: server.configPath, hosts, written: false, copied: [] };
  }

  const lookup = options.lookup ?? systemLookup;
  const resolver = nameResolver(universe, lookup);
  const site = async (key: string) => await siteValue(store, key);
  const subnets = await subnetsOf(networks, resolver, site);
  if (request.mode === "delete") {
    for (const node of range(request.range, false)) byNode.delete(node);
  } else {
    const nodes = request.mode === "add"
      ? range(request.range, true)
      : universe.nodes.filter((node) => universe.inheritedValue("mac", "mac", node));
    const settings = {
      httpPort: (await site("httpport")) ?? "80",
      tftpDir: await tftpDir(store),
      master: await site("master"),
    };
    const problems: string[] = [];
    for (const node of nodes) {
      try {
        byNode.set(node, await hostOf(node, universe, subnets, resolver, settings));
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        problems.push(error.message);
      }
    }
    if (problems.length > 0) {
      throw new InvalidInputError(problems[0]!, {
        details: problems.length > 1 ? problems.slice(1) : [],
      });
    }
  }
  const hosts = [...byNode.values()].sort((a, b) => a.node < b.node ? -1 : a.node > b.node ? 1 : 0);
  for (const host of hosts) {
    if (!subnets.some((subnet) => inSubnet(subnet, host.ip))) {
      throw new InvalidInputError(
        `${host.node}'s address ${host.ip} is on no network of the networks table; add the ` +
          `network (mkdef -t network) or remove the node's entry (makedhcp -d ${host.node}).`,
      );
    }
  }
  const config: DhcpConfig = {
    interfaces: await interfacesOf(await site("dhcpinterfaces")),
    leaseSeconds: leaseOf(await site("dhcplease")),
    leaseFile: hostPathOf(ctx, server.leasePath),
    subnets,
    hosts,
  };
  const text = server.render(config);
  const firstStages = neededFirstStages(hosts);
  const ipxeDirectory = options.ipxeDirectory ?? IPXE_DIRECTORY;
  const sources = await readFirstStages(firstStages, ipxeDirectory);
  const tftpRoot = hostPathOf(ctx, await tftpDir(store));

  const current = await Deno.readTextFile(configFile).catch(() => undefined);
  let written = false;
  let copied: FirstStageFile[];
  if (current !== text) {
    await Deno.mkdir(dirname(configFile), { recursive: true });
    const staged = `${configFile}.osimg-new`;
    await Deno.writeTextFile(staged, text, { mode: 0o644 });
    try {
      await checkConfiguration(ctx, server, staged);
    } catch (error) {
      await Deno.remove(staged).catch(() => {});
      throw error;
    }
    copied = await copyFirstStages(sources, tftpRoot);
    // The server starts on this file: the lease file's directory must be there.
    await Deno.mkdir(dirname(hostPathOf(ctx, server.leasePath)), { recursive: true });
    await Deno.rename(staged, configFile);
    written = true;
  } else {
    copied = await copyFirstStages(sources, tftpRoot);
  }
  const tftpPath = await tftpDir(store);
  return {
    server,
    configPath: server.configPath,
    hosts,
    written,
    copied: copied.map((file) => `${tftpPath}/${file.target}`),
  };
}

async function readHosts(server: DhcpServer, file: string): Promise<DhcpHost[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return server.parseHosts(text, server.configPath);
}

/** Resolves a server or node name to IPv4: a literal, a node's hosts.ip, then the resolver. */
function nameResolver(
  universe: NodeUniverse,
  lookup: (name: string) => Promise<string | undefined>,
): (name: string) => Promise<string | undefined> {
  return async (name) => {
    if (isIpv4(name)) return name;
    if (universe.hasNode(name)) {
      const ip = universe.inheritedValue("hosts", "ip", name);
      if (ip && isIpv4(ip)) return ip;
    }
    return await lookup(name);
  };
}

/** xCAT's keyword for "the management node" in networks.gateway and nameservers. */
const XCATMASTER = "<xcatmaster>";

async function subnetsOf(
  networks: readonly Row[],
  resolve: (name: string) => Promise<string | undefined>,
  site: (key: string) => Promise<string | undefined>,
): Promise<DhcpSubnet[]> {
  const subnets: DhcpSubnet[] = [];
  const master = await site("master");
  const address = async (what: string, value: string, netname: string, row: Row) => {
    // <xcatmaster> is the server of this network: its tftpserver, else the management node.
    const name = value === XCATMASTER ? (row.tftpserver ?? master) : value;
    const ip = name ? await resolve(name) : undefined;
    if (!ip) {
      throw new InvalidInputError(
        `The network ${netname}'s ${what} '${value}' does not resolve to an IPv4 address` +
          (value === XCATMASTER ? " (set site.master)." : "."),
      );
    }
    return ip;
  };
  for (const row of networks) {
    const netname = row.netname ?? row.net ?? "?";
    if (!row.net || !isIpv4(row.net) || !row.mask) {
      throw new InvalidInputError(
        `The network ${netname} needs an IPv4 net and a mask (networks.net, networks.mask).`,
      );
    }
    let prefix: number;
    try {
      prefix = maskPrefix(row.mask);
    } catch (error) {
      throw new InvalidInputError(`The network ${netname}: ${(error as Error).message}.`);
    }
    const nameservers = [];
    for (const name of (row.nameservers ?? (await site("nameservers")) ?? "").split(",")) {
      if (name.trim()) nameservers.push(await address("name server", name.trim(), netname, row));
    }
    let pool: DhcpSubnet["pool"];
    if (row.dynamicrange) {
      const [start, end] = row.dynamicrange.split(/[-,]/).map((part) => part.trim());
      const subnet = { net: row.net, prefix };
      if (
        !start || !end || !isIpv4(start) || !isIpv4(end) || !inSubnet(subnet, start) ||
        !inSubnet(subnet, end) || ipv4Value(start) > ipv4Value(end)
      ) {
        throw new InvalidInputError(
          `The network ${netname}'s dynamicrange '${row.dynamicrange}' is not 'first-last' ` +
            `inside ${row.net}/${prefix}.`,
        );
      }
      pool = { start, end };
    }
    const mtu = row.mtu ? Number(row.mtu) : undefined;
    if (mtu !== undefined && !(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) {
      throw new InvalidInputError(`The network ${netname}'s mtu '${row.mtu}' is not 68-65535.`);
    }
    subnets.push({
      name: netname,
      net: row.net,
      mask: row.mask,
      prefix,
      gateway: row.gateway ? await address("gateway", row.gateway, netname, row) : undefined,
      nameservers,
      domain: row.domain ?? (await site("domain")),
      pool,
      nextServer: row.tftpserver
        ? await address("tftpserver", row.tftpserver, netname, row)
        : undefined,
      mtu,
    });
  }
  return subnets.sort((a, b) => ipv4Value(a.net) - ipv4Value(b.net) || a.prefix - b.prefix);
}

async function hostOf(
  node: string,
  universe: NodeUniverse,
  subnets: readonly DhcpSubnet[],
  resolve: (name: string) => Promise<string | undefined>,
  settings: { httpPort: string; tftpDir: string; master: string | undefined },
): Promise<DhcpHost> {
  // mac.mac: `mac[!name]|mac2!alias...`; the first belongs to the node itself.
  const macValue = universe.inheritedValue("mac", "mac", node);
  if (!macValue) {
    throw new InvalidInputError(
      `${node} has no MAC address (mac.mac); set it with 'chdef ${node} mac=<address>'.`,
    );
  }
  const first = macValue.split("|")[0]!.split("!")[0]!;
  const mac = normalizeMac(first);
  if (!mac) throw new InvalidInputError(`${node}'s MAC address '${first}' is not a MAC address.`);
  const ip = await resolve(node);
  if (!ip) {
    throw new InvalidInputError(
      `${node} has no IPv4 address (hosts.ip, or its name in /etc/hosts or DNS).`,
    );
  }
  const noderes = universe.inheritedRow("noderes", node);
  const subnet = subnets.find((candidate) => inSubnet(candidate, ip));
  const serverName = noderes.tftpserver ?? noderes.xcatmaster ?? subnet?.nextServer ??
    settings.master;
  const server = serverName ? await resolve(serverName) : undefined;
  if (!server) {
    throw new InvalidInputError(
      serverName
        ? `${node}'s boot server '${serverName}' does not resolve to an IPv4 address.`
        : `${node} has no boot server: set noderes.xcatmaster (or tftpserver) or site.master.`,
    );
  }
  const netboot = noderes.netboot;
  let rules: DhcpHost["rules"] = [];
  if (netboot) {
    const loader = dhcpBootLoader(netboot);
    if (!loader) {
      throw new InvalidInputError(
        `${node}'s netboot '${netboot}' is not one makedhcp knows ` +
          `(${DHCP_BOOT_LOADERS.map((known) => known.netboot).join(", ")}).`,
      );
    }
    rules = loader.rules({ node, server, httpPort: settings.httpPort, tftpDir: settings.tftpDir });
  }
  return { node, mac, ip, hostname: node, nextServer: server, rules };
}

async function interfacesOf(value: string | undefined): Promise<string[]> {
  if (!value) return [];
  if (/[|;]/.test(value)) {
    throw new InvalidInputError(
      `site.dhcpinterfaces='${value}': the per-server form (host|interfaces;...) is not ` +
        `supported; give the interfaces of this server as a comma list (e.g. eth1,eth2).`,
    );
  }
  const names = value.split(",").map((name) => name.trim()).filter(Boolean);
  for (const name of names) {
    if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(name)) {
      throw new InvalidInputError(`site.dhcpinterfaces: '${name}' is not an interface name.`);
    }
  }
  return await Promise.resolve(names);
}

function leaseOf(value: string | undefined): number {
  const seconds = Number(value ?? "43200");
  if (!Number.isInteger(seconds) || seconds < 60) {
    throw new InvalidInputError(`site.dhcplease='${value}' is not a number of seconds (>= 60).`);
  }
  return seconds;
}

/** The first stages the hosts' rules point at (a rule file is a loader's target path). */
function neededFirstStages(hosts: readonly DhcpHost[]): FirstStageFile[] {
  const files = new Set(hosts.flatMap((host) => host.rules.map((rule) => rule.file)));
  return DHCP_BOOT_LOADERS.flatMap((loader) => loader.firstStage).filter((stage) =>
    files.has(stage.target)
  );
}

async function readFirstStages(
  stages: readonly FirstStageFile[],
  directory: string,
): Promise<{ file: FirstStageFile; bytes: Uint8Array }[]> {
  const read = [];
  for (const file of stages) {
    const path = `${directory}/${file.source}`;
    try {
      read.push({ file, bytes: await Deno.readFile(path) });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new NotFoundError(
        `The iPXE first stage ${path} is missing: install the Debian package ` +
          `'${IPXE_PACKAGE}' (apt-get install ${IPXE_PACKAGE}).`,
        { cause: error },
      );
    }
  }
  return read;
}

/** Copies each binary to its xCAT name in the TFTP root, replacing by rename, only if it differs. */
async function copyFirstStages(
  sources: readonly { file: FirstStageFile; bytes: Uint8Array }[],
  tftpRoot: string,
): Promise<FirstStageFile[]> {
  const copied = [];
  for (const { file, bytes } of sources) {
    const target = `${tftpRoot}/${file.target}`;
    const current = await Deno.readFile(target).catch(() => undefined);
    if (current && current.length === bytes.length && current.every((b, i) => b === bytes[i])) {
      continue;
    }
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.writeFile(`${target}.osimg-new`, bytes, { mode: 0o644 });
    await Deno.rename(`${target}.osimg-new`, target);
    copied.push(file);
  }
  return copied;
}

/** The server's own check of the staged file; a rejection keeps the old file. */
async function checkConfiguration(
  ctx: Pick<Context, "runner">,
  server: DhcpServer,
  file: string,
): Promise<void> {
  const argv = server.checkArgv(file);
  let result;
  try {
    result = await ctx.runner.run(argv, { allowFailure: true });
  } catch (error) {
    if (error instanceof ExternalCommandError && error.code === 127) {
      throw new NotFoundError(
        `Cannot check the ${server.name} configuration: ${server.checker.program} is not ` +
          `installed (Debian package '${server.checker.package}').`,
        { cause: error },
      );
    }
    throw error;
  }
  if (result.code !== 0) {
    // The checker's verdict is its last line (Kea: "Error encountered: ...", on stdout after
    // its log lines; dnsmasq: "dnsmasq: <problem> at line N of <file>").
    const output = `${result.stderr}\n${new TextDecoder().decode(result.stdout)}`.trim()
      .split("\n").filter((line) => line.trim()).slice(-1).join("");
    throw new OsimgError(
      `${argv[0]} rejected the new configuration; ${server.configPath} is unchanged: ${output}`,
    );
  }
}
