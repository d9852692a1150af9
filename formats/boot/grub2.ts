// GRUB 2 network-boot configurations as xCAT's grub2 plugin writes them (grub2.pm setstate), for
// netboot=grub2 and grub2-tftp (files over TFTP) and grub2-http (over HTTP).

import { argumentText, type BootEntry, type KernelArgument } from "./boot_entry.ts";

/** The title xCAT gives its one menu entry. */
const MENU_ENTRY = "xCAT OS Deployment";

/** What a grub2 entry needs besides the boot description. */
export interface Grub2Options {
  /** How grub fetches kernel and initrd. */
  protocol: "tftp" | "http";
  /** The TFTP (or HTTP) server grub fetches from (`root=`). */
  server: string;
  /** The management node's address as the node sees it, for boot-server parts of arguments. */
  argumentServer: string;
  /** site.httpport: any port but 80 is written into `root=http,<server>:<port>`. */
  httpPort: string;
  /** The TFTP root as the HTTP server publishes it (`/tftpboot`): over HTTP, paths start with it. */
  tftpDir: string;
  /** x86 grub needs linuxefi/initrdefi (xCAT writes them for every x86 node). */
  efiCommands: boolean;
  /** site.xcatdebugmode 1 or 2: `set debug=all`. */
  debug: boolean;
}

/**
 * One argument as grub reads it: grub splits words itself and treats `;`, `$`, quotes and other
 * shell-like characters specially, so anything beyond plain characters is single-quoted
 * (xCAT writes Ubuntu's `ds=nocloud-net;s=...` bare, which grub cuts at the `;`).
 */
function grubWord(text: string): string {
  if (/^[A-Za-z0-9_./:,=@%+\-!*?^~#]*$/.test(text) && !/^#/.test(text)) return text;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function grubArguments(args: readonly KernelArgument[], server: string): string {
  return args.map((arg) => grubWord(argumentText(arg, server))).join(" ");
}

/**
 * The text of `boot/grub2/<node>`, or undefined for an offline node (it has none). As xCAT
 * writes it, the file has no newline after its closing brace.
 *
 * @example
 * ```ts
 * renderGrub2({ kind: "local", state: "boot" }, options); // "#boot\nset timeout=5\n"
 * ```
 */
export function renderGrub2(entry: BootEntry, options: Grub2Options): string | undefined {
  if (entry.kind === "offline") return undefined;
  let text = `#${entry.state}\n${options.debug ? "set debug=all\n" : ""}set timeout=5\n`;
  // A local boot is the header alone: with no menu entry grub falls through to the next boot
  // device after the timeout.
  if (entry.kind === "local") return text;
  const root = options.protocol === "http" && options.httpPort !== "80"
    ? `http,${options.server}:${options.httpPort}`
    : `${options.protocol},${options.server}`;
  const prefix = options.protocol === "http" ? options.tftpDir : "";
  const efi = options.efiCommands ? "efi" : "";
  const args = grubArguments(entry.args, options.argumentServer);
  // grub's own variable for the boot NIC's MAC.
  const bootif = "BOOTIF=$net_default_mac";
  text += `set default="${MENU_ENTRY}"\nmenuentry "${MENU_ENTRY}" {\n` +
    `    insmod http\n    insmod tftp\n    set root=${root}\n` +
    `    echo Loading Install kernel ...\n` +
    `    linux${efi} ${prefix}/${entry.kernel}${args === "" ? "" : ` ${args}`} ${bootif}\n` +
    `    echo Loading initial ramdisk ...\n`;
  if (entry.initrds.length > 0) {
    text += `    initrd${efi} ${entry.initrds.map((initrd) => `${prefix}/${initrd}`).join(" ")}\n`;
  }
  return text + "}";
}
