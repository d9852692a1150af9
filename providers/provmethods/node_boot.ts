// What nodeset knows when a provmethod describes a node's boot: the site, the image, the node,
// resolved once by core; and the kernel arguments every provmethod builds the same way.

import {
  argument,
  BOOT_SERVER,
  flag,
  type KernelArgument,
  type ValuePart,
} from "../../formats/boot/boot_entry.ts";
import { InvalidInputError } from "../../core/errors.ts";

export { argument, BOOT_SERVER, flag };
export type { KernelArgument, ValuePart };

/** Site settings the boot arguments use (site table, xCAT's defaults applied). */
export interface BootSiteFacts {
  /** site.httpmethod (http). */
  httpMethod: string;
  /** site.httpport (80). */
  httpPort: string;
  /** site.xcatdport (3001). */
  xcatdPort: string;
  /** site.nodestatus is not n/N/0: the initrd reports status (else `nonodestatus`). */
  nodeStatus: boolean;
  /** site.useflowcontrol as the `FC=` value (0 unless yes/1). */
  flowControl: string;
  /** site.xcatdebugmode when it is 1 or 2. */
  debugMode?: "1" | "2";
}

/** The image a node boots, as nodeset resolved it. */
export interface BootImageFacts {
  name: string;
  /** osimage.provmethod (netboot, statelite, install, sysclone). */
  provmethod: string;
  osvers: string;
  osarch: string;
  profile: string;
  /** linuximage.rootimgdir or its default (management path). */
  rootimgdir: string;
  /** osimage.rootfstype (statelite: nfs or ramdisk). */
  rootfstype: string;
  nfsrootopts?: string;
  nodebootif?: string;
  dump?: string;
  crashkernelsize?: string;
  /** The first linuximage.pkgdir, or `<installdir>/<osvers>/<osarch>` (management path). */
  pkgdir: string;
  /** site.installdir (management path). */
  installDir: string;
  /** site.tftpdir (management path). */
  tftpDir: string;
  /** linuximage.template. */
  template?: string;
}

/** The node, its attributes group-inherited and regex-evaluated, servers resolved. */
export interface BootNodeFacts {
  name: string;
  /** The MAC it boots from (lower case, colons). */
  mac: string;
  installnic?: string;
  primarynic?: string;
  /** noderes.xcatmaster as an IP, or the boot server when unset (xCAT's `!myipfn!`). */
  master: ValuePart;
  /** noderes.xcatmaster as written (install arguments keep host names), or the boot server. */
  masterName: ValuePart;
  /** noderes.nfsserver, else tftpserver, else xcatmaster, as an IP. */
  imageServer: ValuePart;
  /** noderes.nfsserver, else xcatmaster, as written (the install server). */
  installServer: ValuePart;
  /**
   * The other image servers of a service node pool (noderes.servicenode naming several), as
   * IPs in the table's order, imageServer left out: the initrd's `imgservers=`.
   */
  poolImageServers?: string[];
  /** nodehm.serialport/serialspeed/serialflow. */
  serial?: { port: string; speed?: string; flow?: string };
  /** statelite.statemnt, `$table.column` substituted. */
  statemnt?: string;
  /** statelite.mntopts. */
  mntopts?: string;
  /** noderes.nfsdir. */
  nfsdir?: string;
}

/** The boot NIC arguments xCAT derives (NetworkUtils gen_net_boot_params). */
export interface NetParams {
  /** The interface name to use, when one is named (installnic, primarynic, nodebootif). */
  nicname?: string;
  /** The MAC to use. */
  mac: string;
  /** installnic itself is a MAC. */
  setmac: boolean;
}

const MAC = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;

/**
 * The boot NIC as xCAT picks it: installnic (else primarynic) when it names an interface or is
 * a MAC; `mac` or nothing means the mac table's MAC; nodebootif names the interface otherwise.
 */
export function netParams(node: BootNodeFacts, nodebootif?: string): NetParams {
  const installnic = node.installnic || node.primarynic;
  if (!installnic || /^mac$/i.test(installnic)) {
    return { nicname: nodebootif || undefined, mac: node.mac, setmac: false };
  }
  if (MAC.test(installnic)) return { mac: installnic, setmac: true };
  return { nicname: installnic, mac: node.mac, setmac: false };
}

/**
 * `console=tty0 console=<tty><port>,<speed>[n8r]` from nodehm, or [] without a serial port.
 * `flow` is the pattern of serialflow values that add `n8r` (it differs between netboot and
 * install in xCAT).
 */
export function serialConsole(
  node: BootNodeFacts,
  arch: string,
  flow: RegExp,
  tty = /ppc64/i.test(arch) ? "hvc" : "ttyS",
): KernelArgument[] {
  const serial = node.serial;
  if (!serial) return [];
  if (!serial.speed) {
    throw new InvalidInputError(
      `serialport defined, but no serialspeed for ${node.name} in nodehm table`,
    );
  }
  const suffix = serial.flow !== undefined && flow.test(serial.flow) ? "n8r" : "";
  return [
    argument("console", "tty0"),
    argument("console", `${tty}${serial.port},${serial.speed}${suffix}`),
  ];
}

/** `<method>://<server>:<port>` as xCAT writes URLs (the port always given). */
export function serverUrl(site: BootSiteFacts, server: ValuePart): ValuePart[] {
  return [`${site.httpMethod}://`, server, `:${site.httpPort}`];
}

/** pkgdir as the HTTP server publishes it: installdir replaced by /install (xCAT's httpprefix). */
export function httpPrefix(image: BootImageFacts): string {
  return image.pkgdir.startsWith(image.installDir)
    ? "/install" + image.pkgdir.slice(image.installDir.length)
    : image.pkgdir;
}

/** Everything an install argument builder (providers/distros) gets. */
export interface InstallArgsInput {
  image: BootImageFacts;
  node: BootNodeFacts;
  site: BootSiteFacts;
  net: NetParams;
}
