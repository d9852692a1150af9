// The /init of osimg's sysclone deploy initrd: partitions a node's disk from the golden client's
// layout, pulls the image over HTTP, installs the boot loader from the image itself, reboots.

import { initrdNetworkFunctions } from "../genimage/initrd_network_script.ts";
import { syscloneUpdateFunctions } from "./deploy_update_script.ts";

/**
 * Runs as PID 1 with the image's busybox and the disk tools osimg copied from the image (sfdisk,
 * wipefs, blkid, mke2fs, mkfs.fat, mkswap, mkfs.xfs when used, lvm when the layout has LVM, GNU
 * tar). Kernel parameters:
 * `imgurl=` (the image as a tar stream, `.tar`, `.tar.gz` or `.tar.zst`), `NODE=`, `BOOTIF=` /
 * `netdev=` (the boot NIC), `osimg.done=reboot|poweroff` (what to do at the end, reboot by
 * default; a failure halts with its message repeated, or powers off with `poweroff`).
 *
 * The order keeps a failed clone from ever looking bootable:
 * 1. everything that can be checked without touching a disk is checked first (the network, the
 *    disk size, that the layout can boot this firmware, that imgurl answers);
 * 2. the old signatures, partition tables (both GPT copies) and MBR boot code are wiped;
 * 3. the new table, file systems (new UUIDs), the copy, fstab, machine-id, host keys and
 *    postscripts;
 * 4. the boot loader last (grub-install and update-grub run in the copied root), then sync.
 * A failure in 2-4 unmounts and wipes the disk again, so a half-written disk has no partition
 * table and no boot loader: firmware skips it instead of booting half a system.
 *
 * Before step 2, a disk that already holds a clone of this image with this layout is updated
 * instead (only the changed files are fetched; core/sysclone/deploy_update_script.ts), unless
 * the command line says `osimg.update=no`.
 */
export const SYSCLONE_DEPLOY_INIT = `#!/bin/sh
# osimg sysclone deploy init (written by osimg nodeset; see core/sysclone/deploy_init_script.ts)
# The image's own disk tools (osimg copied them with their libraries) are called by their
# path, /osimg/bin/<name>: a static busybox runs its own applets (blkid, tar, mkswap...) in
# preference to anything on PATH.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /run /tmp /target /usr/bin /usr/sbin /sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk 2>/dev/null

# To the console itself: a message said while stdout goes to a file (fstab) still shows.
say() { echo "osimg sysclone: $*" > /dev/console; }
# A command in the copied root, with the PATH its programs expect.
in_target() { chroot /target /usr/bin/env PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
. /etc/osimg/sysclone/layout.conf

IMGURL=
BOOTIF=
NETDEV=
NODE=
DONE=reboot
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    imgurl=*) IMGURL="\${arg#imgurl=}" ;;
    BOOTIF=*) BOOTIF="\${arg#BOOTIF=}" ;;
    netdev=*) NETDEV="\${arg#netdev=}" ;;
    ifname=*) NETDEV="\${arg#ifname=}"; NETDEV="\${NETDEV%%:*}" ;;
    NODE=*) NODE="\${arg#NODE=}" ;;
    osimg.done=*) DONE="\${arg#osimg.done=}" ;;
  esac
done

DISK=
WIPE_ON_FAILURE=no

# Unmounts the target, wipes what was written (when the disk was touched), then stops.
fail() {
  say "ERROR: $*"
  if [ "$WIPE_ON_FAILURE" = yes ]; then
    sync
    for mnt in $(grep " /target" /proc/mounts | cut -d' ' -f2 | sort -r); do umount -l "$mnt"; done
    swapoff -a 2>/dev/null
    wipe_disk
    say "the disk $DISK was wiped: it holds no partition table and no boot loader"
  fi
  say "nothing was installed on $NODE; fix the problem and network-boot it again"
  sync
  if [ "$DONE" = poweroff ]; then poweroff -f; fi
  while :; do sleep 60; say "ERROR: $*"; done
}

# Old signatures first (each partition's, then the disk's), then the first and last MiB:
# the MBR boot code, the primary GPT and its backup at the end of the disk.
wipe_disk() {
  lvm_stop
  for part in /sys/block/$DISK_NAME/$DISK_NAME*; do
    [ -e "$part" ] && /osimg/bin/wipefs -a -q "/dev/\${part##*/}" 2>/dev/null
  done
  /osimg/bin/wipefs -a -q "$DISK" 2>/dev/null
  sectors="$(cat /sys/block/$DISK_NAME/size)"
  dd if=/dev/zero of="$DISK" bs=512 count=2048 conv=notrunc 2>/dev/null
  dd if=/dev/zero of="$DISK" bs=512 seek=$((sectors - 2048)) count=2048 conv=notrunc 2>/dev/null
  sync
  blockdev --rereadpt "$DISK" 2>/dev/null
}

${lvmFunctions()}
${syscloneUpdateFunctions()}
# The drivers, the boot NIC and DHCP, as the netboot init does them; a wait that runs out stops.
network_wait_failed() { fail "$*"; }
${initrdNetworkFunctions()}
load_modules

say "cloning $IMAGE onto $NODE"
[ -n "$IMGURL" ] || fail "no imgurl= on the kernel command line"

# The target disk: the first whole disk (in kernel name order) of at least MIN_BYTES. Disk
# drivers probe in the background, so wait a little for the first disk to show.
disks_found() {
  for path in /sys/block/*; do
    name="\${path##*/}"
    case "$name" in loop*|ram*|sr*|fd*|zram*|md*|dm-*|nbd*) continue ;; esac
    [ "$(cat "$path/ro" 2>/dev/null)" = 1 ] && continue
    echo "$name $(( $(cat "$path/size") * 512 ))"
  done
}
wait=0
while [ -z "$(disks_found)" ] && [ "$wait" -lt 20 ]; do sleep 1; wait=$((wait + 1)); done
DISK_NAME=
summary=
while read -r name bytes; do
  [ -n "$name" ] || continue
  summary="$summary $name ($((bytes / 1048576)) MiB)"
  if [ -z "$DISK_NAME" ] && [ "$bytes" -ge "$MIN_BYTES" ]; then DISK_NAME="$name"; fi
done <<EOF
$(disks_found)
EOF
if [ -z "$DISK_NAME" ]; then
  fail "no disk is big enough for $IMAGE: it needs $((MIN_BYTES / 1048576)) MiB; disks found:\${summary:- none}"
fi
DISK="/dev/$DISK_NAME"
case "$DISK_NAME" in *[0-9]) PART_PREFIX="\${DISK}p" ;; *) PART_PREFIX="$DISK" ;; esac

if [ -d /sys/firmware/efi ]; then
  FIRMWARE=uefi
  [ "$ESP_MOUNT" != - ] || fail "this node boots UEFI but the layout of $IMAGE has no EFI system partition with a mount point"
  [ "$GRUB_EFI" = yes ] || fail "this node boots UEFI but $IMAGE has no x86_64-efi GRUB (install grub-efi-amd64-bin in it)"
else
  FIRMWARE=bios
  [ "$BIOS_BOOT" = yes ] || fail "this node boots BIOS but the GPT layout of $IMAGE has no BIOS boot partition (bios_grub)"
  [ "$GRUB_BIOS" = yes ] || fail "this node boots BIOS but $IMAGE has no i386-pc GRUB (install grub-pc-bin in it)"
fi
say "target disk $DISK ($FIRMWARE firmware)"

network_up
sysclone_update

# The image must answer before the disk is touched.
if ! wget -q --spider "$IMGURL"; then
  fail "cannot download $IMGURL (does the server answer, and did nodeset pack the image?)"
fi

WIPE_ON_FAILURE=yes
say "wiping $DISK"
wipe_disk
say "partitioning $DISK ($TABLE, $PARTITIONS partitions, the last one grows)"
/osimg/bin/sfdisk -q --wipe always --wipe-partitions always "$DISK" < /etc/osimg/sysclone/partitions.sfdisk >/tmp/sfdisk.log 2>&1 ||
  fail "sfdisk could not partition $DISK: $(tail -n 3 /tmp/sfdisk.log | tr '\\n' ' ')"
wait=0
while [ ! -b "\${PART_PREFIX}$PARTITIONS" ]; do
  wait=$((wait + 1))
  [ "$wait" -ge 20 ] && fail "the partitions of $DISK did not appear"
  sleep 1
done
lvm_create

while read -r number type label mountpoint options dump pass; do
  dev="$(fs_device "$number")"
  set --
  case "$type" in
    ext2|ext3|ext4)
      [ "$label" != - ] && set -- -L "$label"
      /osimg/bin/mke2fs -q -F -t "$type" "$@" "$dev" ;;
    xfs)
      [ "$label" != - ] && set -- -L "$label"
      /osimg/bin/mkfs.xfs -q -f "$@" "$dev" ;;
    vfat)
      [ "$label" != - ] && set -- -n "$label"
      /osimg/bin/mkfs.fat "$@" "$dev" >/dev/null ;;
    swap)
      [ "$label" != - ] && set -- -L "$label"
      /osimg/bin/mkswap "$@" "$dev" >/dev/null ;;
  esac || fail "cannot make the $type file system on $dev"
done < /etc/osimg/sysclone/filesystems

while read -r number type label mountpoint options dump pass; do
  [ "$mountpoint" = - ] && continue
  mkdir -p "/target$mountpoint"
  dev="$(fs_device "$number")"
  mount -t "$type" "$dev" "/target$mountpoint" || fail "cannot mount $dev at $mountpoint"
done < /etc/osimg/sysclone/filesystems

say "copying $IMGURL"
case "$IMGURL" in
  *.tar.gz|*.tgz) UNPACK="gzip -dc" ;;
  *.tar.zst) UNPACK="zstd -dcq" ;;
  *) UNPACK=cat ;;
esac
set -o pipefail
wget -q -O - "$IMGURL" | $UNPACK | /osimg/bin/tar -x -p --numeric-owner --xattrs --xattrs-include='*' -f - -C /target ||
  fail "the download or unpacking of $IMGURL failed"
set +o pipefail

say "writing /etc/fstab"
{
  echo "# written by osimg sysclone for $NODE: the file systems of $IMAGE, with this node's UUIDs"
  while read -r number type label mountpoint options dump pass; do
    dev="$(fs_device "$number")"
    uuid="$(/osimg/bin/blkid -p -s UUID -o value "$dev")"
    [ -n "$uuid" ] || fail "$dev has no UUID"
    if [ "$type" = swap ]; then
      echo "UUID=$uuid none swap $options $dump $pass"
    elif [ "$mountpoint" != - ]; then
      echo "UUID=$uuid $mountpoint $type $options $dump $pass"
    fi
  done < /etc/osimg/sysclone/filesystems
} > /target/etc/fstab.osimg || fail "cannot write /etc/fstab"
mv /target/etc/fstab.osimg /target/etc/fstab
write_clone_stamp

# What identifies the golden client must not be cloned: systemd gives the node its own
# machine-id on first boot (an empty file), sshd gets new host keys.
: > /target/etc/machine-id
[ -f /target/var/lib/dbus/machine-id ] && [ ! -L /target/var/lib/dbus/machine-id ] && rm -f /target/var/lib/dbus/machine-id
rm -f /target/etc/ssh/ssh_host_*_key /target/etc/ssh/ssh_host_*_key.pub
echo "$NODE" > /target/etc/hostname

for fs in proc sys dev run; do
  mkdir -p "/target/$fs"
done
mount -t proc proc /target/proc
mount -t sysfs sysfs /target/sys
mount -o bind /dev /target/dev
mount -t tmpfs tmpfs /target/run
[ "$FIRMWARE" = uefi ] && mount -t efivarfs efivarfs /target/sys/firmware/efi/efivars 2>/dev/null

if [ -x /target/usr/bin/ssh-keygen ]; then
  in_target ssh-keygen -A >/dev/null || fail "ssh-keygen -A failed in the new root"
fi

# The postscripts osimage.postscripts names, fetched from the server's /install/postscripts.
SERVER="\${IMGURL%%/install/*}"
while read -r script; do
  [ -n "$script" ] || continue
  say "running postscript $script"
  mkdir -p /target/tmp/osimg-postscripts
  if ! wget -q -O "/target/tmp/osimg-postscripts/$script" "$SERVER/install/postscripts/$script"; then
    say "postscript $script could not be downloaded from $SERVER/install/postscripts/$script"
    continue
  fi
  chmod 755 "/target/tmp/osimg-postscripts/$script"
  in_target NODE="$NODE" OSIMAGE="$IMAGE" "/tmp/osimg-postscripts/$script" ||
    say "postscript $script failed with status $?"
done < /etc/osimg/sysclone/postscripts
rm -rf /target/tmp/osimg-postscripts

say "installing the boot loader ($FIRMWARE)"
if [ "$FIRMWARE" = uefi ]; then
  # --removable writes \\EFI\\BOOT\\BOOTX64.EFI, which firmware finds without an NVRAM entry.
  in_target grub-install --target=x86_64-efi --efi-directory="$ESP_MOUNT" --removable --no-nvram >/tmp/grub.log 2>&1 ||
    fail "grub-install (x86_64-efi) failed: $(tail -n 3 /tmp/grub.log | tr '\\n' ' ')"
else
  in_target grub-install --target=i386-pc "$DISK" >/tmp/grub.log 2>&1 ||
    fail "grub-install (i386-pc) failed: $(tail -n 3 /tmp/grub.log | tr '\\n' ' ')"
fi
in_target grub-mkconfig -o /boot/grub/grub.cfg >/tmp/grub.log 2>&1 ||
  fail "grub-mkconfig failed: $(tail -n 3 /tmp/grub.log | tr '\\n' ' ')"

sync
for mnt in $(grep " /target" /proc/mounts | cut -d' ' -f2 | sort -r); do umount "$mnt" || umount -l "$mnt"; done
sync
say "$NODE is installed from $IMAGE on $DISK; $DONE"
if [ "$DONE" = poweroff ]; then poweroff -f; else reboot -f; fi
`;

/**
 * The init's LVM steps, run only when layout.conf says LVM=yes: the volume groups and logical
 * volumes of /etc/osimg/sysclone/lvm (see the deploy plan) made with the image's own `lvm`
 * after the partitions, and every group stopped before the disk is wiped. There is no udev in
 * the initrd, so lvm.conf tells LVM to make the /dev/mapper nodes and /dev/<vg>/<lv> links
 * itself. `fs_device` names a file system's device: a partition number or `<vg>/<lv>`.
 */
export function lvmFunctions(): string {
  return `# LVM (core/sysclone/deploy_init_script.ts lvmFunctions)
fs_device() {
  case "$1" in
    */*) echo "/dev/$1" ;;
    *) echo "\${PART_PREFIX}$1" ;;
  esac
}
lvm_config() {
  mkdir -p /etc/lvm /run/lock/lvm /run/lvm
  cat > /etc/lvm/lvm.conf <<'LVMCONF'
devices { obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup = 0 archive = 0 }
LVMCONF
}
# Deactivates every volume group (a failed deploy's, before its partitions are wiped).
lvm_stop() {
  [ "$LVM" = yes ] || return 0
  lvm_config
  /osimg/bin/lvm vgchange -a n >/dev/null 2>&1
  return 0
}
lvm_create() {
  [ "$LVM" = yes ] || return 0
  lvm_config
  while read -r kind group name size rest; do
    case "$kind" in
      vg)
        # "vg <group> <extent bytes> <partition>...": the partitions are in name and size.
        set --
        for number in $size $rest; do
          dev="\${PART_PREFIX}$number"
          /osimg/bin/lvm pvcreate -ff -y "$dev" >/tmp/lvm.log 2>&1 ||
            fail "cannot make the LVM physical volume $dev: $(tail -n 2 /tmp/lvm.log | tr '\\n' ' ')"
          set -- "$@" "$dev"
        done
        say "making the volume group $group on $*"
        /osimg/bin/lvm vgcreate -y -s "$((name / 1024))k" "$group" "$@" >/tmp/lvm.log 2>&1 ||
          fail "cannot make the volume group $group: $(tail -n 2 /tmp/lvm.log | tr '\\n' ' ')"
        ;;
      lv)
        if [ "$size" = grow ]; then set -- -l 100%FREE; else set -- -l "$size"; fi
        /osimg/bin/lvm lvcreate -y -W y -Z y "$@" -n "$name" "$group" >/tmp/lvm.log 2>&1 ||
          fail "cannot make the logical volume $group/$name: $(tail -n 2 /tmp/lvm.log | tr '\\n' ' ')"
        [ -b "/dev/$group/$name" ] || fail "the logical volume $group/$name has no device /dev/$group/$name"
        ;;
    esac
  done < /etc/osimg/sysclone/lvm
}
`;
}
