// How imgcapture reaches a node: ssh's options (our own known_hosts, key, batch mode), the one
// probe that reads what the node runs, and ssh's and rsync's failures as one clear message each.

import { ExternalCommandError, InvalidInputError, NotFoundError, OsimgError } from "../errors.ts";
import type { ProcessRunner } from "../process.ts";
import { SCRUB_RULES } from "./capture_rules.ts";

/** Where osimg keeps the host keys of the nodes it captured (a management-node path). */
export const KNOWN_HOSTS_PATH = "/etc/xcat/osimg/ssh_known_hosts";

/** A node as ssh reaches it. */
export interface SshTarget {
  node: string;
  ip: string;
  /** Host path of the known_hosts file ssh reads and records into. */
  knownHosts: string;
  /** The known_hosts file messages name (the real one, when ssh works on a staged copy). */
  shownKnownHosts?: string;
  /** Host path of the private key (--ssh-key); ssh's own defaults when absent. */
  key?: string;
}

/**
 * ssh's options: batch mode (never a password prompt), the node's host key accepted on first
 * contact into osimg's own known_hosts and refused when it changed, never the user's or the
 * system's list (what osimg trusts is what it recorded), and a bounded connect time.
 */
export function sshOptions(target: SshTarget): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=accept-new",
    "-o",
    `UserKnownHostsFile=${target.knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    // osimg's own list stays readable (which nodes it trusts); ssh-keygen -R works either way.
    "-o",
    "HashKnownHosts=no",
    "-o",
    "ConnectTimeout=15",
    "-o",
    "ServerAliveInterval=15",
    "-o",
    "ServerAliveCountMax=4",
    "-o",
    "LogLevel=ERROR",
    ...(target.key ? ["-o", "IdentitiesOnly=yes", "-i", target.key] : []),
    "-l",
    "root",
  ];
}

/**
 * The command line rsync runs ssh with (`-e`), each word quoted for rsync's own splitting. ssh
 * dies with the rsync that started it (setpriv's parent-death signal): a killed capture must
 * not leave a connection feeding rsync's receiver, which would go on writing into staging.
 */
export function rsyncShell(target: SshTarget): string {
  return ["setpriv", "--pdeathsig", "KILL", "ssh", ...sshOptions(target)].map(quoteForRsync)
    .join(" ");
}

/** rsync splits -e on spaces and honours single and double quotes, as a shell would. */
function quoteForRsync(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\"'\"'")}'`;
}

/** What the probe learned about the node. */
export interface NodeFacts {
  /** /etc/os-release as key → value (quotes removed). */
  osRelease: Record<string, string>;
  /** `uname -m`. */
  machine: string;
  /** The type of the file system holding / (`stat -f`). */
  rootFsType: string;
  /** Where rsync is on the node, or "" when it has none. */
  rsync: string;
  /** Active swap files (from /proc/swaps), never captured. */
  swapFiles: string[];
  /** The node's hostname (its /etc/hostname, else `hostname`). */
  hostname: string;
  /** The packages installed on the node (dpkg's or rpm's names), sorted; empty if it has neither. */
  packages: string[];
  /** Paths on the node matching each scrub rule's globs, by rule name. */
  scrubPaths: Map<string, string[]>;
}

const SECTION = "@@osimg-imgcapture@@";

/** The probe, a POSIX sh script fed on stdin: one round trip reads everything checked first. */
export function probeScript(): string {
  const globs = SCRUB_RULES.map((rule) =>
    `for f in ${
      rule.globs.join(" ")
    }; do [ -e "$f" ] || [ -L "$f" ] && echo "${rule.name} $f"; done`
  );
  return [
    "LC_ALL=C; export LC_ALL",
    "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null",
    `echo ${SECTION}`,
    "uname -m",
    `echo ${SECTION}`,
    "stat -f -c %T / 2>/dev/null || stat -f / | sed -n 's/.*Type: *\\([^ ]*\\).*/\\1/p'",
    `echo ${SECTION}`,
    "command -v rsync || true",
    `echo ${SECTION}`,
    "awk 'NR > 1 && $2 == \"file\" { print $1 }' /proc/swaps 2>/dev/null || true",
    `echo ${SECTION}`,
    "cat /etc/hostname 2>/dev/null || hostname",
    `echo ${SECTION}`,
    ...globs,
    `echo ${SECTION}`,
    // Whichever package database the node has: what the image's pkglist records.
    "if command -v dpkg-query >/dev/null 2>&1; then dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' | awk '$1 ~ /^.i/ { print $2 }';" +
    " elif command -v rpm >/dev/null 2>&1; then rpm -qa --qf '%{NAME}\\n'; fi",
    `echo ${SECTION}`,
    "",
  ].join("\n");
}

/** Parses the probe's output (sections in probeScript's order). */
export function parseProbe(output: string): NodeFacts {
  const sections = output.split(`${SECTION}\n`);
  if (sections.length < 9) {
    throw new InvalidInputError(
      `imgcapture: the node's answer to the probe is incomplete (${
        sections.length - 1
      } of 8 sections)`,
    );
  }
  const lines = (index: number) =>
    sections[index]!.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const osRelease: Record<string, string> = {};
  for (const line of lines(0)) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) osRelease[match[1]!] = match[2]!.replace(/^(["'])(.*)\1$/, "$2");
  }
  const scrubPaths = new Map<string, string[]>();
  for (const line of lines(6)) {
    const space = line.indexOf(" ");
    const name = line.slice(0, space);
    const list = scrubPaths.get(name) ?? [];
    list.push(line.slice(space + 1));
    scrubPaths.set(name, list);
  }
  return {
    osRelease,
    machine: lines(1)[0] ?? "",
    rootFsType: lines(2)[0] ?? "",
    rsync: lines(3)[0] ?? "",
    swapFiles: lines(4).filter((path) => path.startsWith("/")),
    hostname: lines(5)[0] ?? "",
    packages: [...new Set(lines(7))].sort(),
    scrubPaths,
  };
}

/**
 * The message of ssh's failure to connect or log in, or undefined when it ran the command.
 * `connecting`: the status is ssh's own (the probe), so any 255 is a failure to connect; after
 * rsync, 255 is also rsync's "unexplained error" and only ssh's own words count.
 */
export function sshFailure(
  target: SshTarget,
  code: number,
  stderr: string,
  connecting = true,
): OsimgError | undefined {
  if (code !== 255) return undefined;
  const knownHosts = target.shownKnownHosts ?? target.knownHosts;
  const who = `${target.node} (${target.ip})`;
  const reason = stderr.trim().split("\n").filter((line) => !/^\s*$/.test(line)).at(-1) ?? "";
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(stderr)) {
    return new OsimgError(
      `The ssh host key of ${who} is not the one recorded in ${knownHosts}: ` +
        `refusing to capture from it. If the node was reinstalled, remove its old key with ` +
        `'ssh-keygen -R ${target.ip} -f ${knownHosts}' and run imgcapture again.`,
    );
  }
  if (/Permission denied|Too many authentication failures/.test(stderr)) {
    return new NotFoundError(
      `root@${who} accepted no ssh key of ours (${
        target.key ? `--ssh-key ${target.key}` : "ssh's default keys of the user running osimg"
      }): add the public key to the node's /root/.ssh/authorized_keys or name the right key ` +
        `with --ssh-key FILE.`,
    );
  }
  if (/Identity file .* not accessible|Load key .*: /.test(stderr)) {
    return new NotFoundError(`Cannot use the ssh key ${target.key ?? ""}: ${reason}`);
  }
  if (!connecting && !/^ssh: /m.test(stderr)) return undefined;
  return new OsimgError(
    `Cannot reach ${who} over ssh: ${reason || `ssh exited with status ${code}`}. ` +
      `Check that the node is up, that hosts.ip is its address and that sshd runs on it.`,
  );
}

/** Runs the probe on the node, or fails with the one message that says why it could not. */
export async function probeNode(runner: ProcessRunner, target: SshTarget): Promise<NodeFacts> {
  const argv = ["ssh", ...sshOptions(target), target.ip, "/bin/sh", "-s"];
  const result = await runner.run(argv, {
    stdin: new TextEncoder().encode(probeScript()),
    allowFailure: true,
  });
  const failure = sshFailure(target, result.code, result.stderr);
  if (failure) throw failure;
  if (result.code !== 0) {
    throw new ExternalCommandError(argv, result.code, result.stderr);
  }
  return parseProbe(new TextDecoder().decode(result.stdout));
}

/** One word for the node's shell (sh -c), quoted unless it is plainly safe. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * A runner whose programs run on the node, through ssh: code written against a ProcessRunner
 * (the disk layout reader) reads the node as it would this machine. ssh's own failures
 * (unreachable, refused key, changed host key) throw their one message whatever
 * `allowFailure` says; a program's failure is the program's, as with a local runner.
 *
 * @example
 * ```ts
 * const remote = nodeRunner(ctx.runner, target);
 * const { stdout } = await remote.run(["findmnt", "-rn", "-o", "TARGET,SOURCE"]);
 * ```
 */
export function nodeRunner(runner: ProcessRunner, target: SshTarget): ProcessRunner {
  const remote = (argv: readonly string[]) => [
    "ssh",
    ...sshOptions(target),
    target.ip,
    "--",
    argv.map(shellWord).join(" "),
  ];
  return {
    async run(argv, options = {}) {
      const result = await runner.run(remote(argv), { ...options, allowFailure: true });
      const failure = sshFailure(target, result.code, result.stderr);
      if (failure) throw failure;
      if (result.code !== 0 && !options.allowFailure) {
        throw new ExternalCommandError(
          argv,
          result.code,
          result.stderr,
          `'${argv.join(" ")}' failed on ${target.node} (exit ${result.code}${
            result.stderr.trim() ? `: ${result.stderr.trim().split("\n").at(-1)}` : ""
          })`,
        );
      }
      return result;
    },
    stream: (argv, options) => runner.stream(remote(argv), options),
    // A program left running on the node: stopping it stops its ssh session.
    start: (argv, options) => runner.start(remote(argv), options),
  };
}
