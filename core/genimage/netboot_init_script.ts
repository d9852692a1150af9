// The /init of osimg's netboot initrd: busybox shell that fetches the packed root and switches to it.

import { initrdNetworkFunctions } from "./initrd_network_script.ts";

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
 * Fetching the root from one of several image servers, as shell functions (a test runs them in
 * busybox sh with `fetch_root` and `sleep` replaced). The servers, in the order they are tried:
 * - `imgurl=URL[,URL...]`: each URL of the packed root (a comma separates them; a URL with a
 *   comma of its own must be written %2C);
 * - `imgservers=HOST[:PORT][,HOST[:PORT]...]`: more servers of the same file, each put in place
 *   of the first URL's host (its scheme and path kept, and its port unless one is given). nodeset writes it for a node of an xCAT service
 *   node pool (noderes.servicenode naming several service nodes, any of which serves /install):
 *   kept apart from imgurl= so that an initrd of xCAT's own, which takes one URL, still boots
 *   from the first server.
 * Each URL is tried once per round, in order, the same URL only once. Anything short of a whole
 * root moves to the next server: a refused or lost connection, an HTTP error, a download cut
 * short, an archive that does not unpack, and a server that sends nothing for `$FETCH_TIMEOUT`
 * (30) seconds. Busybox wget has no usable read timeout (Debian's build crashes on `-T`), so a
 * guard watches how much wget has read (/proc/<pid>/io) and stops it when that stands still.
 * After a round where every server failed, the node waits 5 s, doubling each round up to 60 s,
 * plus a random 0-50% (from the kernel's /dev/urandom, so nodes booted together do not come
 * back together), and starts again; it never gives up. Every attempt prints a console line
 * naming its server, and what a failed attempt unpacked is cleared before the next.
 */
export const IMAGE_FETCH_FUNCTIONS = `
FETCH_TIMEOUT="\${FETCH_TIMEOUT:-30}"

# image_urls IMGURL IMGSERVERS: every URL to try, one a line, in order, each once.
image_urls() {
  first="\${1%%,*}"
  {
    echo "$1" | tr ',' '\\n'
    rest="\${first#*://}"
    if [ -n "$2" ] && [ "$rest" != "$first" ]; then
      scheme="\${first%%://*}"
      hostport="\${rest%%/*}"
      path="\${rest#"$hostport"}"
      port=
      case "$hostport" in *]) ;; *:*) port=":\${hostport##*:}" ;; esac
      for server in $(echo "$2" | tr ',' ' '); do
        # A server with its own port keeps it; else it gets the first URL's.
        case "$server" in
          *]:*) ;;
          *]) server="$server$port" ;;
          *:*) ;;
          *) server="$server$port" ;;
        esac
        echo "$scheme://$server$path"
      done
    fi
  } | awk 'NF && !seen[$0]++'
}

# backoff_seconds ROUND: the wait after the ROUNDth round in which no server gave the root.
backoff_seconds() {
  delay=5
  round_at=1
  while [ "$round_at" -lt "$1" ] && [ "$delay" -lt 60 ]; do
    delay=$((delay * 2))
    round_at=$((round_at + 1))
  done
  [ "$delay" -gt 60 ] && delay=60
  random="$(od -An -N2 -tu2 /dev/urandom 2>/dev/null | tr -d ' \\n')"
  case "$random" in ''|*[!0-9]*) random="\${RANDOM:-0}" ;; esac
  echo $((delay + random % (delay / 2 + 1)))
}

# stall_guard PID URL: stops the download PID once it has read nothing for FETCH_TIMEOUT s.
stall_guard() {
  last=
  idle=0
  while sleep 1; do
    # wget has ended (or the kernel keeps no I/O counts: then there is no guard).
    now="$(grep '^rchar' "/proc/$1/io" 2>/dev/null)" || return 0
    if [ "$now" != "$last" ]; then
      last="$now"
      idle=0
      continue
    fi
    idle=$((idle + 1))
    if [ "$idle" -ge "$FETCH_TIMEOUT" ]; then
      say "$2 sent nothing for $FETCH_TIMEOUT s; giving up on it" >&2
      kill "$1" 2>/dev/null
      return 0
    fi
  done
}

# download URL: the file on stdout; fails on any error, a short body or a stall.
download() {
  wget -q -O - "$1" &
  wget_pid=$!
  stall_guard "$wget_pid" "$1" >/dev/null &
  guard_pid=$!
  wait "$wget_pid"
  status=$?
  kill "$guard_pid" 2>/dev/null
  wait "$guard_pid" 2>/dev/null
  return "$status"
}

# clear_root: nothing of an earlier attempt stays (its tmpfs and overlay, a half-unpacked tree).
clear_root() {
  for mnt in "$NEWROOT" /run/osimg/lower /run/osimg; do
    while grep -q " $mnt " /proc/mounts; do
      umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || break
    done
  done
  rm -rf "$NEWROOT"
  mkdir -p "$NEWROOT"
}

# fetch_with_failover URLS (one a line): fetch_root from each in turn until one gives the root,
# which it leaves in IMGURL; after a round with none, backoff_seconds and again.
fetch_with_failover() {
  count="$(echo "$1" | wc -l)"
  attempt=1
  round=1
  while :; do
    index=0
    while [ "$index" -lt "$count" ]; do
      index=$((index + 1))
      url="$(echo "$1" | sed -n "\${index}p")"
      say "fetching the root from $url (attempt $attempt, image server $index of $count)"
      if fetch_root "$url"; then
        IMGURL="$url"
        return 0
      fi
      clear_root
      if [ "$index" -lt "$count" ]; then
        say "could not fetch and unpack $url (attempt $attempt); trying the next image server"
      else
        delay="$(backoff_seconds "$round")"
        say "could not fetch and unpack $url (attempt $attempt); retrying in $delay s"
      fi
      attempt=$((attempt + 1))
    done
    sleep "$delay"
    round=$((round + 1))
  done
}
`;

/**
 * Runs as PID 1 from the initramfs with only busybox (and the modules listed in
 * /etc/osimg/modules). It reads xCAT's kernel parameters (reference §7.6): `imgurl=` (the packed
 * root; its basename decides the format, as xCAT's xcatroot does; several URLs and
 * `imgservers=` give it image servers to fail over to, see IMAGE_FETCH_FUNCTIONS), `BOOTIF=` / `netdev=` /
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
IMGSERVERS=
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
    imgservers=*) IMGSERVERS="\${arg#imgservers=}" ;;
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
${ROOT_PATH_FUNCTION}${STATELITE_FUNCTIONS}${IMAGE_FETCH_FUNCTIONS}
[ -z "$ROOTLIMIT" ] && [ -f /etc/osimg/rootlimit ] && ROOTLIMIT="$(cat /etc/osimg/rootlimit)"

# A network that is late is waited for, saying so every 30 s (or 10 DHCP tries).
network_wait_failed() { say "$*; still trying"; }
${initrdNetworkFunctions()}
load_modules
network_up
say "booting $NODE over $IFACE"

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

# fetch_root URL, one attempt: a fresh tmpfs, the root streamed into it (squashfs is kept
# whole, then mounted with an overlay).
fetch_root() {
  clear_root
  case "$1" in
    *.sfs)
      mkdir -p /run/osimg
      mount -t tmpfs -o "$tmpfs_options" tmpfs /run/osimg || return 1
      download "$1" > /run/osimg/rootimg.sfs || return 1
      mkdir -p /run/osimg/lower /run/osimg/upper /run/osimg/work
      mount -t squashfs -o loop,ro /run/osimg/rootimg.sfs /run/osimg/lower || return 1
      mount -t overlay overlay \\
        -o lowerdir=/run/osimg/lower,upperdir=/run/osimg/upper,workdir=/run/osimg/work /newroot
      return
      ;;
  esac
  mount -t tmpfs -o "$tmpfs_options" tmpfs /newroot || return 1
  case "$1" in
    *.cpio.gz) download "$1" | gzip -dc | (cd /newroot && cpio -idmu 2>/dev/null) ;;
    *.cpio.xz) download "$1" | xz -dc | (cd /newroot && cpio -idmu 2>/dev/null) ;;
    *.cpio) download "$1" | (cd /newroot && cpio -idmu 2>/dev/null) ;;
    *.tar.gz|*.tgz) download "$1" | tar -xzf - -C /newroot ;;
    *.tar.xz) download "$1" | tar -xJf - -C /newroot ;;
    *.tar.bz2) download "$1" | tar -xjf - -C /newroot ;;
    *.tar) download "$1" | tar -xf - -C /newroot ;;
    *.zst)
      if ! command -v zstd >/dev/null; then
        say "$1 is zstd-compressed but this initrd has no zstd (install zstd in the image and rerun genimage)"
        return 1
      fi
      case "$1" in
        *.cpio.zst) download "$1" | zstd -dcq | (cd /newroot && cpio -idmu 2>/dev/null) ;;
        *) download "$1" | zstd -dcq | tar -xf - -C /newroot ;;
      esac
      ;;
    *)
      say "cannot tell the format of $1 (expected rootimg.cpio.gz, .cpio.xz, .cpio.zst, .tar.gz, .tar.xz, .tar.zst or .sfs)"
      return 1
      ;;
  esac
}

[ -n "$NFS_SERVER" ] || fetch_with_failover "$(image_urls "$IMGURL" "$IMGSERVERS")"

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
