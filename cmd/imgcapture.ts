// imgcapture: capture a running diskful node as a diskless (netboot) or a sysclone osimage.

import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { UsageError } from "../core/errors.ts";
import { imgcapture as captureImage } from "../core/imgcapture/imgcapture.ts";
import { imgcaptureSysclone } from "../core/imgcapture/sysclone_capture.ts";

export const imgcapture: Command = {
  name: "imgcapture",
  usage: `Usage:
    imgcapture [-h | --help]
    imgcapture <node> -t|--type diskless [-o|--osimage <osimage>] [-p <profile>]
               [-i <nodebootif>] [-n <netdrivers>] [--keep-passwords] [--ssh-key <file>] [-V]
    imgcapture <node> -t|--type sysclone -o|--osimage <osimage> [-p <profile>]
               [--keep-passwords] [--ssh-key <file>] [-V]

    -t, --type        diskless: pull the node's root into a netboot image's rootimg;
                      sysclone: pull every file system of the node's disk, and its layout,
                      into <installdir>/sysclone/images/<osimage> for nodeset to clone
    -o, --osimage     the osimage to capture into (it must exist and match the node's os and
                      arch); default <os>-<arch>-netboot-<profile>, created when missing
    -p, --profile     the profile (default: the node's nodetype.profile)
    -i                the node's boot interface (linuximage.nodebootif)
    -n                drivers the initrd must hold, comma separated (linuximage.netdrivers)
    --keep-passwords  keep the password hashes of /etc/shadow and /etc/gshadow
    --ssh-key         the private key root on the node accepts (default: ssh's own keys)
    -V, --verbose     print every path rsync changed

    The node is reached as root over ssh at its hosts.ip (else the resolver); its host key is
    recorded on first contact in <root>/etc/xcat/osimg/ssh_known_hosts and a changed key is
    refused. Its root file system (one file system; ACLs, xattrs, hard links, sparse files
    and numeric owners kept) is copied with rsync into a staging directory, without the paths
    of <installdir>/custom/netboot/<platform>/<profile>.<os>.<arch>.imgcapture.exlist (or
    /opt/xcat/share/xcat/netboot/<platform>/..., else a built-in list), scrubbed of the node's
    identity and secrets, given a kernel and initrd-stateless.gz, and put in place with the
    osimage definition in one step. A recapture copies only what changed; the previous
    rootimg stays whole until the new one is complete (site.osimgsnapshots=yes snapshots it
    first).

    -t sysclone reads the disk that holds the node's / (partition table, file systems, labels,
    UUIDs, mount points, swap) into <installdir>/sysclone/images/<osimage>.layout.json and
    copies every file system mounted from it, scrubbed as for diskless (its fstab is kept: the
    clone's is written from the layout), into <installdir>/sysclone/images/<osimage>. -o is
    required; a missing osimage is created with provmethod=sysclone. A recapture transfers
    only what changed (-V prints how much).
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("imgcapture", args, {
      type: { type: "string", short: "t" },
      osimage: { type: "string", short: "o" },
      profile: { type: "string", short: "p" },
      nodebootif: { type: "string", short: "i" },
      netdrivers: { type: "string", short: "n" },
      "keep-passwords": { type: "boolean" },
      "ssh-key": { type: "string" },
      verbose: { type: "boolean", short: "V" },
    }, { maxPositionals: 1 });
    const [node] = positionals;
    if (!node) {
      throw new UsageError(
        "imgcapture: a node name is required. Run 'imgcapture --help' for usage.",
      );
    }
    const type = stringFlag(flags, "type");
    if (type === undefined) {
      throw new UsageError(
        "imgcapture: -t|--type is required (diskless). Run 'imgcapture --help' for usage.",
      );
    }
    if (type !== "diskless" && type !== "sysclone") {
      throw new UsageError(
        `imgcapture: the type '${type}' is not supported; osimg captures -t diskless and -t sysclone.`,
      );
    }
    const osimage = stringFlag(flags, "osimage");
    const profile = stringFlag(flags, "profile");
    const sshKey = stringFlag(flags, "ssh-key");
    if (type === "sysclone") {
      if (osimage === undefined) {
        throw new UsageError('You must specify osimage name if you are using "sysclone".');
      }
      for (const flag of ["nodebootif", "netdrivers"] as const) {
        if (stringFlag(flags, flag) !== undefined) {
          throw new UsageError(
            `imgcapture: -${
              flag === "nodebootif" ? "i" : "n"
            } is for -t diskless (a sysclone image boots its own kernel and initrd).`,
          );
        }
      }
      await imgcaptureSysclone(ctx, {
        node,
        osimage,
        keepPasswords: booleanFlag(flags, "keep-passwords"),
        verbose: booleanFlag(flags, "verbose"),
        ...(profile === undefined ? {} : { profile }),
        ...(sshKey === undefined ? {} : { sshKey }),
      });
      return;
    }
    const nodebootif = stringFlag(flags, "nodebootif");
    const netdrivers = stringFlag(flags, "netdrivers");
    await captureImage(ctx, {
      node,
      keepPasswords: booleanFlag(flags, "keep-passwords"),
      verbose: booleanFlag(flags, "verbose"),
      ...(osimage === undefined ? {} : { osimage }),
      ...(profile === undefined ? {} : { profile }),
      ...(nodebootif === undefined ? {} : { nodebootif }),
      ...(netdrivers === undefined ? {} : { netdrivers }),
      ...(sshKey === undefined ? {} : { sshKey }),
    });
  },
};
