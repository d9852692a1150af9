// copycds: copy distro media into the install tree and define its osdistro and default osimages.

import { booleanFlag, type Command, parseFlags, stringFlag } from "../core/command.ts";
import { copycds as runCopycds } from "../core/copycds/copycds.ts";

export const copycds: Command = {
  name: "copycds",
  usage: `Usage:
    copycds [-h| --help]
    copycds [{-n|--name|--osver} distroname] [{-a|--arch} architecture] [{-p|--path} path]
            [-o|--noosimage] [-w|--nonoverwrite] [-v|--verbose] {media-directory | iso} ...
    copycds {-i|--inspection} {media-directory | iso}

    -n, --name, --osver  the osvers to give the media (rhels9.2, sle15.5, ubuntu22.04.3...)
                         instead of the one its metadata names
    -a, --arch           the architecture (x86_64, ppc64le, aarch64); must agree with the media
    -p, --path           copy to this directory instead of <installdir>/<osvers>/<arch>
    -i, --inspection     print DISTNAME:, ARCH: and DISCNO: of the media and copy nothing
    -o, --noosimage      do not create the default osimages
    -w, --nonoverwrite   do nothing for media that is already copied
    -v, --verbose        name the default files written and the osimages defined

    Copies into a staging directory beside the destination and renames it into place when
    complete; the media's fingerprint is kept in <parent>/.<dir>.osimg-media, so a second
    copycds of the same media copies nothing. Then writes the osdistro row and the default
    osimages <osvers>-<arch>-{install,netboot,statelite}-<profile> in one transaction.
`,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("copycds", args, {
      name: { type: "string", short: "n" },
      osver: { type: "string" },
      arch: { type: "string", short: "a" },
      path: { type: "string", short: "p" },
      inspection: { type: "boolean", short: "i" },
      noosimage: { type: "boolean", short: "o" },
      nonoverwrite: { type: "boolean", short: "w" },
      verbose: { type: "boolean", short: "v" },
    });
    const name = stringFlag(flags, "name") ?? stringFlag(flags, "osver");
    const arch = stringFlag(flags, "arch");
    const path = stringFlag(flags, "path");
    await runCopycds(ctx, positionals, {
      ...(name !== undefined ? { name } : {}),
      ...(arch !== undefined ? { arch } : {}),
      ...(path !== undefined ? { path } : {}),
      inspection: booleanFlag(flags, "inspection"),
      noOsimage: booleanFlag(flags, "noosimage"),
      noOverwrite: booleanFlag(flags, "nonoverwrite"),
      verbose: booleanFlag(flags, "verbose"),
    });
  },
};
