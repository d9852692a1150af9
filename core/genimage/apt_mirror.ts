// The Debian mirror this machine's apt uses, for images built from the configured mirror
// (`demo --boot`, the heavy tests), and the osvers of a Debian suite.

import { InvalidInputError, NotFoundError } from "../errors.ts";
import { type AptSource, parseAptSources } from "../../formats/linux/apt_sources.ts";
import { imageTargetOf } from "../../providers/distros/distros.ts";

export type { AptSource };

/**
 * The Debian mirror and release suite this machine's apt uses: the first `deb` source whose
 * suite is a release (no `-updates`/`-security` pocket).
 */
export async function debianMirror(etcApt = "/etc/apt"): Promise<AptSource> {
  const sources: AptSource[] = [];
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  sources.push(...parseAptSources(await read(`${etcApt}/sources.list`), "list"));
  const parts: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${etcApt}/sources.list.d`)) parts.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const name of parts.sort()) {
    if (name.endsWith(".list")) {
      sources.push(...parseAptSources(await read(`${etcApt}/sources.list.d/${name}`), "list"));
    } else if (name.endsWith(".sources")) {
      sources.push(...parseAptSources(await read(`${etcApt}/sources.list.d/${name}`), "deb822"));
    }
  }
  const release = sources.find((source) => !source.suite.includes("-"));
  if (!release) {
    throw new NotFoundError(
      `No Debian release source (a 'deb URL SUITE COMPONENTS' line) in ${etcApt}'s apt ` +
        `configuration; name a mirror with --mirror URL.`,
    );
  }
  return release;
}

/** The osvers of a Debian suite (bookworm → debian12). */
export function osversOf(suite: string): string {
  for (let major = 8; major < 40; major++) {
    if (imageTargetOf(`debian${major}`)?.release.codename === suite) return `debian${major}`;
  }
  throw new InvalidInputError(`No Debian release osimg knows is named '${suite}'.`);
}
