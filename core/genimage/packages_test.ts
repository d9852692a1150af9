// genimage's package side against the real dnf, rpm and zypper, and its argv with a recording runner.

import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { ExternalCommandError, InvalidInputError, NotFoundError } from "../errors.ts";
import { recordingRunner } from "../recording_runner.ts";
import { readPackageList } from "../../formats/xcat/pkglist.ts";
import { imageTargetOf } from "../../providers/distros/distros.ts";
import { installPackages, type PackageBuild } from "./packages.ts";
import { buildRpmRepository, packageContext } from "../../testdata/support/package_testing.ts";
import { sh } from "../../testdata/support/process.ts";
import { assertGolden, snapshotTree } from "../../testdata/support/testing.ts";

const ROOTIMG = "/install/netboot/IMG/x86_64/compute/rootimg";

/** A management-node root with `lists` written under /install/custom and an rpm media tree. */
async function siteWith(lists: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "osimg-genimage-pkgs-" });
  // A RHEL 8/9 media layout: two repositories under one pkgdir.
  await buildRpmRepository(`${root}/install/OS/x86_64/BaseOS`, [
    { name: "osimg-alpha", requires: ["osimg-beta"] },
    { name: "osimg-beta" },
  ]);
  await buildRpmRepository(`${root}/install/OS/x86_64/AppStream`, [{ name: "osimg-gamma" }]);
  await buildRpmRepository(`${root}/install/post/otherpkgs/extra`, [{ name: "osimg-delta" }]);
  for (const [name, text] of Object.entries(lists)) {
    await Deno.mkdir(`${root}/install/custom`, { recursive: true });
    await Deno.writeTextFile(`${root}/install/custom/${name}`, text);
  }
  return root;
}

async function buildFor(
  root: string,
  osvers: string,
  overrides: Partial<PackageBuild> = {},
): Promise<PackageBuild> {
  const read = (path: string) => Deno.readTextFile(`${root}${path}`).catch(() => undefined);
  const image = imageTargetOf(osvers)!;
  return {
    root: `${root}${ROOTIMG}`,
    osvers,
    arch: "x86_64",
    release: image.release,
    packageManager: image.build.packageManager(image.release),
    pkglist: await readPackageList("/install/custom/compute.pkglist", { read }),
    pkgdir: "/install/OS/x86_64",
    ...overrides,
  };
}

/** The names rpm lists in the image's own database (where the image's rpm looks). */
async function rpmNames(rootimg: string, dbpath = "/var/lib/rpm"): Promise<string[]> {
  const text = await sh(["rpm", "--root", rootimg, "--dbpath", dbpath, "-qa", "--qf", "%{NAME}\n"]);
  return text.split("\n").filter((line) => line !== "").sort();
}

function leftovers(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name).filter((name) =>
    name.startsWith(".genimage-work")
  );
}

Deno.test("dnf --installroot installs the pkglist, its dependency and the otherpkglist from local rpm-md repositories", async () => {
  const root = await siteWith({
    "compute.pkglist": "osimg-alpha\n#NEW_INSTALL_LIST#\nosimg-gamma\n",
    "compute.otherpkgs.pkglist": "extra/osimg-delta\n",
  });
  try {
    const ctx = packageContext(root);
    const read = (path: string) => Deno.readTextFile(`${root}${path}`).catch(() => undefined);
    const build = await buildFor(root, "rocky9.3", {
      otherpkglist: await readPackageList("/install/custom/compute.otherpkgs.pkglist", {
        read,
        attribute: "otherpkglist",
      }),
      otherpkgdir: "/install/post/otherpkgs",
    });
    const result = await installPackages(ctx, build);
    assertEquals(result.packageManager, "dnf");
    assertEquals(result.created, true);
    // BaseOS and AppStream were found under the one pkgdir, in name order.
    assertEquals(result.repositories.map((repository) => repository.id), [
      "rocky9.3-x86_64-0",
      "rocky9.3-x86_64-1",
      "otherpkgs1",
    ]);
    const rootimg = `${root}${ROOTIMG}`;
    for (const name of ["osimg-alpha", "osimg-beta", "osimg-gamma", "osimg-delta"]) {
      assertEquals(
        await Deno.readTextFile(`${rootimg}/usr/share/osimg-test/${name}`),
        `${name}\n`,
      );
    }
    // The database is where Rocky's own rpm reads it, not in Debian's ~/.rpmdb.
    assertEquals(await rpmNames(rootimg), [
      "osimg-alpha",
      "osimg-beta",
      "osimg-delta",
      "osimg-gamma",
    ]);
    ok(!Deno.statSync(rootimg).isFile);
    assertEquals(await Deno.stat(`${rootimg}/root/.rpmdb`).catch(() => undefined), undefined);
    // No repository file of ours stays in the image, and the work directory is gone.
    assertEquals(await Deno.stat(`${rootimg}/etc/yum.repos.d`).catch(() => undefined), undefined);
    assertEquals(leftovers(`${root}/install/netboot/IMG/x86_64/compute`), []);
    // Progress counted packages from dnf's own lines.
    ok(
      ctx.output.progress.includes(
        "dnf: install the pkglist pass 1 packages: 2/2 osimg-alpha-1.0-1.noarch",
      ),
      ctx.output.progress.join("\n"),
    );
    assertEquals(ctx.output.reported, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a re-run installs what the list gained, erases '-name' entries, and -v shows dnf's output", async () => {
  const root = await siteWith({ "compute.pkglist": "osimg-gamma\n" });
  try {
    await installPackages(packageContext(root), await buildFor(root, "rhels9.2"));
    await Deno.writeTextFile(
      `${root}/install/custom/compute.pkglist`,
      "osimg-alpha\n-osimg-gamma\n",
    );
    const ctx = packageContext(root);
    const result = await installPackages(ctx, await buildFor(root, "rhels9.2", { verbose: true }));
    assertEquals(result.created, false);
    assertEquals(await rpmNames(`${root}${ROOTIMG}`), ["osimg-alpha", "osimg-beta"]);
    ok(ctx.output.reported.some((line) => /^info\s+Erasing\s+: osimg-gamma/.test(line)));
    ok(ctx.output.reported.includes("info Complete!"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a package that does not exist fails with dnf's own last lines and what to fix", async () => {
  const root = await siteWith({ "compute.pkglist": "osimg-alpha osimg-nothere\n" });
  try {
    const error = await installPackages(packageContext(root), await buildFor(root, "alma9.3"))
      .then(() => undefined, (error: unknown) => error);
    ok(error instanceof ExternalCommandError, String(error));
    assertEquals(
      error.message,
      `dnf could not install the pkglist pass 1 packages in ${root}${ROOTIMG} (exit code 1): ` +
        "package 'osimg-nothere' is not in the repositories of pkgdir and otherpkgdir: fix the " +
        "package list or add the repository that has it",
    );
    assertEquals(error.details[0], "The last lines of dnf:");
    ok(error.details.includes("  No match for argument: osimg-nothere"), error.details.join("\n"));
    ok(error.details.includes("  Error: Unable to find a match: osimg-nothere"));
    assertEquals(leftovers(`${root}/install/netboot/IMG/x86_64/compute`), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a pkgdir without repository data is refused before the root is touched", async () => {
  const root = await siteWith({ "compute.pkglist": "osimg-alpha\n" });
  try {
    await Deno.mkdir(`${root}/install/bare/x86_64/Packages`, { recursive: true });
    const before = await snapshotTree(root);
    await rejects(
      installPackages(
        packageContext(root),
        await buildFor(root, "rhels8.8", { pkgdir: "/install/OS/x86_64,/install/bare/x86_64" }),
      ),
      (error: Error) =>
        error instanceof InvalidInputError &&
        error.message ===
          "pkgdir /install/bare/x86_64 holds no repository data. The repository for " +
            "/install/bare/x86_64 should be created before running genimage. Try to run " +
            "[createrepo /install/bare/x86_64].",
    );
    assertEquals(await snapshotTree(root), before);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a pkgdir that does not exist is refused before the root is touched", async () => {
  const root = await siteWith({ "compute.pkglist": "osimg-alpha\n" });
  try {
    const before = await snapshotTree(root);
    await rejects(
      installPackages(
        packageContext(root),
        await buildFor(root, "rhels9.2", { pkgdir: "/install/rhels9.2/x86_64" }),
      ),
      (error: Error) =>
        error instanceof NotFoundError &&
        error.message === "pkgdir directory /install/rhels9.2/x86_64 does not exist",
    );
    assertEquals(await snapshotTree(root), before);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an otherpkglist sub-directory otherpkgdir does not have is refused before the root is touched", async () => {
  const root = await siteWith({
    "compute.pkglist": "osimg-alpha\n",
    "other.pkglist": "missing/osimg-delta\n",
  });
  try {
    const read = (path: string) => Deno.readTextFile(`${root}${path}`).catch(() => undefined);
    const build = await buildFor(root, "rhels9.2", {
      otherpkglist: await readPackageList("/install/custom/other.pkglist", { read }),
      otherpkgdir: "/install/post/otherpkgs",
    });
    const before = await snapshotTree(root);
    await rejects(
      installPackages(packageContext(root), build),
      (error: Error) =>
        error instanceof InvalidInputError &&
        error.message ===
          "The otherpkglist installs from 'missing', but /install/post/otherpkgs/missing holds " +
            "no repository. The repository for /install/post/otherpkgs/missing should be " +
            "created before running genimage. Try to run [createrepo /install/post/otherpkgs/missing].",
    );
    assertEquals(await snapshotTree(root), before);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("zypper --root installs the pkglist and its dependency from a local rpm-md repository", async () => {
  const root = await siteWith({ "compute.pkglist": "osimg-alpha\n" });
  try {
    const ctx = packageContext(root);
    const result = await installPackages(ctx, await buildFor(root, "sles15.5"));
    assertEquals(result.packageManager, "zypper");
    const rootimg = `${root}${ROOTIMG}`;
    assertEquals(
      await Deno.readTextFile(`${rootimg}/usr/share/osimg-test/osimg-beta`),
      "osimg-beta\n",
    );
    // SLE 15 keeps its rpm database under /usr/lib/sysimage/rpm.
    assertEquals(await rpmNames(rootimg, "/usr/lib/sysimage/rpm"), ["osimg-alpha", "osimg-beta"]);
    // Our .repo files were outside the image.
    assertEquals(
      await Deno.stat(`${rootimg}/etc/zypp/repos.d/sles15.5-x86_64-0.repo`).catch(() => undefined),
      undefined,
    );
    ok(ctx.output.progress.some((label) => label.endsWith("2/2 osimg-alpha-1.0-1.noarch")));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("zypper: a package that does not exist fails with zypper's own last lines", async () => {
  const root = await siteWith({ "compute.pkglist": "osimg-nothere\n" });
  try {
    const error = await installPackages(packageContext(root), await buildFor(root, "sles15.5"))
      .then(() => undefined, (error: unknown) => error);
    ok(error instanceof ExternalCommandError, String(error));
    assertEquals(error.code, 104);
    ok(
      error.message.endsWith(
        "(exit code 104): package 'osimg-nothere' is not in the repositories of pkgdir and " +
          "otherpkgdir: fix the package list or add the repository that has it",
      ),
      error.message,
    );
    ok(error.details.includes("  No provider of 'osimg-nothere' found."));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the commands of a first build and of --noupdate, recorded (golden)", async () => {
  const root = await siteWith({
    "compute.pkglist": "osimg-alpha\n#NEW_INSTALL_LIST#\n#ENV:ACCEPT=yes#\n--osimg-beta\n",
  });
  try {
    const runner = recordingRunner({
      script: [
        { argv: ["rpm", "--root"], stdout: "osimg-beta\n" },
        { argv: ["dnf"] },
      ],
    });
    const ctx = packageContext(root, { runner });
    await installPackages(ctx, await buildFor(root, "rhels9.2"));
    await installPackages(ctx, await buildFor(root, "rhels9.2", { noupdate: true }));
    const transcript = runner.transcript({ [root]: "<root>" })
      .replace(/\.genimage-work-\d+-[0-9a-f]{8}/g, ".genimage-work-<pid>-<id>");
    await assertGolden("genimage/packages_recorded_rhels9.2.argv", transcript);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
