// Test support for imgcapture: a tree summarised path by path, what a capture leaves out,
// rewrites and adds, the comparison of a client's tree with its capture, and process helpers.

import { createHash } from "node:crypto";
import { walkTree } from "../../core/tree/walk.ts";
import type { TestRoot } from "./testing.ts";

/**
 * The golden node "gold" (debian12, x86_64, profile compute) at `ip`, with `attributes`, in a
 * fresh management node.
 */
export async function defineGolden(
  t: TestRoot,
  ip: string,
  attributes: string[] = [],
): Promise<void> {
  await t.ok([
    "mkdef",
    "-t",
    "node",
    "-o",
    "gold",
    "groups=all",
    "os=debian12",
    "arch=x86_64",
    "profile=compute",
    `ip=${ip}`,
    ...attributes,
  ]);
}

/** `imgcapture gold -t sysclone -o <image>` with the client's key: the sysclone tests' capture. */
export function syscloneCaptureArgs(image: string, privateKey: string): string[] {
  return ["imgcapture", "gold", "-t", "sysclone", "-o", image, "--ssh-key", privateKey];
}

/** Everything a file-by-file comparison looks at, one line per path (file mtimes too). */
export async function treeSummary(root: string, prefix = ""): Promise<Map<string, string>> {
  const summary = new Map<string, string>();
  for await (const entry of walkTree(root, { oneFileSystem: true })) {
    const xattrs = [...entry.xattrs.entries()].map(([name, value]) =>
      `${name}=${createHash("sha256").update(value).digest("hex").slice(0, 16)}`
    ).sort().join(",");
    const owner = `${entry.uid}:${entry.gid} ${entry.mode.toString(8)} [${xattrs}]`;
    let detail: string;
    switch (entry.kind) {
      case "file": {
        const hash = createHash("sha256");
        for await (const chunk of entry.content.open()) hash.update(chunk);
        detail = `file ${entry.content.size} ${hash.digest("hex")} mtime=${entry.mtime}`;
        break;
      }
      case "hardlink":
        detail = `hardlink ${entry.target}`;
        break;
      case "symlink":
        detail = `symlink ${entry.target}`;
        break;
      case "dir":
        detail = "dir";
        break;
      case "chardev":
      case "blockdev":
        detail = `${entry.kind} ${entry.devmajor},${entry.devminor}`;
        break;
      case "fifo":
        detail = "fifo";
        break;
    }
    summary.set(prefix + entry.path, `${detail} ${owner}`);
  }
  return summary;
}

/** Paths the capture leaves out, as the issue lists them (written here independently). */
export const CAPTURE_LEFT_OUT: readonly RegExp[] = [
  /^(proc|sys|dev|run|tmp|var\/tmp|install)\/./,
  /^var\/log\/.*[^/]$/,
  /^var\/cache\/(apt|dnf|yum|zypp)\/.*[^/]$/,
  /^etc\/ssh\/ssh_host_[a-z0-9]+_key(\.pub)?$/,
  /^var\/lib\/systemd\/random-seed$/,
  /^var\/lib\/dhcp\/dhclient\..*leases$/,
  /^etc\/udev\/rules\.d\/70-persistent-net\.rules$/,
  /^etc\/(g)?shadow-$/,
];
/** Paths a diskless capture rewrites (each checked on its own by the tests). */
export const CAPTURE_REWRITTEN: ReadonlySet<string> = new Set([
  "etc/machine-id",
  "etc/hostname",
  "etc/shadow",
  "etc/gshadow",
  "etc/fstab",
  "etc/hosts",
  "etc/network/interfaces",
  "var/lib/dbus/machine-id",
]);
/** Paths osimg adds. */
export const CAPTURE_ADDED: ReadonlySet<string> = new Set([
  "etc/systemd/system/osimg-ssh-host-keys.service",
  "etc/systemd/system/multi-user.target.wants/osimg-ssh-host-keys.service",
]);

/** Host pids of rsync processes whose command line names `fragment`. */
export function rsyncPids(fragment: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      if (argv[0]?.endsWith("rsync") && argv.some((arg) => arg.includes(fragment))) {
        pids.push(Number(entry.name));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Waits until `check` holds (polling), or fails after `seconds`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  seconds = 120,
) {
  const deadline = Date.now() + seconds * 1000;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Differences between a client's tree and its capture: every path the capture must hold
 * (neither left out nor in `rewritten`) with the same summary, nothing left out captured,
 * nothing in the capture the client lacks but osimg's additions. Directories compare by owner,
 * mode and xattrs (their mtimes are not in the summary: a capture changes their contents).
 */
export function captureMismatches(
  source: ReadonlyMap<string, string>,
  captured: ReadonlyMap<string, string>,
  rewritten: ReadonlySet<string>,
): string[] {
  const mismatches: string[] = [];
  for (const [path, summary] of source) {
    if (path === ".") continue;
    const leftOut = CAPTURE_LEFT_OUT.some((pattern) =>
      pattern.test(path + (summary.startsWith("dir") ? "/" : ""))
    );
    if (leftOut) {
      if (captured.has(path)) mismatches.push(`captured although excluded: ${path}`);
      continue;
    }
    if (rewritten.has(path)) continue;
    const got = captured.get(path);
    if (got !== summary) mismatches.push(`${path}\n  client: ${summary}\n  image:  ${got}`);
  }
  for (const path of captured.keys()) {
    if (path !== "." && !source.has(path) && !CAPTURE_ADDED.has(path) && !rewritten.has(path)) {
      mismatches.push(`in the image only: ${path}`);
    }
  }
  return mismatches;
}
