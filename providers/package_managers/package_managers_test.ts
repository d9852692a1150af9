// Golden argv and repository files of each package manager, per release family genimage builds.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { imageTargetOf } from "../distros/distros.ts";
import { readPackageList } from "../../formats/xcat/pkglist.ts";
import { assertGolden } from "../../testdata/support/testing.ts";
import {
  type CommandStep,
  PACKAGE_MANAGERS,
  packageManagerNamed,
  type PackageManagerTarget,
  type Repository,
} from "./package_managers.ts";

const LIST = {
  "/install/custom/netboot/compute.pkglist": [
    "bash coreutils",
    "@core",
    "#NEW_INSTALL_LIST#",
    "#ENV:ACCEPT_EULA=yes#",
    "-firewalld",
    "vendor-tools",
    "",
  ].join("\n"),
};

function repositoriesFor(osvers: string, arch: string): Repository[] {
  const target = imageTargetOf(osvers)!;
  const codename = target.release.codename;
  if (codename && target.distro.name === "ubuntu") {
    // pkgdir "http://mirror.example/ubuntu <suite> main universe" entries, xCAT's pockets.
    return ["", "-updates", "-security"].map((pocket, index) => ({
      id: `${osvers}-${arch}-${index}`,
      url: "http://mirror.example/ubuntu",
      suite: `${codename}${pocket}`,
      components: ["main", "universe"],
    }));
  }
  if (codename) {
    return [
      { id: `${osvers}-${arch}-0`, url: "http://mirror.example/debian", suite: codename },
      {
        id: `${osvers}-${arch}-1`,
        url: "http://mirror.example/debian",
        suite: `${codename}-updates`,
      },
    ];
  }
  // RHEL 8/9 media: BaseOS and AppStream are each a repository under the copied tree.
  return [
    { id: `${osvers}-${arch}-0`, url: `file:///install/${osvers}/${arch}/AppStream` },
    { id: `${osvers}-${arch}-1`, url: `file:///install/${osvers}/${arch}/BaseOS` },
    { id: `${osvers}-${arch}-2`, url: "http://mirror.example/updates/$releasever/" },
    { id: "otherpkgs1", url: "file:///install/post/otherpkgs/el/x86_64/mlnx" },
  ];
}

function targetFor(osvers: string, arch = "x86_64"): PackageManagerTarget {
  return {
    root: "/install/netboot/IMG/x86_64/compute/rootimg",
    workDir: "/tmp/osimg-genimage.WORK",
    arch,
    hostArch: "x86_64",
    release: imageTargetOf(osvers)!.release,
    repositories: repositoriesFor(osvers, arch),
  };
}

function line(title: string, step: CommandStep): string {
  const env = Object.entries(step.env).map(([name, value]) => `${name}=${value}`);
  const quote = (word: string) => /^[A-Za-z0-9_@%+=:,./^-]+$/.test(word) ? word : `'${word}'`;
  return `# ${title}\n${[...env, ...step.argv].map(quote).join(" ")}\n`;
}

/** Every file and command of a first build and its re-run, as the golden file shows them. */
async function transcriptFor(osvers: string, arch = "x86_64"): Promise<string> {
  const image = imageTargetOf(osvers)!;
  const manager = packageManagerNamed(image.build.packageManager(image.release));
  const target = targetFor(osvers, arch);
  const list = await readPackageList("/install/custom/netboot/compute.pkglist", {
    read: (path) => Promise.resolve(LIST[path as keyof typeof LIST]),
  });
  const out: string[] = [
    `# ${osvers} ${arch}: ${manager.name}${
      manager.fallback ? ` (${manager.fallback} when ${manager.programs[0]} is missing)` : ""
    }, release ${JSON.stringify(image.release)}\n`,
    `# database marker: ${manager.databaseMarker(target)}\n`,
  ];
  const first = list.passes[0]!.install.map((request) => request.name);
  for (const step of manager.createDatabase(target, first)) out.push(line("create", step));
  for (const file of manager.configFiles(target)) {
    const mode = file.mode === undefined ? "" : ` mode ${file.mode.toString(8)}`;
    out.push(`# file ${file.path}${mode}${file.temporary ? " (removed afterwards)" : ""}\n`);
    out.push(file.text.split("\n").slice(0, -1).map((text) => `| ${text}\n`).join(""));
  }
  for (const step of manager.refresh(target)) out.push(line("refresh", step));
  for (const pass of list.passes) {
    if (pass.removeBefore.length > 0) {
      out.push(
        line(`installed? pass ${pass.number}`, manager.queryInstalled(target, pass.removeBefore)),
      );
      out.push(
        line(`remove before pass ${pass.number}`, manager.remove(target, pass.removeBefore)),
      );
    }
    const install = manager.install(target, pass.install.map((request) => request.name));
    out.push(
      line(`install pass ${pass.number}`, { ...install, env: { ...install.env, ...pass.env } }),
    );
  }
  for (const step of manager.update(target, [])) out.push(line("update", step));
  for (const step of manager.update(target, ["kernel*"])) out.push(line("update -k", step));
  return out.join("");
}

const RELEASES = [
  "rhels7.9",
  "rhels8.8",
  "rhels9.2",
  "rocky9.3",
  "alma9.3",
  "ol9.3",
  "centos-stream9",
  "fedora39",
  "sles15.5",
  "ubuntu22.04",
  "ubuntu24.04.1",
  "debian12",
];

for (const osvers of RELEASES) {
  Deno.test(`package manager argv and repository files for ${osvers} (golden)`, async () => {
    await assertGolden(`genimage/packages_${osvers}.txt`, await transcriptFor(osvers));
  });
}

Deno.test("a foreign architecture: dnf gets --forcearch, yum the arch in its yum.conf (golden)", async () => {
  await assertGolden(
    "genimage/packages_foreign_arch.txt",
    (await transcriptFor("rhels9.2", "aarch64")) + (await transcriptFor("rhels7.9", "ppc64le")),
  );
});

Deno.test("the same package list installs the same names whichever package manager runs it", () => {
  const names = ["bash", "coreutils", "@core", "bash"];
  for (const manager of PACKAGE_MANAGERS) {
    const target = targetFor(manager.name === "apt" ? "debian12" : "rhels9.2");
    const argv = manager.install(target, names).argv;
    assertEquals(argv.slice(argv.indexOf("install") + 1).filter((word) => !word.startsWith("-")), [
      "bash",
      "coreutils",
      "@core",
    ]);
    const removed = manager.remove(target, ["firewalld"]).argv;
    assertEquals(removed.at(-1), "firewalld");
  }
  const debootstrap = packageManagerNamed("apt").createDatabase(targetFor("debian12"), names)[0]!;
  ok(debootstrap.argv.includes("--include=bash,coreutils,@core"));
});

Deno.test("progress: package counts from dnf, zypper, apt-get and debootstrap output", () => {
  const read = (name: "dnf" | "zypper" | "apt", lines: string[]) => {
    const parser = packageManagerNamed(name).progress();
    return lines.map((text) => parser.line(text)).filter((count) => count !== undefined);
  };
  assertEquals(
    read("dnf", [
      "  Preparing        :                                 1/1 ",
      "  Installing       : osimg-beta-1.0-1.noarch         1/2 ",
      "  Running scriptlet: osimg-beta-1.0-1.noarch         1/2 ",
      "  Installing       : osimg-alpha-1.0-1.noarch        2/2 ",
      "  Verifying        : osimg-alpha-1.0-1.noarch        1/2 ",
    ]),
    [
      { done: 1, total: 2, name: "osimg-beta-1.0-1.noarch" },
      { done: 2, total: 2, name: "osimg-alpha-1.0-1.noarch" },
    ],
  );
  assertEquals(
    read("zypper", ["(1/2) Installing: osimg-beta-1.0-1.noarch [....done]"]),
    [{ done: 1, total: 2, name: "osimg-beta-1.0-1.noarch" }],
  );
  assertEquals(
    read("apt", [
      "0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded.",
      "Unpacking less (590-2) ...",
      "Setting up less (590-2) ...",
      "I: Configuring libc-bin...",
    ]),
    [{ done: 1, total: 2, name: "less" }, { done: 2, total: 2, name: "libc-bin" }],
  );
});

Deno.test("diagnose: a package that does not exist, read from each manager's last lines", () => {
  const diagnose = (name: "dnf" | "zypper" | "apt", lines: string[]) =>
    packageManagerNamed(name).diagnose(lines);
  assertEquals(
    diagnose("dnf", ["No match for argument: nothere", "Error: Unable to find a match: nothere"]),
    "package 'nothere' is not in the repositories of pkgdir and otherpkgdir: fix the package list or add the repository that has it",
  );
  assertEquals(
    diagnose("zypper", ["No provider of 'a' found.", "No provider of 'b' found."]),
    "packages 'a', 'b' are not in the repositories of pkgdir and otherpkgdir: fix the package list or add the repository that has them",
  );
  assertEquals(
    diagnose("apt", ["E: Couldn't find these debs: nothere"]),
    "package 'nothere' is not in the mirrors of pkgdir: fix the package list or add the mirror or component that has it",
  );
  assertEquals(diagnose("dnf", ["Error: something else"]), undefined);
});

Deno.test("installed queries: rpm -q and dpkg-query output read back", () => {
  assertEquals(
    packageManagerNamed("dnf").parseInstalled("bash\npackage nothere is not installed\n"),
    ["bash"],
  );
  assertEquals(
    packageManagerNamed("apt").parseInstalled("ii  bash\nun  nothere\nrc  oldconf\n"),
    ["bash"],
  );
});
