import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { architectureOf } from "./distros/architectures.ts";
import { distroOf, imageTargetOf } from "./distros/distros.ts";
import {
  findProvmethod,
  matchProvmethod,
  PROVMETHODS,
  provmethodsMatching,
} from "./provmethods/provmethods.ts";

Deno.test("osvers maps to xCAT's platform directory, first match wins", () => {
  const platform = (osvers: string) => distroOf(osvers)?.platform;
  assertEquals(platform("rhels9.2"), "rh");
  assertEquals(platform("rocky9.3"), "rocky");
  assertEquals(platform("alma8.9"), "alma");
  assertEquals(platform("sles15.5"), "sles");
  assertEquals(platform("ubuntu22.04.3"), "ubuntu");
  assertEquals(platform("debian12"), "debian");
  assertEquals(distroOf("rocky9.3")?.family, "rhel");
  assertEquals(platform("plan9"), undefined);
});

Deno.test("provmethods say what their images hold", () => {
  assertEquals(PROVMETHODS.map((method) => method.name), [
    "install",
    "netboot",
    "statelite",
    "raw",
    "sysclone",
  ]);
  assertEquals(findProvmethod("netboot")?.packable, true);
  assertEquals(findProvmethod("statelite")?.packable, false);
  assertEquals(findProvmethod(" statelite ")?.statelite, true);
  assertEquals(findProvmethod("install")?.profileDir, "install");
  assertEquals(findProvmethod("rhels9-x86_64-netboot-compute"), undefined);
});

Deno.test("provmethod values match unanchored, first in xCAT's order (install, netboot, statelite, raw, sysclone)", () => {
  const matched = (value: string) => matchProvmethod(value)?.name;
  assertEquals(matched("netboot"), "netboot");
  assertEquals(matched("raw"), "raw");
  // Unanchored, as imgport's `$provmethod =~ /netboot/`.
  assertEquals(matched("netboot-test"), "netboot");
  // First match wins: install before netboot, netboot before statelite, raw before sysclone.
  assertEquals(matched("install-netboot"), "install");
  assertEquals(matched("netboot-statelite"), "netboot");
  assertEquals(matched("raw-sysclone"), "raw");
  assertEquals(matched("boottarget"), undefined);
  // The checks xCAT makes apart from its chain see every match.
  assertEquals(provmethodsMatching("raw-sysclone").map((method) => method.name), [
    "raw",
    "sysclone",
  ]);
  // An exact lookup stays exact.
  assertEquals(findProvmethod("netboot-test"), undefined);
  assertEquals(findProvmethod("raw")?.disklessRoot, false);
});

Deno.test("provmethods say what their bundles carry: template and media, boot files, raw disk images", () => {
  const install = matchProvmethod("install")!;
  assertEquals([install.usesTemplate, install.needsMedia, install.bootFiles], [
    true,
    true,
    undefined,
  ]);
  assertEquals(matchProvmethod("netboot")?.bootFiles, {
    ramdisk: "initrd-stateless.gz",
    root: "packed",
    required: ["ramdisk", "kernel", "rootimg"],
  });
  assertEquals(matchProvmethod("statelite")?.bootFiles, {
    ramdisk: "initrd-statelite.gz",
    root: "tree",
    required: ["kernel", "ramdisk", "rootimgtree"],
  });
  // Where the raw disk images of each live, and what imgimport reports when they are missing.
  assertEquals(
    PROVMETHODS.map((method) => [method.name, method.rawImages]),
    [
      ["install", undefined],
      ["netboot", { dir: "netboot", required: "section" }],
      ["statelite", undefined],
      ["raw", { dir: "raw", required: "none" }],
      ["sysclone", { dir: "sysclone", required: "files" }],
    ],
  );
  assertEquals(
    PROVMETHODS.filter((method) => method.supportedOsarch?.test("x86_64") === false)
      .map((method) => method.name),
    ["sysclone"],
  );
  assertEquals(matchProvmethod("sysclone")?.supportedOsarch?.test("s390x"), true);
});

Deno.test("architectures and distros that change what a bundle carries: s390x disk images, esx", () => {
  assertEquals(architectureOf("s390x")?.rawDiskImages, true);
  assertEquals(architectureOf("x86_64"), undefined);
  assertEquals(architectureOf("ppc64le"), undefined);
  assertEquals(distroOf("esxi6.7")?.noBootFiles, true);
  // esx has no platform directory in imgport (custom files go to <installdir>/custom/<prov>/).
  assertEquals(distroOf("esxi6.7")?.platform, "");
  assertEquals(distroOf("rhels9.2")?.noBootFiles, undefined);
});

Deno.test("genimage targets: each release family's package manager, $releasever, module platform and rpm database", () => {
  const summary = (osvers: string) => {
    const target = imageTargetOf(osvers);
    if (!target) return undefined;
    const { release, build } = target;
    return [
      build.packageManager(release),
      release.releasever,
      release.modulePlatformId ?? release.codename ?? "",
      release.rpmDatabase ?? "",
    ].join(" ");
  };
  assertEquals(summary("rhels7.9"), "yum 7  /var/lib/rpm");
  assertEquals(summary("rhels8.8"), "dnf 8 platform:el8 /var/lib/rpm");
  assertEquals(summary("rhels9.2"), "dnf 9 platform:el9 /var/lib/rpm");
  assertEquals(summary("rhels10.0"), "dnf 10 platform:el10 /usr/lib/sysimage/rpm");
  assertEquals(summary("rocky9.3"), "dnf 9 platform:el9 /var/lib/rpm");
  assertEquals(summary("alma8.9"), "dnf 8 platform:el8 /var/lib/rpm");
  assertEquals(summary("ol9.3"), "dnf 9 platform:el9 /var/lib/rpm");
  assertEquals(summary("centos-stream9"), "dnf 9 platform:el9 /var/lib/rpm");
  assertEquals(summary("centos7.9"), "yum 7  /var/lib/rpm");
  assertEquals(summary("fedora39"), "dnf 39 platform:f39 /usr/lib/sysimage/rpm");
  assertEquals(summary("sles15.5"), "zypper 15.5  /usr/lib/sysimage/rpm");
  assertEquals(summary("sles15sp4"), "zypper 15.4  /usr/lib/sysimage/rpm");
  assertEquals(summary("leap15.5"), "zypper 15.5  /usr/lib/sysimage/rpm");
  assertEquals(summary("ubuntu22.04.3"), "apt 22.04 jammy ");
  assertEquals(summary("ubuntu24.04"), "apt 24.04 noble ");
  assertEquals(summary("debian12"), "apt 12 bookworm ");
  // No such release, or a distro genimage does not build: no target, the caller says so.
  assertEquals(summary("ubuntu21.10"), undefined);
  assertEquals(summary("win2019"), undefined);
  assertEquals(summary("esxi8"), undefined);
});

Deno.test("genimage targets: default net drivers by family and arch (imgutils.pm default_net_drivers, plus the virtio transport)", () => {
  const drivers = (osvers: string, arch: string) =>
    imageTargetOf(osvers)?.build.netdrivers[arch]?.join(",");
  assertEquals(
    drivers("rocky9.3", "x86_64"),
    "tg3,bnx2,bnx2x,e1000,e1000e,igb,mlx_en,mlx5_core,virtio_pci,virtio_net,be2net",
  );
  assertEquals(
    drivers("sles15.5", "x86_64"),
    "tg3,bnx2,bnx2x,e1000,e1000e,virtio_pci,virtio_net,virtio_balloon,igb,mlx4_en,mlx5_core,be2net",
  );
  assertEquals(
    drivers("debian12", "x86_64"),
    "tg3,bnx2,bnx2x,e1000,e1000e,igb,mlx_en,mlx5_core,virtio_pci,virtio_net,overlay",
  );
  assertEquals(
    drivers("rhels9.2", "aarch64"),
    "tg3,bnx2,bnx2x,e1000e,igb,mlx_en,mlx5_core,virtio_pci,virtio_net",
  );
  assertEquals(drivers("ubuntu22.04", "sparc"), undefined);
});
