// HEAVY (run under flock /work/wt/heavy.lock): genimage's apt provider on a real Debian root —
// debootstrap minbase from this machine's mirror, then apt-get in the chroot.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { ExternalCommandError } from "../errors.ts";
import { readPackageList } from "../../formats/xcat/pkglist.ts";
import { imageTargetOf } from "../../providers/distros/distros.ts";
import { installPackages } from "./packages.ts";
import {
  copyDebianRoot,
  debianMirror,
  debianRoot,
  DEFAULT_DEBIAN_PKGLIST,
  osversOf,
  parseAptSources,
} from "../../testdata/support/debian_root.ts";
import { packageContext } from "../../testdata/support/package_testing.ts";
import { runTool } from "../../testdata/support/process.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";

/** Which of `names` dpkg in the image says are installed (it exits 1 for names it never knew). */
async function installed(rootimg: string, names: string[]): Promise<string[]> {
  const { stdout: output } = await runTool("chroot", [
    rootimg,
    "dpkg-query",
    "-W",
    "-f=${db:Status-Abbrev} ${Package}\\n",
    ...names,
  ]);
  return output.split("\n").filter((line) => line.startsWith("ii ")).map((line) =>
    line.split(/\s+/)[1]!
  ).sort();
}

Deno.test("parseAptSources: one-line and deb822 apt sources", () => {
  assertEquals(
    parseAptSources(
      "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib\n" +
        "deb-src http://m.example/debian bookworm main\n",
      "list",
    ),
    [{ url: "http://m.example/debian", suite: "bookworm", components: ["main", "contrib"] }],
  );
  assertEquals(
    parseAptSources(
      "Types: deb deb-src\nURIs: http://a.example/debian\nSuites: bookworm bookworm-updates\n" +
        "Components: main\n\nTypes: deb\nEnabled: no\nURIs: http://off.example/\nSuites: x\n",
      "deb822",
    ),
    [
      { url: "http://a.example/debian", suite: "bookworm", components: ["main"] },
      { url: "http://a.example/debian", suite: "bookworm-updates", components: ["main"] },
    ],
  );
});

heavyTest(
  "debootstrap minbase plus the pkglist's passes through the apt provider, from the machine's mirror",
  async () => {
    const mirror = await debianMirror();
    const rootimg = await debianRoot();
    assertEquals(DEFAULT_DEBIAN_PKGLIST, "less\n#NEW_INSTALL_LIST#\nbusybox-static\n");
    // Pass 1 came with debootstrap --include, pass 2 with apt-get inside the chroot.
    assertEquals(await installed(rootimg, ["less", "busybox-static"]), ["busybox-static", "less"]);
    ok((await Deno.stat(`${rootimg}/usr/bin/less`)).isFile);
    ok((await Deno.stat(`${rootimg}/bin/busybox`)).isFile);
    // The image's sources.list names the mirror genimage was given; the policy-rc.d is gone.
    assertEquals(
      await Deno.readTextFile(`${rootimg}/etc/apt/sources.list`),
      `deb ${mirror.url} ${mirror.suite} ${mirror.components.join(" ")}\n`,
    );
    assertEquals(
      await Deno.stat(`${rootimg}/usr/sbin/policy-rc.d`).catch(() => undefined),
      undefined,
    );
    // minbase: no Recommends-heavy extras such as systemd came in.
    assertEquals(await installed(rootimg, ["systemd"]), []);
  },
);

heavyTest(
  "a re-run on a Debian root installs what the list gained with apt-get and erases '-name'; a missing package fails with apt's last lines",
  async () => {
    const work = await Deno.makeTempDir({ prefix: "osimg-debian-rerun-" });
    const rootimg = `${work}/rootimg`;
    try {
      await copyDebianRoot(rootimg);
      const mirror = await debianMirror();
      const osvers = osversOf(mirror.suite);
      const image = imageTargetOf(osvers)!;
      const buildWith = async (text: string) => ({
        root: rootimg,
        osvers,
        arch: "x86_64",
        release: image.release,
        packageManager: image.build.packageManager(image.release),
        pkglist: await readPackageList("/pkglist", {
          read: (path: string) => Promise.resolve(path === "/pkglist" ? text : undefined),
        }),
        pkgdir: `${mirror.url} ${mirror.suite} ${mirror.components.join(" ")}`,
        noupdate: true,
      });
      const ctx = packageContext(work);
      const result = await installPackages(ctx, await buildWith("less bzip2\n-busybox-static\n"));
      assertEquals(result.created, false);
      assertEquals(await installed(rootimg, ["less", "bzip2", "busybox-static"]), [
        "bzip2",
        "less",
      ]);
      ok(
        ctx.output.progress.some((label) =>
          /install the pkglist pass 1 packages: \d+\/\d+ /.test(label)
        ),
      );

      const error = await installPackages(packageContext(work), await buildWith("osimg-nothere\n"))
        .then(() => undefined, (error: unknown) => error);
      ok(error instanceof ExternalCommandError, String(error));
      assertEquals(
        error.message,
        `apt-get could not install the pkglist pass 1 packages in ${rootimg} (exit code 100): ` +
          "package 'osimg-nothere' is not in the mirrors of pkgdir: fix the package list or add " +
          "the mirror or component that has it",
      );
      ok(
        error.details.includes("  E: Unable to locate package osimg-nothere"),
        error.details.join("\n"),
      );
      assertEquals(
        await Deno.stat(`${rootimg}/usr/sbin/policy-rc.d`).catch(() => undefined),
        undefined,
      );
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
);
