// pxelinux.cfg entries as xCAT's pxe plugin writes them (pxe.pm setstate).

import { type BootEntry, commandLine } from "./boot_entry.ts";

/** What a pxelinux entry needs besides the boot description. */
export interface PxelinuxOptions {
  /** The server's address as the node sees it: pxelinux has no variable for it. */
  server: string;
  /**
   * Append `IPAPPEND 2` so pxelinux adds `BOOTIF=01-<mac>` (false only for the distros whose
   * installer breaks on it: xCAT leaves it out for fedora12/13).
   */
  ipappend: boolean;
}

/**
 * The text of `pxelinux.cfg/<node>`, or undefined for an offline node (it has no entry).
 *
 * @example
 * ```ts
 * renderPxelinux({ kind: "local", state: "boot" }, { server: "10.0.0.1", ipappend: true });
 * // "#boot\nDEFAULT xCAT\nLABEL xCAT\nLOCALBOOT 0\n"
 * ```
 */
export function renderPxelinux(entry: BootEntry, options: PxelinuxOptions): string | undefined {
  switch (entry.kind) {
    case "offline":
      return undefined;
    case "local":
      return `#${entry.state}\nDEFAULT xCAT\nLABEL xCAT\nLOCALBOOT 0\n`;
    case "kernel": {
      // pxelinux takes one initrd= with a comma-separated list.
      const append = [
        ...(entry.initrds.length > 0 ? [`initrd=${entry.initrds.join(",")}`] : []),
        ...(entry.args.length > 0 ? [commandLine(entry.args, options.server)] : []),
      ];
      let text = `#${entry.state}\nDEFAULT xCAT\nLABEL xCAT\n KERNEL ${entry.kernel}\n`;
      if (append.length > 0) text += ` APPEND ${append.join(" ")}\n`;
      if (options.ipappend) text += "  IPAPPEND 2\n";
      return text;
    }
  }
}
