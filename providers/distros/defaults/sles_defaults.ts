// osimg's own default profile files for SLE 15: an AutoYaST template and package lists, and the
// netboot package list, exlist and postinstall script genimage reads.

/** The packages a diskless SLE 15 compute node boots with (zypper names). */
export const SLE15_NETBOOT_PKGLIST =
  `# Diskless compute node, SLE 15: what genimage installs into the root image.
aaa_base
bash
kernel-default
dracut
rpm
util-linux
hostname
iproute2
iputils
dhcp-client
ethtool
nfs-client
openssh
rsync
tar
gzip
xz
cpio
wget
chrony
rsyslog
e2fsprogs
parted
openssl
python3
perl
vim
`;

/** The paths packimage leaves out of a SLE 15 diskless image. */
export const SLE15_NETBOOT_EXLIST = `./boot*
./usr/share/man*
./usr/share/info*
./usr/share/doc*
./usr/share/locale/*
+./usr/share/locale/en*
./var/cache/zypp*
./var/log/zypp*
./tmp*
./var/tmp*
`;

/** genimage's postinstall for a SLE 15 diskless image (`<script> <rootimg> <osver> <arch> <profile>`). */
export const SLE15_NETBOOT_POSTINSTALL = `#!/bin/sh
# Finish a diskless SLE 15 root image: $1 is the image's root directory.
set -e
root="$1"
[ -n "$root" ] && [ -d "$root" ] || { echo "usage: $0 <rootimg> <osver> <arch> <profile>" >&2; exit 1; }
cat > "$root/etc/fstab" <<'FSTAB'
proc            /proc     proc   defaults 0 0
sysfs           /sys      sysfs  defaults 0 0
devpts          /dev/pts  devpts gid=5,mode=620 0 0
tmpfs           /dev/shm  tmpfs  defaults 0 0
FSTAB
# The image boots without a disk: nothing to check, no firewall of its own.
rm -f "$root/etc/systemd/system/multi-user.target.wants/firewalld.service"
ln -sf /usr/lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
exit 0
`;

/** The packages a diskful SLE 15 node installs (AutoYaST <software>). */
export function sle15InstallPkglist(profile: "compute" | "service"): string {
  const lines = [
    `# Diskful ${profile} node, SLE 15: AutoYaST's package list.`,
    "openssh",
    "chrony",
    "nfs-client",
    "rsync",
    "tar",
    "wget",
    "python3",
    "perl",
  ];
  if (profile === "service") lines.push("bind-utils", "dhcp-server", "apache2", "tftp", "rsyslog");
  return lines.join("\n") + "\n";
}

/** osimg's AutoYaST template for SLE 15, in xCAT's template language (filled by nodeset). */
export function sle15Autoyast(profile: "compute" | "service"): string {
  return `<?xml version="1.0"?>
<!DOCTYPE profile>
<!-- AutoYaST profile for a diskful ${profile} node, SLE 15 (osimg default; copy it to
     /install/custom/install/sle/ to change it). -->
<profile xmlns="http://www.suse.com/1.0/yast2ns" xmlns:config="http://www.suse.com/1.0/configns">
  <general>
    <mode><confirm config:type="boolean">false</confirm></mode>
  </general>
  <timezone>
    <hwclock>UTC</hwclock>
    <timezone>#TABLE:site:key=timezone:value#</timezone>
  </timezone>
  <partitioning config:type="list">
    <drive><use>all</use></drive>
  </partitioning>
  <users config:type="list">
    <user>
      <username>root</username>
      <encrypted config:type="boolean">true</encrypted>
      <user_password>#CRYPT:passwd:key=system,username=root:password#</user_password>
    </user>
  </users>
  <firewall><enable_firewall config:type="boolean">false</enable_firewall></firewall>
  <software>
    <patterns config:type="list"><pattern>base</pattern></patterns>
    <packages config:type="list">
#INCLUDE_DEFAULT_PKGLIST_S#
    </packages>
  </software>
</profile>
`;
}
