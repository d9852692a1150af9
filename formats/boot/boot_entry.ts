// The typed boot description every boot-loader renderer takes: what a node boots, never how.
//
// A provmethod (providers/provmethods) fills one in; a renderer (pxelinux, xnba, elilo, grub2)
// writes it in its own syntax. Nothing here is a pre-glued command line: the kernel arguments are
// a list, and the one thing only the loader knows — its own address as the node sees it, xCAT's
// `!myipfn!` — is a typed part each renderer substitutes in its own way (`${next-server}` in iPXE,
// `%N` in elilo, the server's address in pxelinux and grub2).

/** The address of the server the node booted from (xCAT's `!myipfn!`), filled in per loader. */
export interface BootServer {
  readonly kind: "boot-server";
}

/** The one BootServer value. */
export const BOOT_SERVER: BootServer = Object.freeze({ kind: "boot-server" });

/** A piece of an argument's value: literal text or the boot server's address. */
export type ValuePart = string | BootServer;

/**
 * One kernel argument: `name` alone (`quiet`, `nonodestatus`) or `name=value`, the value made of
 * literal text and boot-server parts (`XCAT=<server>:3001`).
 */
export interface KernelArgument {
  readonly name: string;
  readonly value?: readonly ValuePart[];
}

/** A Linux kernel with its initrds and arguments, fetched from the TFTP/HTTP server. */
export interface KernelBoot {
  readonly kind: "kernel";
  /** chain.currstate (`netboot rhels9.2-x86_64-compute`): the entry's comment line. */
  readonly state: string;
  /** The kernel, relative to the TFTP root (`xcat/osimage/<image>/kernel`). */
  readonly kernel: string;
  /** The initrds in load order, relative to the TFTP root. */
  readonly initrds: readonly string[];
  readonly args: readonly KernelArgument[];
  /**
   * The kernel is an EFI-stub PE image that UEFI iPXE can start itself; otherwise xnba's UEFI
   * script chains elilo (xnba.pm has_efistub).
   */
  readonly efiStub: boolean;
}

/** Boot from the local disk (`nodeset boot`). */
export interface LocalBoot {
  readonly kind: "local";
  /** chain.currstate, `boot`. */
  readonly state: string;
}

/** No entry at all (`nodeset offline`): every file and link of the node is removed. */
export interface Offline {
  readonly kind: "offline";
}

/** What one node boots. */
export type BootEntry = KernelBoot | LocalBoot | Offline;

/**
 * A flag argument (`quiet`).
 *
 * @example
 * ```ts
 * flag("quiet"); // { name: "quiet" }
 * ```
 */
export function flag(name: string): KernelArgument {
  return { name };
}

/**
 * A `name=value` argument; the value is the parts concatenated.
 *
 * @example
 * ```ts
 * argument("XCAT", BOOT_SERVER, ":3001"); // XCAT=${next-server}:3001 in iPXE
 * ```
 */
export function argument(name: string, ...value: ValuePart[]): KernelArgument {
  return { name, value };
}

/**
 * Splits a command-line fragment taken from a table (addkcmdline, boottarget.kcmdline) into
 * arguments on runs of white space; `a=b=c` is `a` with the value `b=c`.
 */
export function parseKernelArguments(text: string): KernelArgument[] {
  const args: KernelArgument[] = [];
  for (const token of text.split(/\s+/)) {
    if (token === "") continue;
    const equals = token.indexOf("=");
    args.push(
      equals <= 0
        ? { name: token }
        : { name: token.slice(0, equals), value: [token.slice(equals + 1)] },
    );
  }
  return args;
}

/** One argument as text, the boot server written as `server`. */
export function argumentText(arg: KernelArgument, server: string): string {
  if (arg.value === undefined) return arg.name;
  let text = `${arg.name}=`;
  for (const part of arg.value) text += typeof part === "string" ? part : server;
  return text;
}

/** The arguments as one command line, single-spaced, the boot server written as `server`. */
export function commandLine(args: readonly KernelArgument[], server: string): string {
  return args.map((arg) => argumentText(arg, server)).join(" ");
}

/**
 * The state comment of an entry's text: the first line starting with `#` that is not an
 * interpreter line (`#!gpxe`), without its `#`; undefined when there is none.
 */
export function readEntryState(text: string): string | undefined {
  for (const line of text.split("\n", 3)) {
    if (line.startsWith("#!")) continue;
    if (line.startsWith("#")) return line.slice(1).replace(/\r$/, "");
    return undefined;
  }
  return undefined;
}
