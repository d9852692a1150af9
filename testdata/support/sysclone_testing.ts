// Test support for sysclone: sample disk layouts, loop-backed disks, the clone image's root.

import { existsSync } from "node:fs";
import {
  type DiskLayout,
  GPT_TYPES,
  type Partition,
  type VolumeGroup,
} from "../../formats/sysclone/disk_layout.ts";
import { run, runTool, sh } from "./process.ts";
import type { TestRoot } from "./testing.ts";

/** GRUB's BIOS boot partition, first on both sample layouts. */
const BIOS_BOOT_PARTITION: Partition = {
  number: 1,
  size: 1024 ** 2,
  type: GPT_TYPES.biosBoot,
  name: "bios",
  flags: ["bios_grub"],
};

/** A 4 GiB GPT disk "vda" with these partitions and volume groups, as a layout file holds it. */
function gptLayout(
  partitions: Partition[],
  volumeGroups: VolumeGroup[] = [],
): DiskLayout {
  return {
    format: "osimg-disklayout",
    version: 1,
    disks: [{ name: "vda", size: 4 * 1024 ** 3, table: "gpt", partitions, volumeGroups }],
  };
}

/** A BIOS+UEFI GPT layout with swap, as a golden client installed by debian-installer has. */
export const HYBRID_LAYOUT: DiskLayout = gptLayout([
  BIOS_BOOT_PARTITION,
  {
    number: 2,
    size: 64 * 1024 ** 2,
    type: GPT_TYPES.esp,
    name: "EFI",
    flags: ["esp"],
    filesystem: {
      type: "vfat",
      label: "EFI",
      uuid: "8E60-C713",
      mountpoint: "/boot/efi",
      options: "umask=0077",
      dump: 0,
      pass: 1,
    },
  },
  {
    number: 3,
    size: 32 * 1024 ** 2,
    type: GPT_TYPES.swap,
    flags: [],
    filesystem: { type: "swap", label: "swap", uuid: "6b77afc7-bea9-ed4b-ac37-1b6f605db324" },
  },
  {
    number: 4,
    size: 3 * 1024 ** 3,
    grow: true,
    minSize: 1536 * 1024 ** 2,
    type: GPT_TYPES.linux,
    name: "root",
    flags: [],
    filesystem: {
      type: "ext4",
      label: "root",
      uuid: "1417731a-652a-004e-b156-0f46c836e1b5",
      mountpoint: "/",
      options: "errors=remount-ro",
      dump: 0,
      pass: 1,
    },
  },
]);

/**
 * A GPT layout with LVM: BIOS boot, ESP, /boot on a partition, and the growing last partition a
 * physical volume of vg0 holding a swap LV and the growing root LV.
 */
export const LVM_LAYOUT: DiskLayout = gptLayout([
  BIOS_BOOT_PARTITION,
  {
    number: 2,
    size: 64 * 1024 ** 2,
    type: GPT_TYPES.esp,
    name: "EFI",
    flags: ["esp"],
    filesystem: { type: "vfat", label: "EFI", mountpoint: "/boot/efi", options: "umask=0077" },
  },
  {
    number: 3,
    size: 256 * 1024 ** 2,
    type: GPT_TYPES.linux,
    name: "boot",
    flags: [],
    filesystem: { type: "ext4", label: "boot", mountpoint: "/boot" },
  },
  {
    number: 4,
    size: 3 * 1024 ** 3,
    grow: true,
    type: GPT_TYPES.lvm,
    name: "lvm",
    flags: ["lvm"],
  },
], [{
  name: "vg0",
  extentSize: 4 * 1024 ** 2,
  physicalVolumes: [4],
  logicalVolumes: [
    {
      name: "root",
      size: 2800 * 1024 ** 2,
      grow: true,
      minSize: 1536 * 1024 ** 2,
      filesystem: {
        type: "ext4",
        label: "root",
        uuid: "1417731a-652a-004e-b156-0f46c836e1b5",
        mountpoint: "/",
        options: "errors=remount-ro",
        dump: 0,
        pass: 1,
      },
    },
    { name: "swap", size: 128 * 1024 ** 2, filesystem: { type: "swap" } },
  ],
}]);

/** A file attached to a loop device with its partitions visible as /dev/loopNpM. */
export interface LoopDisk extends AsyncDisposable {
  /** `/dev/loopN`. */
  device: string;
  /** `/dev/loopNp<number>`. */
  partition(number: number): string;
}

/**
 * Makes `file` a `bytes`-long sparse disk partitioned by `sfdiskScript`, attached to a free loop
 * device with its partitions scanned. Use with `await using`: disposal removes the partition
 * nodes and detaches the loop device even when the test failed.
 *
 * @example
 * ```ts
 * await using disk = await loopDisk(`${dir}/disk.img`, 256 * 1024 ** 2, "label: gpt\ntype=L\n");
 * await sh(["mkfs.ext4", "-q", disk.partition(1)]);
 * ```
 */
export async function loopDisk(
  file: string,
  bytes: number,
  sfdiskScript: string,
): Promise<LoopDisk> {
  await sh(["truncate", "-s", String(bytes), file]);
  await run(["sfdisk", "-q", file], { stdin: new TextEncoder().encode(sfdiskScript) });
  const device = (await sh(["losetup", "-P", "-f", "--show", file])).trim();
  const dispose = async () => {
    await runTool("partx", ["-d", device]);
    await runTool("losetup", ["-d", device]);
  };
  try {
    const count = (await sh(["sfdisk", "-l", "-o", "Device", file])).split("\n")
      .filter((line) => line.startsWith(file)).length;
    const partition = (number: number) => `${device}p${number}`;
    // In a container the kernel's own scan at attach may find nothing; partx adds them, and
    // devtmpfs creates the nodes shortly after.
    if (!existsSync(partition(count))) await runTool("partx", ["-a", device]);
    for (let tries = 0; !existsSync(partition(count)); tries++) {
      if (tries > 50) throw new Error(`${partition(count)} did not appear`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { device, partition, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** The packages of the sysclone golden image: a bootable Debian with GRUB for BIOS and UEFI. */
export const SYSCLONE_PKGLIST = [
  "linux-image-amd64",
  "systemd-sysv",
  "openssh-server",
  "rsync",
  "grub-pc-bin",
  "grub-efi-amd64-bin",
  "grub2-common",
  "e2fsprogs",
  "dosfstools",
  "util-linux",
  "fdisk",
  "busybox-static",
  "",
].join("\n");

/** The sysclone golden image with LVM's tools: its initramfs activates a root LV (lvm2's hooks). */
export const LVM_SYSCLONE_PKGLIST = SYSCLONE_PKGLIST + "lvm2\n";

/** The kernel, initrd and arguments of the node's pxelinux entry, as its loader would boot them. */
export function entryBoot(
  tftpboot: string,
  node: string,
): { kernel: string; initrd: string; append: string } {
  const entry = Deno.readTextFileSync(`${tftpboot}/pxelinux.cfg/${node}`);
  const kernel = /^\s*KERNEL (\S+)$/m.exec(entry)![1]!;
  const words = /^\s*APPEND (.*)$/m.exec(entry)![1]!.split(" ");
  const initrd = words.find((word) => word.startsWith("initrd="))!.slice("initrd=".length);
  return {
    kernel: `${tftpboot}/${kernel}`,
    initrd: `${tftpboot}/${initrd}`,
    append: words.filter((word) => !word.startsWith("initrd=")).join(" "),
  };
}

/** QEMU's arguments to boot the node's deploy entry (osimg.done=poweroff) (kernel, initrd, command line) onto `disk`. */
export function deployArgs(
  tftpboot: string,
  node: string,
  mac: string,
  disk: string,
  firmware: string[] = [],
): string[] {
  const boot = entryBoot(tftpboot, node);
  return [
    ...firmware,
    "-kernel",
    boot.kernel,
    "-initrd",
    boot.initrd,
    "-append",
    `${boot.append} osimg.done=poweroff`,
    ...diskArgs(disk),
    ...nicArgs(mac),
  ];
}

/** A user-mode NIC with `mac` (QEMU's DHCP and its host at 10.0.2.2). */
export function nicArgs(mac: string): string[] {
  return ["-netdev", "user,id=n0", "-device", `virtio-net-pci,netdev=n0,mac=${mac}`];
}

/** `disk` (a raw file) as the VM's virtio disk. */
export function diskArgs(disk: string): string[] {
  return ["-drive", `file=${disk},format=raw,if=virtio`];
}

/** mkdef of a sysclone osimage `image` (debian12, x86_64), as imgcapture -t sysclone makes one. */
export async function defineSyscloneImage(t: TestRoot, image: string): Promise<void> {
  await t.ok([
    "mkdef",
    "-t",
    "osimage",
    "-o",
    image,
    "imagetype=linux",
    "provmethod=sysclone",
    "osvers=debian12",
    "osarch=x86_64",
  ]);
}

/** mkdef of a QEMU node `node` (user-mode network, the host at 10.0.2.2), `extra` attributes after. */
export async function defineQemuNode(
  t: TestRoot,
  node: string,
  mac: string,
  extra: string[] = [],
): Promise<void> {
  await t.ok([
    "mkdef",
    "-t",
    "node",
    node,
    "groups=all",
    "netboot=pxe",
    `mac=${mac}`,
    "ip=10.0.2.15",
    "xcatmaster=10.0.2.2",
    ...extra,
  ]);
}

/**
 * A systemd unit that proves a clone reached its own userspace: it echoes `report` (a shell
 * word list; `$(...)` are run by the node's sh) to the serial console, then powers off.
 */
export function markerServiceUnit(report: string): string {
  return [
    "[Unit]",
    "Description=osimg sysclone test marker",
    "After=local-fs.target",
    "[Service]",
    "Type=oneshot",
    // systemd reads `$$` as `$` (a function replacement: in a replacement string "$$" is "$").
    `ExecStart=/bin/sh -c 'echo ${
      report.replaceAll("$", () => "$$")
    } > /dev/ttyS0; systemctl poweroff'`,
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** UEFI firmware from Debian's ovmf package. */
export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/** One VM run: what QEMU gets besides machine, memory and console, and when to stop. */
export interface VmRun {
  args: string[];
  /** Stop once this holds for the serial console so far (QEMU is then killed). */
  until: (serial: string) => boolean;
  timeoutMs: number;
  memoryMiB?: number;
}

/** What a VM run showed. */
export interface VmOutcome {
  serial: string;
  /** QEMU ended by itself (the guest powered off) rather than being stopped. */
  exited: boolean;
  seconds: number;
}

/**
 * Runs QEMU (software emulation) with a serial console on stdout
 * until `until` holds, QEMU exits, or the timeout. QEMU runs under coreutils `timeout`, so a
 * test process that dies cannot leave it running; it is always killed and waited for here.
 */
export async function runVm(vm: VmRun): Promise<VmOutcome> {
  const started = performance.now();
  const work = await Deno.makeTempDir({ prefix: "osimg-vm-" });
  const pidfile = `${work}/qemu.pid`;
  const hardCap = Math.ceil(vm.timeoutMs / 1000) + 30;
  const child = new Deno.Command("timeout", {
    args: [
      "--signal=KILL",
      String(hardCap),
      "qemu-system-x86_64",
      // Software emulation, as every boot test: nested KVM on CI hosts fails in firmware.
      "-machine",
      "pc,accel=tcg",
      "-m",
      String(vm.memoryMiB ?? 1536),
      "-nographic",
      "-no-reboot",
      "-pidfile",
      pidfile,
      ...vm.args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let serial = "";
  let stderr = "";
  let exited = false;
  const decoder = new TextDecoder();
  const status = child.status.then((value) => (exited = true, value));
  const stderrDone = (async () => {
    for await (const chunk of child.stderr) stderr += new TextDecoder().decode(chunk);
  })();
  // SIGTERM to `timeout` is passed on to QEMU, which exits; SIGKILL by pid if it does not.
  const kill = () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
  };
  const killHard = () => {
    try {
      const pid = Number(Deno.readTextFileSync(pidfile).trim());
      if (pid > 0) Deno.kill(pid, "SIGKILL");
    } catch {
      // no pidfile or already gone
    }
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(kill, vm.timeoutMs);
  let stopped = false;
  try {
    for await (const chunk of child.stdout) {
      serial += decoder.decode(chunk, { stream: true });
      if (vm.until(serial)) {
        stopped = true;
        break;
      }
    }
  } finally {
    clearTimeout(timer);
    if (!exited) kill();
    const hard = setTimeout(killHard, 10_000);
    await status;
    clearTimeout(hard);
    await stderrDone.catch(() => {});
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return {
    serial: stderr.trim() === "" ? serial : `${serial}\n[qemu stderr]\n${stderr}`,
    exited: exited && !stopped,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
