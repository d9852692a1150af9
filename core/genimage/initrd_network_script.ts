// The network start-up both of osimg's initrds share: drivers, the boot NIC by BOOTIF=, DHCP.

/**
 * Shell functions for an initrd's /init (busybox sh), used by the netboot init
 * (netboot_init_script.ts) and the sysclone deploy init (core/sysclone/deploy_init_script.ts):
 * - `load_modules`: the drivers of /etc/osimg/modules, in the order osimg resolved from
 *   modules.dep when it built the initrd;
 * - `mac_of_bootif`, `pick_interface`: the boot NIC from `netdev=`/`ifname=` (`$NETDEV`) or by
 *   the MAC of `BOOTIF=` (pxelinux IPAPPEND 2, iPXE, grub2), else the first NIC;
 * - `network_up`: waits for that NIC, brings it up and gets a DHCP lease on it (through
 *   /etc/osimg/udhcpc.script), leaving its name in `$IFACE`.
 *
 * The caller defines `say MESSAGE` and `network_wait_failed MESSAGE`, called when a wait runs
 * out (30 s without the NIC, 10 DHCP tries): the netboot init keeps trying (a node whose
 * network is late must still boot), the deploy init stops before touching the disk.
 */
export function initrdNetworkFunctions(): string {
  return `
load_modules() {
  KVER="$(cat /etc/osimg/kernel)"
  while read -r module; do
    [ -n "$module" ] && insmod "/lib/modules/$KVER/$module" 2>/dev/null
  done < /etc/osimg/modules
}

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

network_up() {
  wait=0
  until IFACE="$(pick_interface)"; do
    wait=$((wait + 1))
    if [ "$wait" -ge 30 ]; then
      network_wait_failed "no network interface matches BOOTIF=$BOOTIF netdev=$NETDEV; loaded drivers: $(cut -d' ' -f1 /proc/modules | tr '\\n' ' ')"
      wait=0
    fi
    sleep 1
  done
  ip link set lo up
  ip link set "$IFACE" up
  tries=0
  until udhcpc -i "$IFACE" -s /etc/osimg/udhcpc.script -n -q -t 5 -T 2 >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 10 ]; then
      network_wait_failed "no DHCP answer on $IFACE"
      tries=0
    fi
    say "no DHCP answer on $IFACE; retrying"
    sleep 3
  done
}
`;
}
