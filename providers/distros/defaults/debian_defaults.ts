// osimg's own default profile files for Debian and Ubuntu: the subiquity autoinstall and preseed
// templates, and the netboot package lists, exlist and postinstall script genimage reads.

/** The packages a diskless Debian/Ubuntu compute node boots with (apt names). */
export function debianNetbootPkglist(kernelPackage: string, release: string): string {
  return `# Diskless compute node, ${release}: what genimage installs after debootstrap.
${kernelPackage}
bash
dracut
dracut-network
iproute2
isc-dhcp-client
nfs-common
openssh-server
openssh-client
rsync
tar
gzip
xz-utils
cpio
wget
chrony
gawk
busybox-static
bind9-dnsutils
libc-bin
openssl
`;
}

/** The paths packimage leaves out of a Debian/Ubuntu diskless image. */
export const DEBIAN_NETBOOT_EXLIST = `./boot*
./usr/share/man*
./usr/share/info*
./usr/share/doc*
./usr/share/locale/*
+./usr/share/locale/en*
./var/cache/apt/archives/*.deb
./var/lib/apt/lists/*
./tmp*
./var/tmp*
`;

/** genimage's postinstall for a Debian/Ubuntu diskless image. */
export const DEBIAN_NETBOOT_POSTINSTALL = `#!/bin/sh
# Finish a diskless Debian or Ubuntu root image: $1 is the image's root directory.
set -e
root="$1"
[ -n "$root" ] && [ -d "$root" ] || { echo "usage: $0 <rootimg> <osver> <arch> <profile>" >&2; exit 1; }
cat > "$root/etc/fstab" <<'FSTAB'
proc            /proc     proc   defaults 0 0
sysfs           /sys      sysfs  defaults 0 0
devpts          /dev/pts  devpts gid=5,mode=620 0 0
tmpfs           /dev/shm  tmpfs  defaults 0 0
FSTAB
# Services start on the node, not while the image is built; remove the build-time block.
rm -f "$root/usr/sbin/policy-rc.d"
# The root lives in RAM: keep the journal there too.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\\nStorage=volatile\\n' > "$root/etc/systemd/journald.conf.d/osimg.conf"
exit 0
`;

/** The packages a diskful Ubuntu node installs with subiquity. */
export const UBUNTU_INSTALL_PKGLIST = `# Diskful compute node, Ubuntu: autoinstall's packages.
openssh-server
chrony
nfs-common
rsync
wget
python3
`;

/** osimg's subiquity autoinstall template (cloud-init user-data), in xCAT's template language. */
export const UBUNTU_SUBIQUITY_TEMPLATE = `#cloud-config
# Ubuntu autoinstall for a diskful compute node (osimg default; copy it to
# /install/custom/install/ubuntu/ to change it).
autoinstall:
  version: 1
  locale: en_US.UTF-8
  keyboard:
    layout: us
  timezone: "#TABLE:site:key=timezone:value#"
  identity:
    hostname: "#TABLE:nodelist:$NODE:node#"
    username: ubuntu
    password: "#CRYPT:passwd:key=system,username=root:password#"
  ssh:
    install-server: true
  storage:
    layout:
      name: lvm
  packages:
#INCLUDE_DEFAULT_PKGLIST_PRESEED#
  late-commands:
    - echo "installed by osimg" > /target/etc/osimg-install
`;

/** osimg's debian-installer preseed template for a diskful Debian node. */
export const DEBIAN_PRESEED_TEMPLATE =
  `# Debian preseed for a diskful compute node (osimg default; copy it to
# /install/custom/install/debian/ to change it).
d-i debian-installer/locale string en_US.UTF-8
d-i keyboard-configuration/xkb-keymap select us
d-i netcfg/choose_interface select auto
d-i mirror/country string manual
d-i mirror/http/hostname string #TABLE:noderes:$NODE:nfsserver#
d-i mirror/http/directory string /install/#TABLE:nodetype:$NODE:os#/#TABLE:nodetype:$NODE:arch#
d-i mirror/http/proxy string
d-i clock-setup/utc boolean true
d-i time/zone string #TABLE:site:key=timezone:value#
d-i passwd/make-user boolean false
d-i passwd/root-password-crypted password #CRYPT:passwd:key=system,username=root:password#
d-i partman-auto/method string lvm
d-i partman-auto/choose_recipe select atomic
d-i partman/confirm boolean true
d-i partman/confirm_nooverwrite boolean true
d-i partman-lvm/confirm boolean true
d-i partman-lvm/confirm_nooverwrite boolean true
tasksel tasksel/first multiselect standard, ssh-server
d-i pkgsel/include string #INCLUDE_DEFAULT_PKGLIST_PRESEED#
d-i grub-installer/only_debian boolean true
d-i finish-install/reboot_in_progress note
`;
