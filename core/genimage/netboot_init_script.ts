// The /init of osimg's netboot initrd: busybox shell that fetches the packed root and switches to it.

/**
 * `in_newroot PATH`: the path in the initrd of the image's PATH under `$NEWROOT`, its links
 * followed as the image sees them. A distro's links are absolute in the image's own terms
 * (Debian's `/sbin/init -> /lib/systemd/systemd`): tested from the initrd they would point into
 * the initrd. Links of the directories on the way are relative on merged-/usr distros.
 */
export const ROOT_PATH_FUNCTION = `
in_newroot() {
  path="$1"
  hops=0
  while [ -L "$NEWROOT$path" ] && [ "$hops" -lt 40 ]; do
    target="$(readlink "$NEWROOT$path")"
    case "$target" in
      /*) path="$target" ;;
      *) path="\${path%/*}/$target" ;;
    esac
    hops=$((hops + 1))
  done
  echo "$NEWROOT$path"
}
`;

/**
 * The statelite part of the init, as shell functions over `$NEWROOT` (so a test can run them on
 * a directory, with `mount` replaced by a recording shell function). xCAT's statelite initrd: the root is the image's tree
 * exported read-only over NFS (`root=nfs:server:/path[:options]`, `NFSROOT=server:/path`, or
 * `imgurl=nfs://server/path`); a tmpfs on /.statelite/tmpfs takes the files liteimg listed in
 * /.statelite/litefile.save (copied from /.default), `STATEMNT=server:/path` is mounted on
 * /.statelite/persistent (`MNTOPTS=`, default xCAT's `nolock,rsize=32768,tcp,timeo=14`) and
 * `persistent` entries live in its `<node>` directory, kept across boots.
 */
export const STATELITE_FUNCTIONS = `
# parse_nfs_root SPEC: sets NFS_SERVER, NFS_PATH and NFS_OPTIONS, or fails.
parse_nfs_root() {
  NFS_SERVER=
  NFS_PATH=
  NFS_OPTIONS=
  case "$1" in
    nfs://*)
      spec="\${1#nfs://}"
      NFS_SERVER="\${spec%%/*}"
      [ "$spec" = "$NFS_SERVER" ] && return 1
      NFS_PATH="/\${spec#*/}"
      ;;
    nfs:*)
      spec="\${1#nfs:}"
      NFS_SERVER="\${spec%%:*}"
      [ "$spec" = "$NFS_SERVER" ] && return 1
      spec="\${spec#*:}"
      NFS_PATH="\${spec%%:*}"
      [ "$spec" != "$NFS_PATH" ] && NFS_OPTIONS="\${spec#*:}"
      ;;
    *://*) return 1 ;;
    *:/*)
      NFS_SERVER="\${1%%:*}"
      NFS_PATH="\${1#*:}"
      ;;
    *) return 1 ;;
  esac
  [ -n "$NFS_SERVER" ] && [ -n "$NFS_PATH" ]
}

# The persistent area's mount point (liteimg leaves /.statelite/persistent; else in the tmpfs).
persistent_dir() {
  if [ -d "$NEWROOT/.statelite/persistent" ]; then
    echo "$NEWROOT/.statelite/persistent"
  else
    echo "$NEWROOT/.statelite/tmpfs/.persistent"
  fi
}

# statelite_root: the NFS root on $NEWROOT, its tmpfs and persistent files; fails to be retried.
statelite_root() {
  nfs_options="\${NFS_OPTIONS:-ro}"
  case ",$nfs_options," in *,nolock,*) ;; *) nfs_options="$nfs_options,nolock" ;; esac
  mount -t nfs -o "$nfs_options" "$NFS_SERVER:$NFS_PATH" "$NEWROOT" || return 1
  mount -t tmpfs -o "$tmpfs_options" tmpfs "$NEWROOT/.statelite/tmpfs" || return 1
  persist=
  if [ -n "$STATEMNT" ]; then
    persist="$(persistent_dir)"
    mkdir -p "$persist"
    mount -t nfs -o "\${MNTOPTS:-nolock,rsize=32768,tcp,timeo=14}" "$STATEMNT" "$persist" || return 1
    mkdir -p "$persist/$NODE" || return 1
  fi
  [ -f "$NEWROOT/.statelite/litefile.save" ] || return 0
  while read -r options path; do
    [ -n "$path" ] || continue
    file="\${path%/}"
    source="$NEWROOT/.default$file"
    target="$NEWROOT/.statelite/tmpfs$file"
    mkdir -p "\${target%/*}"
    rm -rf "$target"
    kept=
    case ",$options," in
      *,persistent,*)
        if [ -n "$persist" ]; then
          if ! [ -e "$persist/$NODE$file" ]; then
            mkdir -p "$persist/$NODE\${file%/*}"
            if [ -e "$source" ]; then cp -a "$source" "$persist/$NODE$file"
            elif [ "$path" != "$file" ]; then mkdir -p "$persist/$NODE$file"
            else : > "$persist/$NODE$file"; fi
          fi
          kept="$persist/$NODE$file"
        else
          say "statelite: $file is persistent but no STATEMNT= is given; it is kept in memory"
        fi
        ;;
    esac
    if [ -n "$kept" ]; then
      ln -s "\${kept#$NEWROOT}" "$target"
    elif [ -e "$source" ]; then
      cp -a "$source" "$target"
    elif [ "$path" != "$file" ]; then
      mkdir -p "$target"
    else
      : > "$target"
    fi
    case ",$options," in
      *,link,*) ;;
      # Not a link entry: the copy is mounted over the image's own file.
      *) mount --bind "\${kept:-$target}" "$NEWROOT$file" || return 1 ;;
    esac
  done < "$NEWROOT/.statelite/litefile.save"
}
`;

/**
 * Runs as PID 1 from the initramfs with only busybox (and the modules listed in
 * /etc/osimg/modules). It reads xCAT's kernel parameters (reference §7.6): `imgurl=` (the packed
 * root; its basename decides the format, as xCAT's xcatroot does), `BOOTIF=` / `netdev=` /
 * `ifname=` (the boot NIC), `rootlimit=` (tmpfs size), `NODE=` (the hostname), `XCAT=` (kept for
 * the image's own scripts in /proc/cmdline). Every failure prints one line on the console and is
 * retried: a node whose server is down keeps trying instead of panicking, and says why.
 *
 * The root is fetched here, in Linux, never by the boot loader: its size is bounded by the
 * node's memory, not by firmware's or the initramfs unpacker's 4 GiB limits (peers-boot.md).
 */
export const NETBOOT_INIT = `#!/bin/sh
# osimg netboot init (written by osimg genimage; see core/genimage/netboot_init_script.ts)
PATH=/bin
export PATH
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /run /tmp /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

say() { echo "osimg: $*"; }
set -o pipefail

IMGURL=
NFSROOT_SPEC=
STATEMNT=
MNTOPTS=
BOOTIF=
NETDEV=
ROOTLIMIT=
NODE=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    imgurl=*) IMGURL="\${arg#imgurl=}" ;;
    BOOTIF=*) BOOTIF="\${arg#BOOTIF=}" ;;
    netdev=*) NETDEV="\${arg#netdev=}" ;;
    ifname=*) NETDEV="\${arg#ifname=}"; NETDEV="\${NETDEV%%:*}" ;;
    rootlimit=*) ROOTLIMIT="\${arg#rootlimit=}" ;;
    NODE=*) NODE="\${arg#NODE=}" ;;
    root=nfs:*) NFSROOT_SPEC="\${arg#root=}" ;;
    NFSROOT=*) NFSROOT_SPEC="\${arg#NFSROOT=}" ;;
    STATEMNT=*) STATEMNT="\${arg#STATEMNT=}" ;;
    MNTOPTS=*) MNTOPTS="\${arg#MNTOPTS=}" ;;
  esac
done
case "$IMGURL" in nfs://*) NFSROOT_SPEC="$IMGURL" ;; esac
# initrd-statelite.gz says so; a stateless initrd also boots an NFS root it is given.
MODE="$(cat /etc/osimg/mode 2>/dev/null)"
NEWROOT=/newroot
${ROOT_PATH_FUNCTION}${STATELITE_FUNCTIONS}
[ -z "$ROOTLIMIT" ] && [ -f /etc/osimg/rootlimit ] && ROOTLIMIT="$(cat /etc/osimg/rootlimit)"

# Drivers, in dependency order (osimg resolved modules.dep when it built this initrd).
KVER="$(cat /etc/osimg/kernel)"
while read -r module; do
  [ -n "$module" ] && insmod "/lib/modules/$KVER/$module" 2>/dev/null
done < /etc/osimg/modules

# BOOTIF=01-52-54-00-12-34-56 (pxelinux IPAPPEND 2, iPXE, grub2) names the NIC by its MAC.
mac_of_bootif() {
  case "$1" in
    01-*) echo "\${1#01-}" | tr '-' ':' | tr 'A-F' 'a-f' ;;
    *:*) echo "$1" | tr 'A-F' 'a-f' ;;
  esac
}

pick_interface() {
  if [ -n "$NETDEV" ]; then
    case "$NETDEV" in
      *:*) BOOTIF="$NETDEV" ;;
      *) [ -e "/sys/class/net/$NETDEV" ] && { echo "$NETDEV"; return 0; } ;;
    esac
  fi
  want="$(mac_of_bootif "$BOOTIF")"
  for path in /sys/class/net/*; do
    name="\${path##*/}"
    [ "$name" = lo ] && continue
    if [ -n "$want" ]; then
      [ "$(cat "$path/address")" = "$want" ] && { echo "$name"; return 0; }
    else
      echo "$name"
      return 0
    fi
  done
  return 1
}

wait=0
until IFACE="$(pick_interface)"; do
  wait=$((wait + 1))
  if [ "$wait" -ge 30 ]; then
    say "no network interface matches BOOTIF=$BOOTIF netdev=$NETDEV; loaded drivers: $(cut -d' ' -f1 /proc/modules | tr '\\n' ' ')"
    wait=0
  fi
  sleep 1
done
say "booting $NODE from $IMGURL over $IFACE"

ip link set lo up
ip link set "$IFACE" up
until udhcpc -i "$IFACE" -s /etc/osimg/udhcpc.script -n -q -t 5 -T 2 >/dev/null 2>&1; do
  say "no DHCP answer on $IFACE; retrying"
  sleep 3
done

[ -n "$NODE" ] || NODE="$(hostname)"
tmpfs_options="mode=755"
[ -n "$ROOTLIMIT" ] && tmpfs_options="$tmpfs_options,size=$ROOTLIMIT"

if [ "$MODE" = statelite ] || [ -n "$NFSROOT_SPEC" ]; then
  if ! parse_nfs_root "$NFSROOT_SPEC"; then
    while :; do say "statelite: no NFS root on the kernel command line (root=nfs:server:/path, NFSROOT=server:/path or imgurl=nfs://server/path)"; sleep 60; done
  fi
  attempt=1
  until statelite_root; do
    say "statelite: could not mount $NFS_SERVER:$NFS_PATH and its state (attempt $attempt); retrying in 5 s"
    umount -l /newroot 2>/dev/null
    attempt=$((attempt + 1))
    sleep 5
  done
  IMGURL="nfs:$NFS_SERVER:$NFS_PATH"
fi
if [ -z "$IMGURL" ]; then
  while :; do say "no imgurl= on the kernel command line: nothing to boot"; sleep 60; done
fi

# One attempt: a fresh tmpfs, the root streamed into it (squashfs is kept whole, then mounted).
fetch_root() {
  umount /newroot 2>/dev/null
  umount /run/osimg/lower 2>/dev/null
  umount /run/osimg 2>/dev/null
  case "$IMGURL" in
    *.sfs)
      mkdir -p /run/osimg
      mount -t tmpfs -o "$tmpfs_options" tmpfs /run/osimg || return 1
      wget -q -O /run/osimg/rootimg.sfs "$IMGURL" || return 1
      mkdir -p /run/osimg/lower /run/osimg/upper /run/osimg/work
      mount -t squashfs -o loop,ro /run/osimg/rootimg.sfs /run/osimg/lower || return 1
      mount -t overlay overlay \\
        -o lowerdir=/run/osimg/lower,upperdir=/run/osimg/upper,workdir=/run/osimg/work /newroot
      return
      ;;
  esac
  mount -t tmpfs -o "$tmpfs_options" tmpfs /newroot || return 1
  case "$IMGURL" in
    *.cpio.gz) wget -q -O - "$IMGURL" | gzip -dc | (cd /newroot && cpio -idmu 2>/dev/null) ;;
    *.cpio.xz) wget -q -O - "$IMGURL" | xz -dc | (cd /newroot && cpio -idmu 2>/dev/null) ;;
    *.cpio) wget -q -O - "$IMGURL" | (cd /newroot && cpio -idmu 2>/dev/null) ;;
    *.tar.gz|*.tgz) wget -q -O - "$IMGURL" | tar -xzf - -C /newroot ;;
    *.tar.xz) wget -q -O - "$IMGURL" | tar -xJf - -C /newroot ;;
    *.tar.bz2) wget -q -O - "$IMGURL" | tar -xjf - -C /newroot ;;
    *.tar) wget -q -O - "$IMGURL" | tar -xf - -C /newroot ;;
    *.zst)
      if ! command -v zstd >/dev/null; then
        say "$IMGURL is zstd-compressed but this initrd has no zstd (install zstd in the image and rerun genimage)"
        return 1
      fi
      case "$IMGURL" in
        *.cpio.zst) wget -q -O - "$IMGURL" | zstd -dcq | (cd /newroot && cpio -idmu 2>/dev/null) ;;
        *) wget -q -O - "$IMGURL" | zstd -dcq | tar -xf - -C /newroot ;;
      esac
      ;;
    *)
      say "cannot tell the format of $IMGURL (expected rootimg.cpio.gz, .cpio.xz, .cpio.zst, .tar.gz, .tar.xz, .tar.zst or .sfs)"
      return 1
      ;;
  esac
}

attempt=1
[ -n "$NFS_SERVER" ] || until fetch_root; do
  say "could not fetch and unpack $IMGURL (attempt $attempt); retrying in 5 s"
  attempt=$((attempt + 1))
  sleep 5
done

INIT=
for candidate in /sbin/init /lib/systemd/systemd /usr/lib/systemd/systemd; do
  [ -x "$(in_newroot "$candidate")" ] && { INIT="$candidate"; break; }
done
if [ -z "$INIT" ]; then
  while :; do say "the root image from $IMGURL has no /sbin/init"; sleep 60; done
fi
echo "$NODE" > /newroot/etc/hostname 2>/dev/null
[ -f /etc/resolv.conf ] && cp /etc/resolv.conf /newroot/etc/resolv.conf 2>/dev/null
say "starting $INIT"
umount /sys
umount /proc
mount --move /dev /newroot/dev 2>/dev/null
exec switch_root /newroot "$INIT"
`;

/** busybox udhcpc's hook: configures the address, the default route and the resolver. */
export const UDHCPC_SCRIPT = `#!/bin/sh
# osimg netboot: udhcpc calls this with the lease in its environment.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      for gateway in $router; do ip route add default via "$gateway" dev "$interface" && break; done
    fi
    : > /etc/resolv.conf
    for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
    [ -n "$hostname" ] && hostname "$hostname"
    ;;
  deconfig)
    ip addr flush dev "$interface"
    ;;
esac
exit 0
`;
