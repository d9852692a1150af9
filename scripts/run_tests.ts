// Runs the whole test suite: installs the Debian tools the tests use (as root), then
// `deno test` with a JUnit report, and ends with one line `N passed, N failed`.

import { existsSync } from "node:fs";

/**
 * Debian packages whose programs the tests run against what osimg writes: program on PATH (or
 * an absolute path of a file the tests read, such as firmware) → package.
 */
export const TEST_PACKAGES: Record<string, string> = {
  cpio: "cpio",
  tar: "tar",
  bsdtar: "libarchive-tools",
  xorriso: "xorriso",
  mksquashfs: "squashfs-tools",
  unsquashfs: "squashfs-tools",
  pigz: "pigz",
  zstd: "zstd",
  xz: "xz-utils",
  bzip2: "bzip2",
  gzip: "gzip",
  sha256sum: "coreutils",
  getfattr: "attr",
  setcap: "libcap2-bin",
  debootstrap: "debootstrap",
  "qemu-system-x86_64": "qemu-system-x86",
  busybox: "busybox-static",
  // The real PXE clients of testdata/support/boot_clients.ts (files, not programs, for most).
  timeout: "coreutils",
  depmod: "kmod",
  "grub-mkimage": "grub-common",
  "/usr/lib/grub/x86_64-efi/linuxefi.mod": "grub-efi-amd64-bin",
  "/usr/lib/PXELINUX/pxelinux.0": "pxelinux",
  "/usr/lib/syslinux/modules/bios/ldlinux.c32": "syslinux-common",
  "/usr/share/OVMF/OVMF_CODE_4M.fd": "ovmf",
  "/usr/lib/ipxe/qemu/efi-virtio.rom": "ipxe-qemu",
  rsync: "rsync",
  rpm: "rpm",
  rpmbuild: "rpm",
  createrepo_c: "createrepo-c",
  dnf: "dnf",
  zypper: "zypper",
  // The PostgreSQL store's tests start their own server (testdata/support/postgres_server.ts).
  initdb: "postgresql",
  minisign: "minisign",
  b2sum: "coreutils",
  // Real ISO images nobody here wrote, for the ISO 9660 reader's cross-checks (paths, not programs).
  "/usr/lib/ipxe/ipxe.iso": "ipxe",
  "/usr/lib/grub-rescue/grub-rescue-cdrom.iso": "grub-rescue-pc",
  curl: "curl",
  "kea-dhcp4": "kea-dhcp4-server",
  dnsmasq: "dnsmasq-base",
  // genimage: proc/sys/dev mounts in the image.
  mount: "mount",
  // sysclone's loop-backed disks (core/sysclone/read_disk_layout_test.ts).
  sfdisk: "fdisk",
  "mkfs.vfat": "dosfstools",
  // sysclone's LVM on loop disks (pvs/vgs/lvs reports, core/sysclone/read_disk_layout_test.ts).
  lvm: "lvm2",
  // imgcapture's golden client: ssh to a chroot's sshd in a network namespace over a veth pair.
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  setpriv: "util-linux",
  ip: "iproute2",
  tc: "iproute2",
  setfattr: "attr",
};

async function run(argv: string[], env?: Record<string, string>): Promise<number> {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

function onPath(program: string): boolean {
  if (program.startsWith("/")) return existsSync(program);
  return (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").some((dir) =>
    existsSync(`${dir}/${program}`)
  ) || (program === "initdb" && hasPostgresServer());
}

/** Debian keeps PostgreSQL's server programs off PATH, in /usr/lib/postgresql/<version>/bin. */
function hasPostgresServer(): boolean {
  try {
    return [...Deno.readDirSync("/usr/lib/postgresql")].some((entry) =>
      existsSync(`/usr/lib/postgresql/${entry.name}/bin/initdb`)
    );
  } catch {
    return false;
  }
}

const missing = [
  ...new Set(
    Object.entries(TEST_PACKAGES).filter(([program]) => !onPath(program)).map(([, pkg]) => pkg),
  ),
];
if (missing.length > 0) {
  if (Deno.uid() === 0) {
    console.error(`Installing test tools: ${missing.join(" ")}`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    if (await run(["apt-get", "update", "-qq"], env) !== 0) Deno.exit(1);
    if (await run(["apt-get", "install", "-y", "-qq", ...missing], env) !== 0) Deno.exit(1);
  } else {
    console.error(
      `The tests need these Debian packages: ${missing.join(" ")}\n` +
        `Install them (sudo apt-get install ${missing.join(" ")}) or run this as root.`,
    );
    Deno.exit(1);
  }
}

const report = `${Deno.cwd()}/.test-report.xml`;
const status = await run([
  Deno.execPath(),
  "test",
  "-A",
  "--parallel",
  "--reporter=dot",
  `--junit-path=${report}`,
  ...Deno.args,
]);
let passed = 0;
let failed = 0;
try {
  const xml = await Deno.readTextFile(report);
  for (const match of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = match[2] ?? "";
    if (/<failure\b|<error\b/.test(body)) failed++;
    else if (!/<skipped\b/.test(body)) passed++;
  }
} catch (error) {
  console.error(`Cannot read the test report ${report}: ${(error as Error).message}`);
  failed++;
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(status === 0 && failed === 0 ? 0 : 1);
