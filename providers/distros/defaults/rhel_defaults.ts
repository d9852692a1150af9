// osimg's own default profile files for the RHEL family (RHEL, Rocky, Alma, CentOS, Oracle Linux 8/9):
// kickstart templates and install package lists, and the netboot package lists, exlists and
// postinstall scripts genimage reads.

/** The packages a diskless RHEL-family compute node boots with (dnf names; @ is a group). */
export function rhelNetbootPkglist(major: number): string {
  return `# Diskless compute node, EL${major}: what genimage installs into the root image.
# One package or @group a line; #INCLUDE:file# pulls in another list.
@minimal-environment
bash
kernel
dracut
dracut-network
rpm
util-linux
hostname
iproute
iputils
${major >= 9 ? "dhcp-client" : "dhclient"}
ethtool
nfs-utils
openssh-server
openssh-clients
rsync
tar
gzip
bzip2
xz
cpio
wget
chrony
rsyslog
e2fsprogs
parted
openssl
python3
perl-interpreter
vim-minimal
`;
}

/** The paths packimage leaves out of a RHEL-family diskless image (find -path patterns). */
export const RHEL_NETBOOT_EXLIST = `./boot*
./usr/share/man*
./usr/share/info*
./usr/share/doc*
./usr/share/gnome/help*
./usr/share/locale/*
+./usr/share/locale/en*
+./usr/share/locale/C*
./usr/lib/locale/*
+./usr/lib/locale/en_US*
+./usr/lib/locale/C.utf8*
./var/cache/dnf*
./var/cache/yum*
./var/lib/dnf/history*
./tmp*
./var/tmp*
`;

/**
 * genimage's postinstall for a RHEL-family diskless image: called as
 * `<script> <rootimg> <osver> <arch> <profile>` after the packages are in.
 */
export const RHEL_NETBOOT_POSTINSTALL = `#!/bin/sh
# Finish a diskless RHEL-family root image: $1 is the image's root directory.
set -e
root="$1"
[ -n "$root" ] && [ -d "$root" ] || { echo "usage: $0 <rootimg> <osver> <arch> <profile>" >&2; exit 1; }

# The root is a tmpfs or an NFS export: no disks to check or mount at boot.
cat > "$root/etc/fstab" <<'FSTAB'
proc            /proc     proc   defaults 0 0
sysfs           /sys      sysfs  defaults 0 0
devpts          /dev/pts  devpts gid=5,mode=620 0 0
tmpfs           /dev/shm  tmpfs  defaults 0 0
FSTAB

# SELinux labels do not survive packing into a cpio root.
if [ -f "$root/etc/selinux/config" ]; then
  sed -i 's/^SELINUX=.*/SELINUX=disabled/' "$root/etc/selinux/config"
fi

# Nodes are firewalled by the cluster network, not each node.
rm -f "$root/etc/systemd/system/multi-user.target.wants/firewalld.service"

# Boot to a text console; keep journald in memory (the root is in RAM).
ln -sf /usr/lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\\nStorage=volatile\\n' > "$root/etc/systemd/journald.conf.d/osimg.conf"
exit 0
`;

/** The packages a diskful RHEL-family node installs (kickstart %packages). */
export function rhelInstallPkglist(major: number, profile: "compute" | "service"): string {
  const lines = [
    `# Diskful ${profile} node, EL${major}: the kickstart's %packages section.`,
    "@^minimal-environment",
    "chrony",
    "nfs-utils",
    "openssh-server",
    "rsync",
    "tar",
    "wget",
    "python3",
    "perl-interpreter",
  ];
  if (profile === "service") {
    lines.push("bind-utils", "dhcp-server", "httpd", "tftp-server", "nfs-utils", "rsyslog");
  }
  return lines.join("\n") + "\n";
}

/**
 * osimg's kickstart template for a RHEL-family install, in xCAT's template language: `#TABLE:...#`
 * and `#CRYPT:...#` are filled from the tables when nodeset writes /install/autoinst/<node>,
 * `#INCLUDE_DEFAULT_PKGLIST#` with the osimage's pkglist.
 */
export function rhelKickstart(major: number, profile: "compute" | "service"): string {
  return `# Kickstart for a diskful ${profile} node, EL${major} (osimg default; copy it to
# /install/custom/install/<platform>/ to change it).
text
reboot
lang en_US.UTF-8
keyboard us
timezone #TABLE:site:key=timezone:value# --utc
rootpw --iscrypted #CRYPT:passwd:key=system,username=root:password#
selinux --disabled
firewall --disabled
network --bootproto=dhcp --onboot=yes
url --url=http://#TABLE:noderes:$NODE:nfsserver#/install/#TABLE:nodetype:$NODE:os#/#TABLE:nodetype:$NODE:arch#${
    major >= 8 ? "/BaseOS" : ""
  }
${
    major >= 8
      ? "repo --name=AppStream --baseurl=http://#TABLE:noderes:$NODE:nfsserver#/install/#TABLE:nodetype:$NODE:os#/#TABLE:nodetype:$NODE:arch#/AppStream\n"
      : ""
  }zerombr
clearpart --all --initlabel
autopart --type=lvm --nohome
bootloader --timeout=5

%packages
#INCLUDE_DEFAULT_PKGLIST#
%end

%post --log=/root/osimg-post.log
# Tell the management node the install is done (xCAT's node status protocol is not osimg's yet).
echo "installed by osimg: #TABLE:nodetype:$NODE:os# ${profile}" > /etc/osimg-install
%end
`;
}
