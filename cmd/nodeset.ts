// nodeset: set the boot state of nodes (osimage, boot, offline) or show it (stat).

import { booleanFlag, type Command, parseFlags } from "../core/command.ts";
import { InvalidInputError, UsageError } from "../core/errors.ts";
import { nodeset as runNodeset, type NodesetAction, nodesetStat } from "../core/nodeset/nodeset.ts";

const USAGE = `Usage:
  nodeset <noderange> osimage[=<imagename>] [--noupdateinitrd] [--ignorekernelchk] [-v]
  nodeset <noderange> boot | offline [-v]
  nodeset <noderange> stat [--json]
  nodeset [-h|--help]

    osimage=<image>    boot the nodes into <image>: writes nodetype.provmethod/os/arch/profile
                       and chain.currstate; without a name each node's nodetype.provmethod
    boot               boot from the local disk (LOCALBOOT 0, iPXE exit, grub timeout)
    offline            remove every boot file and link of the nodes
    stat               print each node's current boot state
    --noupdateinitrd   do not copy the kernel and initrd to <tftpdir>/xcat/osimage/<image>/
    --ignorekernelchk  accepted for xCAT's scripts: osimg injects no drivers into the initrd,
                       so there is no kernel version to check
    -v, -V, --verbose  list the files staged, written and removed
    --json             stat: print a JSON array of {node, state}

  noderes.netboot picks each node's loader: pxe (<tftpdir>/pxelinux.cfg/<node> and its
  <HEXIP> link), xnba (<tftpdir>/xcat/xnba/nodes/<node>, .uefi, .elilo), elilo
  (<node>.elilo and <tftpdir>/xcat/<HEXIP>.conf), grub2, grub2-tftp, grub2-http
  (<tftpdir>/boot/grub2/<node>, grub.cfg-<HEXIP> and grub.cfg-01-<mac>). Every problem of
  every node is reported before anything is written; a run that changes nothing writes
  nothing. Prints '<node>: <state>' for each node.
`;

/** The action word: osimage[=image], boot, offline; xCAT's other states get their message. */
function parseAction(word: string): NodesetAction | "stat" {
  if (word === "stat") return "stat";
  if (word === "boot" || word === "offline") return { kind: word };
  if (word === "osimage") return { kind: "osimage" };
  if (word.startsWith("osimage=")) {
    const image = word.slice("osimage=".length);
    if (image === "") throw new UsageError(`invalid argument: "${word}"`);
    return { kind: "osimage", image };
  }
  if (/^(install|netboot|statelite)(?:[=:]|$)/.test(word)) {
    throw new UsageError(
      'The options "install", "netboot", and "statelite" have been deprecated, use "osimage=<osimage_name>" instead.',
    );
  }
  if (/^(shell|standby|runcmd|runimage)(?:=|$)/.test(word)) {
    throw new InvalidInputError(
      `nodeset: '${word}' boots xCAT's genesis (its discovery and maintenance environment), ` +
        "which osimg does not have; use osimage=<image>, boot or offline.",
    );
  }
  throw new UsageError(`nodeset: unknown state '${word}'. Run 'nodeset --help' for usage.`);
}

export const nodeset: Command = {
  name: "nodeset",
  usage: USAGE,
  async run(ctx, args) {
    const { flags, positionals } = parseFlags("nodeset", args, {
      noupdateinitrd: { type: "boolean" },
      ignorekernelchk: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
      V: { type: "boolean" },
      json: { type: "boolean" },
    }, { maxPositionals: 2 });
    const [range, word] = positionals;
    if (range === undefined || word === undefined) {
      throw new UsageError(
        "nodeset: give a noderange and a state. Run 'nodeset --help' for usage.",
      );
    }
    const action = parseAction(word);
    if (action === "stat") {
      const states = await nodesetStat(ctx, range);
      if (booleanFlag(flags, "json")) ctx.io.out(JSON.stringify(states, null, 2) + "\n");
      else for (const { node, state } of states) ctx.reporter.line(`${node}: ${state}`);
      return;
    }
    if (booleanFlag(flags, "json")) throw new UsageError("nodeset: --json goes with stat.");
    const result = await runNodeset(ctx, {
      range,
      action,
      noUpdateInitrd: booleanFlag(flags, "noupdateinitrd"),
    });
    if (result.missingLoaderFiles.length > 0) {
      ctx.reporter.warn(
        `the TFTP root lacks ${result.missingLoaderFiles.join(", ")}: nodes that load ` +
          "them first will not boot until they are there (osimg does not ship boot loaders).",
      );
    }
    if (booleanFlag(flags, "verbose") || booleanFlag(flags, "V")) {
      for (const path of result.staged) ctx.reporter.info(`staged ${path}`);
      for (const path of result.changes.written) ctx.reporter.info(`wrote ${path}`);
      for (const path of result.changes.removed) ctx.reporter.info(`removed ${path}`);
      ctx.reporter.info(`${result.changes.unchanged} files and links already as wanted`);
    }
    for (const { node, state } of result.nodes) ctx.reporter.line(`${node}: ${state}`);
  },
};
