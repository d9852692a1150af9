// The whole chain on one machine: genimage → packimage → nodes, then a network namespace with
// a bridge where makedhcp and nodeset prepare, the real DHCP server and `osimg serve` serve, and
// two QEMU VMs (BIOS and UEFI) boot the image until its systemd prints each node's name.

import { dirname } from "node:path";
import { type Context, hostPathOf } from "../context.ts";
import { NotFoundError, OsimgError, UsageError } from "../errors.ts";
import { type BackgroundProcess, hasProgram } from "../process.ts";
import type { AptSource } from "../genimage/apt_mirror.ts";
import type { DhcpLease } from "../../formats/dhcp/dhcp_leases.ts";
import { type DhcpServer, dhcpServer } from "../../providers/dhcp_servers/dhcp_servers.ts";

/** The image the chain builds (xCAT's default name for a Debian netboot compute image). */
export const CHAIN_PROFILE = "compute";

/** The chain's network: the management node's side of the bridge and the nodes. */
export const CHAIN_NETWORK = {
  net: "198.51.100.0",
  mask: "255.255.255.0",
  prefix: 24,
  master: "198.51.100.1",
  /** Names inside the chain's own network namespace, so they cannot clash with the host's. */
  bridge: "br0",
} as const;

/** One node of the chain and the firmware its VM runs. */
export interface ChainNodeSpec {
  node: string;
  mac: string;
  ip: string;
  firmware: "bios" | "uefi";
}

/** The two nodes: SeaBIOS with QEMU's iPXE ROM, and OVMF (UEFI). */
export const CHAIN_NODES: readonly ChainNodeSpec[] = [
  { node: "cn01", mac: "52:54:00:51:64:0b", ip: "198.51.100.11", firmware: "bios" },
  { node: "cn02", mac: "52:54:00:51:64:0c", ip: "198.51.100.12", firmware: "uefi" },
];

/** What the image's systemd prints on the serial console, with the node's name. */
export const BOOT_MARKER = "OSIMG-BOOTED node=";

/** The marker in a console line (escape sequences and a carriage return may surround it). */
const MARKER_LINE = new RegExp(`${BOOT_MARKER}([A-Za-z0-9_.-]+)`);

/** The kernel, systemd as init, and a busybox for osimg's netboot initrd. */
export const CHAIN_PKGLIST = "linux-image-amd64\nsystemd-sysv\nbusybox-static\n";

/** What the packed root leaves out, so a software-emulated node unpacks it quickly. */
export const CHAIN_EXLIST = [
  "./usr/share/doc*",
  "./usr/share/man*",
  "./usr/share/info*",
  "./usr/share/locale*",
  // The initrd loaded the NIC's driver; the booted system needs no module to print the marker.
  "./usr/lib/modules*",
  "./boot*",
  "./var/cache/apt*",
  "./var/lib/apt/lists*",
].join("\n") + "\n";

/**
 * genimage's postinstall (run with the rootimg as $1): a unit that prints the node's name —
 * NODE= on the kernel command line, which nodeset's boot entry sets — on the serial console
 * once multi-user.target is reached.
 */
const POSTINSTALL = `#!/bin/sh
set -e
mkdir -p "$1/usr/local/sbin" "$1/etc/systemd/system/multi-user.target.wants"
cat > "$1/usr/local/sbin/osimg-boot-marker" <<'EOF'
#!/bin/sh
for arg in $(cat /proc/cmdline); do
  case "$arg" in NODE=*) node="\${arg#NODE=}" ;; esac
done
echo "${BOOT_MARKER}\${node:-unknown}" > /dev/ttyS0
EOF
chmod 755 "$1/usr/local/sbin/osimg-boot-marker"
cat > "$1/etc/systemd/system/osimg-boot-marker.service" <<'EOF'
[Unit]
Description=osimg: say on the serial console that this node booted
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/osimg-boot-marker

[Install]
WantedBy=multi-user.target
EOF
ln -sf ../osimg-boot-marker.service \\
  "$1/etc/systemd/system/multi-user.target.wants/osimg-boot-marker.service"
`;

/** Where the chain's site files live (xCAT's custom directory for netboot images). */
const CUSTOM = "/install/custom/netboot/debian";

/** UEFI firmware from Debian's ovmf package: code (read-only) and the variable store template. */
const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/** QEMU's iPXE ROM for virtio-net (BIOS and UEFI), from Debian's ipxe-qemu. */
const QEMU_IPXE_ROM = "/usr/lib/ipxe/qemu/efi-virtio.rom";
/** The iPXE first stages makedhcp copies, from Debian's ipxe. */
const IPXE_FIRST_STAGES = ["/usr/lib/ipxe/undionly.kpxe", "/usr/lib/ipxe/ipxe.efi"];
/** The DHCP servers the chain can run, in the order it prefers them. */
const DHCP_SERVER_NAMES = ["kea", "dnsmasq"] as const;

/** Memory per VM: systemd on a RAM root of a minimal Debian (a 2-core, ~23 GB machine runs two). */
const VM_MEMORY_MIB = 1536;
/** How long the DHCP server and `osimg serve` may take to say they are serving. */
const READY_TIMEOUT_MS = 60_000;

/** What the chain needs to look at the machine (a seam: its test asks a made-up machine). */
export interface MachineProbe {
  /** The effective user id (0: root), or null where there is none. */
  uid(): number | null;
  hasProgram(name: string): Promise<boolean>;
  exists(path: string): Promise<boolean>;
}

/** The probe of this machine, programs looked up on `path` (the invocation's PATH). */
export function systemProbe(path: string): MachineProbe {
  const exists = async (file: string) => {
    try {
      await Deno.stat(file);
      return true;
    } catch {
      return false;
    }
  };
  return {
    uid: () => Deno.uid(),
    exists,
    hasProgram: (name) => hasProgram(name, path),
  };
}

/**
 * Checks that the machine can run the chain: root, the programs and firmware files, and a DHCP
 * server (`wanted`, or the first of Kea and dnsmasq that is installed). Everything missing is
 * named in one line, with its Debian package, before anything is changed.
 */
export async function checkBootChainPrerequisites(
  probe: MachineProbe,
  wanted?: string,
): Promise<DhcpServer> {
  const missing: string[] = [];
  if (probe.uid() !== 0) {
    missing.push(
      "root (network namespaces, tap devices and the DHCP server need it; run with sudo)",
    );
  }
  const programs: [string, string][] = [
    ["qemu-system-x86_64", "qemu-system-x86"],
    ["ip", "iproute2"],
    ["timeout", "coreutils"],
    ["debootstrap", "debootstrap"],
  ];
  for (const [program, pkg] of programs) {
    if (!(await probe.hasProgram(program))) missing.push(`${program} (apt-get install ${pkg})`);
  }
  const files: [string, string][] = [
    [OVMF_CODE, "ovmf"],
    [OVMF_VARS, "ovmf"],
    [QEMU_IPXE_ROM, "ipxe-qemu"],
    ...IPXE_FIRST_STAGES.map((file): [string, string] => [file, "ipxe"]),
  ];
  for (const [file, pkg] of files) {
    if (!(await probe.exists(file))) missing.push(`${file} (apt-get install ${pkg})`);
  }
  const candidates = wanted === undefined ? DHCP_SERVER_NAMES : [wanted];
  let server: DhcpServer | undefined;
  for (const name of candidates) {
    const known = dhcpServer(name);
    if (!known) {
      throw new UsageError(
        `demo --boot: --dhcp '${name}' is not one of ${DHCP_SERVER_NAMES.join(", ")}.`,
      );
    }
    if (await probe.hasProgram(known.daemon.argv("", "")[0]!)) {
      server = known;
      break;
    }
  }
  if (!server) {
    missing.push(
      wanted === undefined
        ? "a DHCP server: kea-dhcp4 (apt-get install kea-dhcp4-server) or dnsmasq " +
          "(apt-get install dnsmasq-base)"
        : `${dhcpServer(wanted)!.checker.program} (apt-get install ${
          dhcpServer(wanted)!.checker.package
        })`,
    );
  }
  if (missing.length > 0 || !server) {
    throw new NotFoundError(
      `demo --boot cannot run on this machine; missing: ${
        missing.join("; ")
      }. Nothing was changed.`,
    );
  }
  return server;
}

/** What the chain is given. */
export interface BootChainOptions {
  /** The Debian mirror genimage installs from. */
  mirror: AptSource;
  /** The osvers of the mirror's suite (debian12 for bookworm). */
  osvers: string;
  /** How to start osimg itself as a program (`osimg serve` runs inside the namespace). */
  osimg: readonly string[];
  /** The DHCP server (from {@linkcode checkBootChainPrerequisites}). */
  dhcp: DhcpServer;
  /** A directory of its own for the run's files: logs, leases' run files, OVMF variables. */
  workDir: string;
  /**
   * A debootstrapped root copied in as the rootimg before genimage, which then takes its
   * re-run path (apt-get update, install, upgrade) against the mirror; without it genimage
   * debootstraps from scratch.
   */
  seedRootimg?: string;
  /** How long the two VMs may take to print their markers (default 15 minutes). */
  bootTimeoutMs?: number;
  /** Aborting it (Ctrl-C) stops the VMs and servers and removes the namespace. */
  signal?: AbortSignal;
}

/** One booted node. */
export interface BootedNode extends ChainNodeSpec {
  /** The marker line its systemd printed. */
  marker: string;
  /** From QEMU's start to the marker. */
  seconds: number;
  /** Its serial console, in the work directory. */
  serialLog: string;
}

/** What a successful chain showed. */
export interface BootChainResult {
  image: string;
  nodes: BootedNode[];
  /** The DHCP server's lease file (host path) and its leases. */
  leaseFile: string;
  leases: DhcpLease[];
  /** `osimg serve`'s access log (host path) and its requests by client address. */
  accessLog: string;
  fetches: Record<string, string[]>;
}

/** `ip netns exec <ns>` before `argv`, bounded by coreutils `timeout` (a cap that holds even if
 * osimg dies first, so no VM or server outlives its chain). */
function inNamespace(namespace: string, capSeconds: number, argv: readonly string[]): string[] {
  return [
    "ip",
    "netns",
    "exec",
    namespace,
    "timeout",
    "--signal=KILL",
    String(capSeconds),
    ...argv,
  ];
}

/** `argv` as a shell would read it back, for the printed commands. */
function shellLine(argv: readonly string[]): string {
  return argv.map((word) =>
    /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`
  )
    .join(" ");
}

/** The request line and status of one access log line, with its client address. */
function parseAccessLine(line: string): { remote: string; request: string } | undefined {
  const match = /^(\S+) - - \[[^\]]*\] "((?:[^"\\]|\\.)*)" (\d{3}) /.exec(line);
  return match ? { remote: match[1]!, request: `${match[2]} ${match[3]}` } : undefined;
}

/**
 * Runs the chain in `ctx.root` (a new or empty management node), printing each osimg command
 * and each system command as it runs. The network namespace, the servers and the VMs are gone
 * when it returns or throws; the root and the work directory are the caller's.
 */
export async function runBootChain(
  ctx: Pick<Context, "root" | "runner" | "reporter" | "invoke">,
  options: BootChainOptions,
): Promise<BootChainResult> {
  const invoke = ctx.invoke;
  if (!invoke) throw new OsimgError("The boot chain needs the command dispatcher.");
  const say = (text: string) => ctx.reporter.line(text);
  const osimg = async (args: string[]) => {
    say("");
    say(`$ osimg ${shellLine(args)}`);
    const status = await invoke(["--root", ctx.root, ...args]);
    if (status !== 0) {
      throw new OsimgError(`The boot chain stopped: 'osimg ${shellLine(args)}' exited ${status}.`);
    }
  };
  const system = async (argv: string[]) => {
    say(`# ${shellLine(argv)}`);
    await ctx.runner.run(argv);
  };
  const image = `${options.osvers}-x86_64-netboot-${CHAIN_PROFILE}`;
  const rootimgdir = `/install/netboot/${options.osvers}/x86_64/${CHAIN_PROFILE}`;
  const bootTimeoutMs = options.bootTimeoutMs ?? 15 * 60_000;
  const capSeconds = Math.ceil(bootTimeoutMs / 1000) + 600;

  // 1. The image: genimage from the mirror, packimage.
  say("");
  say(`(writing the image's pkglist, exlist and postinstall under ${CUSTOM})`);
  for (
    const [name, text, mode] of [
      ["compute.pkglist", CHAIN_PKGLIST, 0o644],
      ["compute.exlist", CHAIN_EXLIST, 0o644],
      ["compute.postinstall", POSTINSTALL, 0o755],
    ] as const
  ) {
    const path = hostPathOf(ctx, `${CUSTOM}/${name}`);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, text, { mode });
  }
  await osimg([
    "mkdef",
    "-t",
    "osimage",
    "-o",
    image,
    "imagetype=linux",
    "provmethod=netboot",
    "osname=Linux",
    `osvers=${options.osvers}`,
    "osarch=x86_64",
    `profile=${CHAIN_PROFILE}`,
    `rootimgdir=${rootimgdir}`,
    `pkgdir=${options.mirror.url} ${options.mirror.suite} ${options.mirror.components.join(" ")}`,
    `pkglist=${CUSTOM}/compute.pkglist`,
    `exlist=${CUSTOM}/compute.exlist`,
    `postinstall=${CUSTOM}/compute.postinstall`,
  ]);
  if (options.seedRootimg) {
    say("");
    say(`(seeding ${rootimgdir}/rootimg from a debootstrapped root: genimage updates it)`);
    const rootimg = hostPathOf(ctx, `${rootimgdir}/rootimg`);
    await Deno.mkdir(dirname(rootimg), { recursive: true });
    await system(["cp", "-a", options.seedRootimg, rootimg]);
  }
  await osimg(["genimage", image]);
  await osimg(["packimage", image]);

  // 2. The site, its network and the nodes.
  await osimg([
    "chdef",
    "-t",
    "site",
    "clustersite",
    `master=${CHAIN_NETWORK.master}`,
    `dhcpinterfaces=${CHAIN_NETWORK.bridge}`,
    `dhcpserver=${options.dhcp.name}`,
  ]);
  await osimg([
    "mkdef",
    "-t",
    "network",
    "-o",
    "bootnet",
    `net=${CHAIN_NETWORK.net}`,
    `mask=${CHAIN_NETWORK.mask}`,
  ]);
  for (const node of CHAIN_NODES) {
    await osimg([
      "mkdef",
      "-t",
      "node",
      "-o",
      node.node,
      "groups=compute,all",
      `mac=${node.mac}`,
      `ip=${node.ip}`,
      "arch=x86_64",
      "netboot=xnba",
      "serialport=0",
      "serialspeed=115200",
    ]);
  }
  const nodeNames = CHAIN_NODES.map((node) => node.node).join(",");

  // 3. A namespace of its own with a bridge and a tap per VM; there makedhcp, nodeset, servers.
  const namespace = `osimg-chain-${crypto.randomUUID().slice(0, 8)}`;
  const started: BackgroundProcess[] = [];
  const leaseFile = hostPathOf(ctx, options.dhcp.leasePath);
  const accessLog = `${options.workDir}/access.log`;
  say("");
  say(
    `(a network namespace ${namespace}: bridge ${CHAIN_NETWORK.bridge} at ` +
      `${CHAIN_NETWORK.master}/${CHAIN_NETWORK.prefix}, one tap device per VM)`,
  );
  await system(["ip", "netns", "add", namespace]);
  try {
    const ipIn = (...args: string[]) => system(["ip", "-n", namespace, ...args]);
    await ipIn("link", "set", "lo", "up");
    // No STP and no forward delay: ports forward the moment they come up, before the firmware's
    // first DHCP discover.
    await ipIn(
      "link",
      "add",
      CHAIN_NETWORK.bridge,
      "type",
      "bridge",
      "stp_state",
      "0",
      "forward_delay",
      "0",
    );
    await ipIn(
      "addr",
      "add",
      `${CHAIN_NETWORK.master}/${CHAIN_NETWORK.prefix}`,
      "dev",
      CHAIN_NETWORK.bridge,
    );
    // A bridge without a running port has no carrier, and a DHCP server skips an interface
    // that is not running: a veth pair, one end a port, keeps it up before the VMs open their
    // taps (a veth has carrier once both ends are up; not every kernel has the dummy driver).
    await ipIn("link", "add", "keepup0", "type", "veth", "peer", "name", "keepup1");
    await ipIn("link", "set", "keepup1", "up");
    await ipIn("link", "set", "keepup0", "master", CHAIN_NETWORK.bridge, "up");
    for (const [index] of CHAIN_NODES.entries()) {
      await ipIn("tuntap", "add", "dev", `tap${index}`, "mode", "tap");
      await ipIn("link", "set", `tap${index}`, "master", CHAIN_NETWORK.bridge, "up");
    }
    await ipIn("link", "set", CHAIN_NETWORK.bridge, "up");
    await untilRunning(ctx, namespace, CHAIN_NETWORK.bridge, options.signal);

    const startLogged = async (name: string, argv: string[], ready: RegExp, env = {}) => {
      say(`# ${shellLine(argv)} &`);
      const log = await Deno.open(`${options.workDir}/${name}.log`, {
        write: true,
        create: true,
        append: true,
      });
      const encoder = new TextEncoder();
      let signalReady = () => {};
      const isReady = new Promise<void>((resolve) => (signalReady = resolve));
      const child = ctx.runner.start(argv, {
        env,
        onLine: (line) => {
          log.writeSync(encoder.encode(`${line}\n`));
          if (ready.test(line)) signalReady();
        },
      });
      child.exited.finally(() => log.close());
      started.push(child);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outcome = await Promise.race([
        abortion(options.signal),
        isReady.then(() => "ready" as const),
        child.exited.then(() => "exited" as const),
        new Promise<"late">((
          resolve,
        ) => (timer = setTimeout(() => resolve("late"), READY_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      if (outcome !== "ready") {
        const tail = (await Deno.readTextFile(`${options.workDir}/${name}.log`).catch(() => ""))
          .trim().split("\n").slice(-5).join(" | ");
        throw new OsimgError(
          `${name} did not start (${outcome === "late" ? "no ready line" : "it exited"}); ` +
            `${options.workDir}/${name}.log: ${tail}`,
        );
      }
      return child;
    };

    // makedhcp runs where the DHCP interface is: the server's own check (kea-dhcp4 -t)
    // refuses a configuration naming an interface this network namespace does not have.
    const makedhcp = inNamespace(namespace, capSeconds, [
      ...options.osimg,
      "--root",
      ctx.root,
      "makedhcp",
      "-n",
    ]);
    say("");
    say(`# ${shellLine(makedhcp)}`);
    const made = await ctx.runner.run(makedhcp, { allowFailure: true });
    for (const line of `${new TextDecoder().decode(made.stdout)}${made.stderr}`.split("\n")) {
      if (line.trim() !== "") say(line);
    }
    if (made.code !== 0) {
      throw new OsimgError(`The boot chain stopped: 'osimg makedhcp -n' exited ${made.code}.`);
    }
    // After makedhcp: it copied the iPXE first stages the nodes' entries rely on.
    await osimg(["nodeset", nodeNames, `osimage=${image}`]);
    const configFile = hostPathOf(ctx, options.dhcp.configPath);
    await startLogged(
      options.dhcp.name,
      inNamespace(namespace, capSeconds, options.dhcp.daemon.argv(configFile, options.workDir)),
      options.dhcp.daemon.ready,
      options.dhcp.daemon.env(options.workDir),
    );
    await startLogged(
      "serve",
      inNamespace(namespace, capSeconds, [
        ...options.osimg,
        "--root",
        ctx.root,
        "serve",
        "--http",
        `${CHAIN_NETWORK.master}:80`,
        "--tftp",
        `${CHAIN_NETWORK.master}:69`,
        "--access-log",
        accessLog,
      ]),
      /Serving TFTP/,
    );

    // 4. The VMs, both at once: each until its marker.
    say("");
    say(
      `(booting ${
        CHAIN_NODES.map((node) => `${node.node} (${node.firmware.toUpperCase()})`).join(" and ")
      }; ` +
        `software emulation takes minutes)`,
    );
    const nodes = await Promise.all(
      CHAIN_NODES.map((node, index) =>
        bootNode(ctx, options, node, {
          argv: inNamespace(namespace, capSeconds, [
            ...qemuArgs(node, `tap${index}`, `${options.workDir}/${node.node}.OVMF_VARS.fd`),
          ]),
          timeoutMs: bootTimeoutMs,
          say,
          started,
        })
      ),
    );
    for (const node of nodes) say(node.marker);

    const leases = options.dhcp.parseLeases(await Deno.readTextFile(leaseFile).catch(() => ""));
    // The log is written as requests end; stopping serve flushes it.
    for (const child of started.splice(0).reverse()) await child.stop();
    const fetches: Record<string, string[]> = {};
    for (const line of (await Deno.readTextFile(accessLog).catch(() => "")).split("\n")) {
      const entry = parseAccessLine(line);
      if (entry) (fetches[entry.remote] ??= []).push(entry.request);
    }
    return { image, nodes, leaseFile, leases, accessLog, fetches };
  } finally {
    for (const child of started.reverse()) await child.stop().catch(() => {});
    await system(["ip", "netns", "del", namespace]).catch(() => {});
  }
}

/** A promise that rejects when `signal` aborts (never settles without one). */
function abortion(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted) reject(signal.reason);
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/**
 * Waits until `device` in the namespace is RUNNING (carrier: a port forwarding); Kea skips an
 * interface that is not, and never looks again.
 */
async function untilRunning(
  ctx: Pick<Context, "runner">,
  namespace: string,
  device: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    signal?.throwIfAborted();
    const shown = await ctx.runner.run(["ip", "-n", namespace, "link", "show", device]);
    if (/[<,]LOWER_UP[,>]/.test(new TextDecoder().decode(shown.stdout))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new OsimgError(`The bridge ${device} in ${namespace} did not come up (no carrier).`);
}

/** QEMU's argv for a node: TCG, serial on stdio, the tap as its only network. */
function qemuArgs(node: ChainNodeSpec, tap: string, varsFile: string): string[] {
  const firmware = node.firmware === "uefi"
    ? [
      "-drive",
      `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      "-drive",
      `if=pflash,format=raw,unit=1,file=${varsFile}`,
    ]
    : [];
  return [
    "qemu-system-x86_64",
    "-machine",
    "pc,accel=tcg",
    "-m",
    String(VM_MEMORY_MIB),
    "-nographic",
    "-no-reboot",
    "-boot",
    "n",
    ...firmware,
    "-netdev",
    `tap,id=net0,ifname=${tap},script=no,downscript=no`,
    "-device",
    // BIOS: QEMU's default ROM, Debian's ipxe-qemu efi-virtio.rom found on QEMU's -L path
    // (SeaBIOS has no network boot of its own; an explicit romfile= path made it skip the
    // NIC). UEFI: no ROM, so OVMF's own virtio driver and PXE client boot, as a server's
    // firmware does, and fetch the iPXE first stage by TFTP.
    `virtio-net-pci,netdev=net0,mac=${node.mac}${node.firmware === "uefi" ? ",romfile=" : ""}`,
  ];
}

/** Boots one VM until its marker shows, then stops it. */
async function bootNode(
  ctx: Pick<Context, "runner">,
  options: BootChainOptions,
  node: ChainNodeSpec,
  run: {
    argv: string[];
    timeoutMs: number;
    say: (text: string) => void;
    started: BackgroundProcess[];
  },
): Promise<BootedNode> {
  if (node.firmware === "uefi") {
    // The firmware writes its variables (boot entries): each VM gets its own copy.
    await Deno.copyFile(OVMF_VARS, `${options.workDir}/${node.node}.OVMF_VARS.fd`);
  }
  const serialLog = `${options.workDir}/${node.node}.serial.log`;
  const log = await Deno.open(serialLog, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  let marker: string | undefined;
  let found = () => {};
  const sawMarker = new Promise<void>((resolve) => (found = resolve));
  run.say(`# ${shellLine(run.argv)} &`);
  const begun = performance.now();
  const vm = ctx.runner.start(run.argv, {
    onLine: (line) => {
      log.writeSync(encoder.encode(`${line}\n`));
      // The console may carry escape sequences and a carriage return around the line.
      const seen = MARKER_LINE.exec(line);
      if (marker === undefined && seen?.[1] === node.node) {
        marker = seen[0];
        found();
      }
    },
  });
  run.started.push(vm);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const outcome = await Promise.race([
      abortion(options.signal),
      sawMarker.then(() => "marker" as const),
      vm.exited.then(() => "exited" as const),
      new Promise<"timeout">((
        resolve,
      ) => (timer = setTimeout(() => resolve("timeout"), run.timeoutMs))),
    ]);
    const seconds = Math.round((performance.now() - begun) / 100) / 10;
    if (outcome !== "marker" || marker === undefined) {
      throw new OsimgError(
        `${node.node} (${node.firmware.toUpperCase()}) did not boot: ${
          outcome === "timeout" ? `no marker after ${seconds} s` : "QEMU ended before the marker"
        }; its console is in ${serialLog}.`,
      );
    }
    return { ...node, marker, seconds, serialLog };
  } finally {
    clearTimeout(timer);
    await vm.stop("SIGTERM", 5_000);
    log.close();
  }
}
