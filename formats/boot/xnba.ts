// xNBA (iPXE) scripts as xCAT's xnba plugin writes them: `<node>` for BIOS clients, `<node>.uefi`
// for UEFI ones, and the `<node>.elilo` the UEFI script chains when the kernel has no EFI stub
// (xnba.pm setstate).

import { type BootEntry, commandLine } from "./boot_entry.ts";
import { renderElilo } from "./elilo.ts";

/** iPXE's variable for the server it booted from (xCAT's `!myipfn!`). */
const IPXE_SERVER = "${next-server}";
/** The boot NIC as dracut/anaconda read it, from iPXE's own settings. */
const IPXE_BOOTIF = "BOOTIF=01-${netX/mac:hexhyp}";

/** What an xNBA entry needs besides the boot description. */
export interface XnbaOptions {
  /** site.httpport: any port but 80 is written after `${next-server}`. */
  httpPort: string;
  /** The node's name: the UEFI script chaining elilo names the `.elilo` file by it. */
  node: string;
  /** The directory of the scripts under the TFTP root (`xcat/xnba/nodes`). */
  scriptsDir: string;
}

/** The files of one node; `uefi` and `elilo` are absent when xCAT writes none. */
export interface XnbaFiles {
  /** `<node>`: the BIOS script. */
  script: string;
  /** `<node>.uefi`: the UEFI script. */
  uefi?: string;
  /** `<node>.elilo`: the elilo configuration the UEFI script chains. */
  elilo?: string;
}

/**
 * The xNBA files of a node, or undefined for an offline node (it has none).
 *
 * @example
 * ```ts
 * renderXnba({ kind: "local", state: "boot" }, { httpPort: "80", node: "cn01", scriptsDir: "xcat/xnba/nodes" });
 * // { script: "#!gpxe\n#boot\nexit\n", uefi: "#!gpxe\n#boot\nexit\n" }
 * ```
 */
export function renderXnba(entry: BootEntry, options: XnbaOptions): XnbaFiles | undefined {
  if (entry.kind === "offline") return undefined;
  if (entry.kind === "local") {
    const exit = `#!gpxe\n#${entry.state}\nexit\n`;
    return { script: exit, uefi: exit };
  }
  const base = `http://${IPXE_SERVER}${options.httpPort === "80" ? "" : `:${options.httpPort}`}`;
  const args = commandLine(entry.args, IPXE_SERVER);
  const fetchInitrds = entry.initrds.map((initrd, index) =>
    `imgfetch -n ${index === 0 ? "initrd" : `initrd${index}`} ${base}/tftpboot/${initrd}\n`
  ).join("");
  const kernelLines = `imgfetch -n kernel ${base}/tftpboot/${entry.kernel}\nimgload kernel\n`;
  // Without arguments xCAT passes the bare MAC (`${netX/mac}`); with them, the `01-` form
  // dracut and anaconda parse.
  const bootif = args === "" ? "BOOTIF=${netX/mac}" : `${args} ${IPXE_BOOTIF}`;
  const script = `#!gpxe\n#${entry.state}\n${kernelLines}imgargs kernel ${bootif}\n` +
    `${fetchInitrds}imgexec kernel\n`;
  // xCAT writes a UEFI script only for a Linux kernel with initrd and arguments.
  if (entry.initrds.length === 0 || args === "") return { script };
  if (entry.efiStub) {
    // An EFI-stub kernel started by UEFI iPXE finds its initrds by name on the command line.
    const initrdNames = entry.initrds.map((_, index) =>
      `initrd=${index === 0 ? "initrd" : `initrd${index}`}`
    ).join(" ");
    const uefi = `#!gpxe\n${kernelLines}imgargs kernel ${bootif} ${initrdNames}\n` +
      `${fetchInitrds}imgexec kernel\n`;
    return { script, uefi };
  }
  const uefi = `#!gpxe\nchain ${base}/tftpboot/xcat/elilo-x64.efi -C /tftpboot/` +
    `${options.scriptsDir}/${options.node}.elilo\n`;
  return { script, uefi, elilo: renderElilo(entry, { tftpPrefix: "/tftpboot" }) };
}
