// genimage: build a diskless image's root tree from its package lists, with kernel and netboot initrds.

import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import { lockImage } from "../core/image/image_lock.ts";
import { findGenimageImage, genimage as buildImage } from "../core/genimage/genimage.ts";
import { withInterruptSignals } from "../core/interrupt.ts";
import { sourceDateEpoch } from "./source_date_epoch.ts";

export const genimage: Command = {
  name: "genimage",
  usage: `Usage:
    genimage [-h | --help]
    genimage [-n <netdrivers>] [-k <kernelver>] [-g <krpmver>] [-m statelite]
             [-l <rootlimit>] [-t <tmplimit>] [--permission <mode>] [--onlyinitrd]
             [--noupdate] [--ignorekernelchk] [-v | --verbose] <imagename>
    genimage -o <osver> -p <profile> -a <arch> [options]   (names the one such image)

    -n               network drivers the initrd must hold (comma list), before the
                     distro's defaults; written back to linuximage.netdrivers
    -k               the kernel version to boot (default: the newest in the image)
    -g               the kernel package's version (written back as krpmver)
    -m statelite     build initrd-statelite.gz too (NFS root and STATEMNT= state)
    -l               the tmpfs size of the node's / (e.g. 2g), baked into the initrd
    -t               the size of the /tmp and /var/tmp tmpfs in the image's fstab
    --permission     the mode of /.statelite in the image (default 755)
    --onlyinitrd     only copy the kernel and rebuild the initrds from the existing rootimg
    --noupdate       do not update the packages already installed
    --ignorekernelchk  accepted for xCAT's scripts (osimg injects no driver update disks)
    -v, --verbose    show the package manager's and the postinstall scripts' output

    Installs linuximage.pkglist and otherpkglist (from pkgdir and otherpkgdir) into
    <rootimgdir>/rootimg with the distro's package manager (dnf/yum, zypper,
    debootstrap+apt), runs the postinstall scripts (rootimg path as $1, IMG_* variables),
    applies the synclists, copies the kernel to <rootimgdir>/kernel and builds
    initrd-stateless.gz from the image's busybox and kernel modules. Running it again
    updates the existing rootimg. /proc, /sys and /dev are mounted in the image only while
    packages install and postinstall runs, and are unmounted on failure, Ctrl-C and
    SIGTERM. SOURCE_DATE_EPOCH, when set, fixes the initrds' member times.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("genimage", args, {
      netdrivers: { type: "string", short: "n" },
      kernelver: { type: "string", short: "k" },
      krpmver: { type: "string", short: "g" },
      mode: { type: "string", short: "m" },
      rootlimit: { type: "string", short: "l" },
      tmplimit: { type: "string", short: "t" },
      permission: { type: "string" },
      onlyinitrd: { type: "boolean" },
      noupdate: { type: "boolean" },
      ignorekernelchk: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      osver: { type: "string", short: "o" },
      profile: { type: "string", short: "p" },
      arch: { type: "string", short: "a" },
    }, { maxPositionals: 1 });
    const mode = stringFlag(flags, "mode");
    if (mode !== undefined && mode !== "statelite") {
      throw new UsageError(`genimage: -m takes 'statelite', not '${mode}'.`);
    }
    let [name] = positionals;
    const osver = stringFlag(flags, "osver");
    const profile = stringFlag(flags, "profile");
    const arch = stringFlag(flags, "arch");
    if (osver !== undefined || profile !== undefined || arch !== undefined) {
      if (name !== undefined) {
        throw new UsageError(
          "-o, -p and -a options are not allowed when a image name is specified.",
        );
      }
      if (!osver || !profile || !arch) {
        throw new UsageError("genimage: -o, -p and -a must be given together.");
      }
      name = await findGenimageImage(ctx, osver, profile, arch);
    }
    if (!name) {
      throw new UsageError("An image name is required, use 'genimage <osimage name>'.");
    }
    const epoch = sourceDateEpoch(ctx.env);
    const option = (key: string) => stringFlag(flags, key);
    await using _lock = await lockImage(ctx, name, "genimage");
    const imageName = name;
    const result = await withInterruptSignals("genimage", (signal) =>
      buildImage(ctx, imageName, {
        ...defined({
          netdrivers: option("netdrivers"),
          kernelver: option("kernelver"),
          krpmver: option("krpmver"),
          rootlimit: option("rootlimit"),
          tmplimit: option("tmplimit"),
          permission: option("permission"),
          sourceDateEpoch: epoch,
        }),
        statelite: mode === "statelite",
        onlyinitrd: booleanFlag(flags, "onlyinitrd"),
        noupdate: booleanFlag(flags, "noupdate"),
        verbose: booleanFlag(flags, "verbose"),
        signal,
      }));
    if (booleanFlag(flags, "verbose")) {
      ctx.reporter.line(`initrd modules: ${result.modules.join(" ")}`);
    }
  },
};

/** The entries whose value is not undefined (exactOptionalPropertyTypes-friendly spreading). */
function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
