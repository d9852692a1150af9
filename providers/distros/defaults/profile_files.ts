// The default profile files osimg carries (templates, pkglists, exlists, postinstall scripts), by
// the path xCAT ships them at under /opt/xcat/share/xcat: what copycds' default osimages point at.

import {
  RHEL_NETBOOT_EXLIST,
  RHEL_NETBOOT_POSTINSTALL,
  rhelInstallPkglist,
  rhelKickstart,
  rhelNetbootPkglist,
} from "./rhel_defaults.ts";
import {
  SLE15_NETBOOT_EXLIST,
  SLE15_NETBOOT_PKGLIST,
  SLE15_NETBOOT_POSTINSTALL,
  sle15Autoyast,
  sle15InstallPkglist,
} from "./sles_defaults.ts";
import {
  DEBIAN_NETBOOT_EXLIST,
  DEBIAN_NETBOOT_POSTINSTALL,
  DEBIAN_PRESEED_TEMPLATE,
  debianNetbootPkglist,
  UBUNTU_INSTALL_PKGLIST,
  UBUNTU_SUBIQUITY_TEMPLATE,
} from "./debian_defaults.ts";

/** Where xCAT installs its shipped profile files; osimg writes its own there (under --root). */
export const SHIPPED_PROFILE_ROOT = "/opt/xcat/share/xcat";

/** One shipped file: its text and mode (a postinstall script must be executable). */
export interface ProfileFile {
  content: string;
  mode: number;
}

const files = new Map<string, ProfileFile>();
const add = (path: string, content: string, mode = 0o644) => files.set(path, { content, mode });

/** The RHEL-family platforms, each with the osvers stems and major releases osimg has files for. */
const RHEL_PLATFORMS: readonly { platform: string; stem: string; majors: number[] }[] = [
  { platform: "rh", stem: "rhels", majors: [8, 9] },
  { platform: "rocky", stem: "rocky", majors: [8, 9] },
  { platform: "alma", stem: "alma", majors: [8, 9] },
  { platform: "centos", stem: "centos", majors: [8] },
  { platform: "centos", stem: "centos-stream", majors: [8, 9] },
  { platform: "ol", stem: "ol", majors: [8, 9] },
];
const NETBOOT_ARCHES = ["x86_64", "aarch64", "ppc64le"];

for (const { platform, stem, majors } of RHEL_PLATFORMS) {
  for (const major of majors) {
    const os = `${stem}${major}`;
    for (const profile of ["compute", "service"] as const) {
      add(`install/${platform}/${profile}.${os}.tmpl`, rhelKickstart(major, profile));
      add(`install/${platform}/${profile}.${os}.pkglist`, rhelInstallPkglist(major, profile));
    }
    for (const arch of NETBOOT_ARCHES) {
      add(`netboot/${platform}/compute.${os}.${arch}.pkglist`, rhelNetbootPkglist(major));
      add(`netboot/${platform}/compute.${os}.${arch}.exlist`, RHEL_NETBOOT_EXLIST);
      add(`netboot/${platform}/compute.${os}.${arch}.postinstall`, RHEL_NETBOOT_POSTINSTALL, 0o755);
    }
  }
}

// SLE 15: xCAT's "sle" platform directory (a link to sles in xCAT's package).
for (const profile of ["compute", "service"] as const) {
  add(`install/sle/${profile}.sle15.tmpl`, sle15Autoyast(profile));
  add(`install/sle/${profile}.sle15.pkglist`, sle15InstallPkglist(profile));
}
add("netboot/sle/compute.sle15.pkglist", SLE15_NETBOOT_PKGLIST);
add("netboot/sle/compute.sle15.exlist", SLE15_NETBOOT_EXLIST);
add("netboot/sle/compute.sle15.postinstall", SLE15_NETBOOT_POSTINSTALL, 0o755);

// Ubuntu: one subiquity template for every release since 20.04; a package list per LTS release.
add("install/ubuntu/compute.subiquity.tmpl", UBUNTU_SUBIQUITY_TEMPLATE);
add("install/ubuntu/compute.pkglist", UBUNTU_INSTALL_PKGLIST);
for (const release of ["22.04", "24.04"]) {
  add(
    `netboot/ubuntu/compute.ubuntu${release}.x86_64.pkglist`,
    debianNetbootPkglist("linux-image-generic", `Ubuntu ${release}`),
  );
}
add("netboot/ubuntu/compute.exlist", DEBIAN_NETBOOT_EXLIST);
add("netboot/ubuntu/compute.postinstall", DEBIAN_NETBOOT_POSTINSTALL, 0o755);

// Debian: a preseed template, and the Debian 12 package list with the amd64 kernel.
add("install/debian/compute.tmpl", DEBIAN_PRESEED_TEMPLATE);
add(
  "netboot/debian/compute.debian12.x86_64.pkglist",
  debianNetbootPkglist("linux-image-amd64", "Debian 12"),
);
add("netboot/debian/compute.exlist", DEBIAN_NETBOOT_EXLIST);
add("netboot/debian/compute.postinstall", DEBIAN_NETBOOT_POSTINSTALL, 0o755);

/**
 * Every shipped file by its path below SHIPPED_PROFILE_ROOT
 * ("install/rh/compute.rhels9.tmpl", "netboot/ubuntu/compute.ubuntu24.04.x86_64.pkglist").
 */
export const PROFILE_FILES: ReadonlyMap<string, ProfileFile> = files;
