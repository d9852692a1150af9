// makedhcp: write the DHCP server's configuration (Kea or dnsmasq) from the tables.

import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import { makedhcp as runMakedhcp, type MakedhcpRequest } from "../core/dhcp/makedhcp.ts";

export const makedhcp: Command = {
  name: "makedhcp",
  usage: `Usage:
  makedhcp [-h | --help]
  makedhcp <noderange>           add or refresh the nodes' entries (others are kept)
  makedhcp -a                    every node with a MAC address (others are kept)
  makedhcp -n                    a new configuration from scratch: every node with a MAC
  makedhcp -d <noderange>        remove exactly the nodes' entries
  makedhcp -q <noderange> [--json]
                                 show the nodes' entries

The server is site.dhcpserver: kea (default; <root>/etc/kea/kea-dhcp4.conf) or dnsmasq
(<root>/etc/dnsmasq.d/osimg.conf). Subnets come from the networks table. Each new file is
checked by the server ('kea-dhcp4 -t', 'dnsmasq --test') before it replaces the old one. xnba
nodes need Debian's ipxe package: undionly.kpxe and ipxe.efi are copied to
<tftpdir>/xcat/xnba.kpxe and xnba.efi (OSIMG_IPXE_DIR overrides /usr/lib/ipxe).
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("makedhcp", args, {
      n: { type: "boolean" },
      a: { type: "boolean" },
      d: { type: "boolean" },
      q: { type: "boolean" },
      json: { type: "boolean" },
    }, { maxPositionals: 1 });
    const modes = ["n", "a", "d", "q"].filter((flag) => booleanFlag(flags, flag));
    if (modes.length > 1) {
      throw new UsageError(`makedhcp: -${modes.join(", -")} cannot be combined.`);
    }
    const range = positionals[0];
    const mode = modes[0];
    let request: MakedhcpRequest;
    if (mode === "n" || mode === "a") {
      if (range !== undefined) {
        throw new UsageError(`makedhcp: -${mode} takes no noderange.`);
      }
      request = { mode: mode === "n" ? "new" : "all" };
    } else {
      if (range === undefined) {
        throw new UsageError("makedhcp: a noderange (or -n, -a) is needed. Run 'makedhcp --help'.");
      }
      request = mode === "d"
        ? { mode: "delete", range }
        : mode === "q"
        ? { mode: "query", range }
        : { mode: "add", range };
    }
    const result = await runMakedhcp(ctx, request, {
      ipxeDirectory: ctx.env.OSIMG_IPXE_DIR,
    });
    if (request.mode === "query") {
      if (booleanFlag(flags, "json")) {
        ctx.io.out(JSON.stringify(result.hosts, null, 2) + "\n");
        return;
      }
      for (const host of result.hosts) {
        // xCAT's makedhcp -q line.
        ctx.io.out(`${host.node}: ip-address = ${host.ip}, hardware-address = ${host.mac}\n`);
      }
      return;
    }
    const hosts = `${result.hosts.length} host${result.hosts.length === 1 ? "" : "s"}`;
    for (const path of result.copied) ctx.reporter.info(`Copied the iPXE first stage to ${path}`);
    ctx.reporter.info(
      result.written
        ? `Wrote ${result.configPath} (${result.server.name}, ${hosts}), checked by ${result.server.checker.program}.`
        : `${result.configPath} is up to date (${result.server.name}, ${hosts}).`,
    );
  },
};
