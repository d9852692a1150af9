// elilo configurations as xCAT's xnba plugin writes `<node>.elilo` for UEFI nodes whose kernel
// has no EFI stub (xnba.pm setstate).

import { InvalidInputError } from "../../core/errors.ts";
import { type BootEntry, commandLine } from "./boot_entry.ts";

/** elilo's own variables: `%N` is the server it was loaded from, `%B` the boot NIC's BOOTIF. */
const ELILO_SERVER = "%N";

/**
 * The text of an elilo configuration booting `entry`, or undefined when elilo has nothing to
 * boot (local boot and offline: xCAT writes no `.elilo` for them).
 *
 * Paths are absolute on the TFTP server (`/tftpboot/...`), as elilo-x64.efi fetches them.
 *
 * @example
 * ```ts
 * renderElilo(entry, { tftpPrefix: "/tftpboot" });
 * ```
 */
export function renderElilo(
  entry: BootEntry,
  options: { tftpPrefix: string },
): string | undefined {
  if (entry.kind !== "kernel") return undefined;
  if (entry.initrds.length > 1) {
    throw new InvalidInputError(
      `elilo loads one initrd; '${entry.kernel}' needs ${entry.initrds.length}.`,
    );
  }
  const append = [commandLine(entry.args, ELILO_SERVER), "BOOTIF=%B"].filter((part) => part !== "");
  if (append.some((part) => part.includes('"'))) {
    // The append value is one double-quoted string with no escape: a quote would end it early.
    throw new InvalidInputError(
      `elilo cannot pass a kernel argument holding '"': ${append.join(" ")}`,
    );
  }
  let text =
    `default="xCAT"\ndelay=0\n\nimage=${options.tftpPrefix}/${entry.kernel}\n   label="xCAT"\n`;
  if (entry.initrds.length > 0) text += `   initrd=${options.tftpPrefix}/${entry.initrds[0]}\n`;
  text += `   append="${append.join(" ")}"\n`;
  return text;
}
