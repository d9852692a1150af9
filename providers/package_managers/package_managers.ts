// The package managers genimage builds roots with (dnf, yum, zypper, apt after debootstrap), in one table.

import { APT } from "./apt.ts";
import { DNF, YUM } from "./dnf.ts";
import type { PackageManager, PackageManagerName } from "./package_manager.ts";
import { ZYPPER } from "./zypper.ts";

export type * from "./package_manager.ts";

/** Every package manager, in one static table. */
export const PACKAGE_MANAGERS: readonly PackageManager[] = [DNF, YUM, ZYPPER, APT];

/** The member named `name` (the table is complete over PackageManagerName). */
export function packageManagerNamed(name: PackageManagerName): PackageManager {
  return PACKAGE_MANAGERS.find((manager) => manager.name === name)!;
}
