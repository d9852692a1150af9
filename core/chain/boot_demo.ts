// `osimg demo --boot`: the boot chain on the user's machine, in a temporary (or new) root,
// after checking that everything it needs is installed — and changing nothing when it is not.

import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";
import { withInterruptSignals } from "../interrupt.ts";
import { type AptSource, debianMirror, osversOf } from "../genimage/apt_mirror.ts";
import { requireEmptyRoot } from "../demo.ts";
import { checkBootChainPrerequisites, runBootChain, systemProbe } from "./boot_chain.ts";

/** What `demo --boot` was asked. */
export interface BootDemoOptions {
  keep: boolean;
  /** `--mirror "URL [SUITE [COMPONENT...]]"`; absent: the machine's apt configuration. */
  mirror?: string;
  /** `--dhcp kea|dnsmasq`; absent: Kea if installed, else dnsmasq. */
  dhcp?: string;
}

/**
 * The mirror a `--mirror` value names: a URL, then optionally the suite (default bookworm) and
 * components (default main).
 *
 * @example
 * ```ts
 * parseMirror("http://deb.debian.org/debian"); // { url, suite: "bookworm", components: ["main"] }
 * ```
 */
export function parseMirror(text: string): AptSource {
  const [url, suite = "bookworm", ...components] = text.trim().split(/\s+/);
  if (!url || !/^(https?|file):\/\/\S+$/.test(url)) {
    throw new UsageError(
      `demo: --mirror '${text}' is not 'URL [SUITE [COMPONENT...]]' (e.g. ` +
        `'http://deb.debian.org/debian bookworm main').`,
    );
  }
  return { url, suite, components: components.length > 0 ? components : ["main"] };
}

/** How to start this osimg again as a program: the compiled binary, or deno on the main module. */
export function selfCommand(): string[] {
  const executable = Deno.execPath();
  if (!/^deno(\.exe)?$/.test(basename(executable))) return [executable];
  return [executable, "run", "-A", fileURLToPath(Deno.mainModule)];
}

/**
 * Runs the chain for a newcomer: checks the machine first (root, QEMU, OVMF, iPXE, Kea or
 * dnsmasq, debootstrap, a mirror), then builds, serves and boots in a temporary root (removed
 * unless `keep`) or in `--root DIR` (new or empty, kept), printing each command.
 */
export async function runBootDemo(ctx: Context, options: BootDemoOptions): Promise<void> {
  const given = options.mirror !== undefined ? parseMirror(options.mirror) : undefined;
  const dhcp = await checkBootChainPrerequisites(
    systemProbe(ctx.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"),
    options.dhcp,
  );
  const mirror = given ?? await debianMirror();
  const osvers = osversOf(mirror.suite);
  const ownRoot = ctx.root !== "/";
  if (ownRoot) await requireEmptyRoot(ctx.root);
  const base = await Deno.makeTempDir({ prefix: "osimg-demo-boot-" });
  const root = ownRoot ? ctx.root : join(base, "mn");
  const workDir = join(base, "run");
  await Deno.mkdir(workDir);
  const say = (text: string) => ctx.reporter.line(text);
  try {
    say(`osimg demo --boot in ${base}`);
    say(`  management node: ${root}${ownRoot ? " (kept)" : ""}`);
    say(`  mirror: ${mirror.url} ${mirror.suite} ${mirror.components.join(" ")}`);
    say(`  DHCP server: ${dhcp.name}; logs, leases and consoles: ${workDir}`);
    const result = await withInterruptSignals(
      "demo --boot",
      (signal) =>
        runBootChain({ ...ctx, root }, {
          mirror,
          osvers,
          osimg: selfCommand(),
          dhcp,
          workDir,
          signal,
        }),
    );
    say("");
    for (const node of result.nodes) {
      const lease = result.leases.filter((entry) => entry.mac === node.mac).at(-1);
      const fetched = result.fetches[node.ip] ?? [];
      say(
        `${node.node} (${node.firmware.toUpperCase()}): lease ${lease?.ip ?? "?"} for ` +
          `${node.mac}, ${fetched.length} fetches from osimg serve, booted in ${node.seconds} s: ` +
          node.marker,
      );
    }
    const kept = options.keep ? base : ownRoot ? root : undefined;
    say("");
    say(`The demo finished.${kept ? ` Its files are in ${kept}.` : ""}`);
  } finally {
    if (!options.keep) await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}
