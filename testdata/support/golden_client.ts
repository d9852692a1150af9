// Test support: a real golden client — a private copy of the shared debootstrapped Debian root
// running its own sshd in its own network namespace, reached over a veth pair with addresses of
// the documentation range 198.51.100.0/24 (they exist only inside this machine).
//
// HEAVY (copies a ~900 MB root): tests that use it run under `flock /work/wt/heavy.lock`.
// Teardown always kills every process of the namespace, deletes it with its veth pair, unmounts
// what was mounted in the root and removes the copy (`rm --one-file-system`, so a mount that
// could not be undone is never recursed into); the shared client is torn down when the test
// process ends, and a run killed before that is cleaned up by the next one.

import { existsSync } from "node:fs";
import { BOOTABLE_DEBIAN_PKGLIST, copyDebianRoot, debianRoot } from "./debian_root.ts";
import { run, sh } from "./process.ts";
import { loopDisk, SYSCLONE_PKGLIST } from "./sysclone_testing.ts";
import { GPT_TYPES } from "../../formats/sysclone/disk_layout.ts";

/** A running golden client. */
export interface GoldenClient {
  /** Host path of the client's root (what it serves as its `/`). */
  root: string;
  /** Its address inside its namespace. */
  address: string;
  /** The host side of the veth pair. */
  hostAddress: string;
  /** An address routed to the veth where nothing answers (an unreachable node). */
  unusedAddress: string;
  namespace: string;
  /** The private key root on the client accepts (the test made it). */
  privateKey: string;
  publicKey: string;
  /** A private key the client does not accept. */
  strangerKey: string;
  /** The marker the client's own systemd unit prints on /dev/ttyS0 when it boots. */
  marker: string;
  /** Runs `argv` inside the client (its namespace and root), returns stdout. */
  run(argv: string[]): Promise<string>;
  /** Pids of the processes in the client's namespace (sshd and its sessions). */
  pids(): Promise<number[]>;
  /** Limits what the client sends to `rate` (tc's units: "4mbit"), so a transfer can be caught midway. */
  throttle(rate: string): Promise<void>;
  /** Removes the limit. */
  unthrottle(): Promise<void>;
  /** Stops sshd and everything in the namespace, deletes it, unmounts, removes the copy. */
  stop(): Promise<void>;
}

/** The first address of the 198.51.100.0/24 block osimg's tests use, in /29 slots. */
const PREFIX = "198.51.100.";
const NAME_PREFIX = "osimg-gc-";

let shared: Promise<GoldenClient> | undefined;

/**
 * The test run's shared golden client, built on first use (a copy of the cached
 * BOOTABLE_DEBIAN_PKGLIST root, customised as a hand-tuned node would be) and stopped when the
 * test process ends.
 *
 * @example
 * ```ts
 * const client = await goldenClient();
 * await t.ok(["mkdef", "-t", "node", "-o", "gold", `ip=${client.address}`, "os=debian12", ...]);
 * await t.ok(["imgcapture", "gold", "-t", "diskless", "--ssh-key", client.privateKey]);
 * ```
 */
export function goldenClient(): Promise<GoldenClient> {
  shared ??= (async () => {
    const work = await Deno.makeTempDir({ prefix: `osimg-golden-${Deno.pid}-` });
    const root = `${work}/root`;
    await copyDebianRoot(root, { pkglist: BOOTABLE_DEBIAN_PKGLIST });
    const marker = `osimg-golden-${crypto.randomUUID()}`;
    await tuneGoldenRoot(root, marker);
    const client = await startGoldenClient(work, root, marker);
    globalThis.addEventListener("unload", () => stopSync(client));
    return client;
  })();
  return shared;
}

/** A golden client installed on a real partitioned disk (a loop device). */
export interface DiskGoldenClient extends GoldenClient {
  /** The whole disk, `/dev/loopN`, as the client sees it too. */
  device: string;
  /** `/dev/loopNp<number>`. */
  partition(number: number): string;
}

/**
 * The disk golden client's partitions: GPT with a BIOS boot partition, an ESP at /boot/efi, a
 * separate ext4 /boot, swap, and the ext4 root last (it grows on a clone).
 */
export const GOLDEN_DISK_SFDISK = [
  "label: gpt",
  `size=1MiB, type=${GPT_TYPES.biosBoot}, name="bios"`,
  `size=64MiB, type=${GPT_TYPES.esp}, name="EFI"`,
  `size=160MiB, type=${GPT_TYPES.linux}, name="boot"`,
  `size=32MiB, type=${GPT_TYPES.swap}, name="swap"`,
  `type=${GPT_TYPES.linux}, name="root"`,
  "",
].join("\n");

/** The disk golden client's disk size: room for the sysclone root (~750 MB) and changes. */
const GOLDEN_DISK_BYTES = 2 * 1024 ** 3;

let sharedDisk: Promise<DiskGoldenClient> | undefined;

/**
 * The test run's golden client on a real disk: a sparse file on a loop device partitioned by
 * {@linkcode GOLDEN_DISK_SFDISK} and formatted (vfat ESP, ext4 /boot, swap, ext4 root, each
 * labelled), the cached SYSCLONE_PKGLIST root copied onto its file systems mounted as the
 * client's / and /boot (the ESP is formatted but not mounted), /etc/fstab naming them all by
 * UUID. The client sees the disk:
 * its /dev has the disk's nodes and /sys is mounted, so findmnt, lsblk, sfdisk and blkid work
 * in it as on an installed node. Tuned as {@linkcode goldenClient}'s root, without its
 * power-off boot marker (a clone test adds its own). Stopped when the test process ends.
 */
export function diskGoldenClient(): Promise<DiskGoldenClient> {
  sharedDisk ??= (async () => {
    const work = await Deno.makeTempDir({ prefix: `osimg-golden-${Deno.pid}-` });
    const root = `${work}/root`;
    try {
      const disk = await loopDisk(`${work}/disk.img`, GOLDEN_DISK_BYTES, GOLDEN_DISK_SFDISK);
      await sh(["mkfs.vfat", "-n", "EFI", disk.partition(2)]);
      await sh(["mkfs.ext4", "-q", "-L", "boot", disk.partition(3)]);
      await sh(["mkswap", "-L", "swap", disk.partition(4)]);
      await sh(["mkfs.ext4", "-q", "-L", "root", disk.partition(5)]);
      await Deno.mkdir(root);
      await sh(["mount", disk.partition(5), root]);
      await Deno.mkdir(`${root}/boot`);
      await sh(["mount", disk.partition(3), `${root}/boot`]);
      // This machine's kernel may have no vfat to mount the ESP with: the client's ESP is in
      // its fstab but not mounted (an installed node's ESP holds only what grub-install puts
      // there, which a clone writes anew).
      await Deno.mkdir(`${root}/boot/efi`);
      await run(["cp", "-a", `${await debianRoot({ pkglist: SYSCLONE_PKGLIST })}/.`, `${root}/`]);
      const marker = `osimg-golden-${crypto.randomUUID()}`;
      await tuneGoldenRoot(root, marker);
      await Deno.remove(
        `${root}/etc/systemd/system/multi-user.target.wants/osimg-golden-marker.service`,
      );
      const uuid = async (number: number) =>
        (await sh(["blkid", "-p", "-s", "UUID", "-o", "value", disk.partition(number)])).trim();
      await Deno.writeTextFile(
        `${root}/etc/fstab`,
        "# /etc/fstab: static file system information.\n" +
          `UUID=${await uuid(5)} / ext4 errors=remount-ro 0 1\n` +
          `UUID=${await uuid(3)} /boot ext4 defaults 0 2\n` +
          `UUID=${await uuid(2)} /boot/efi vfat umask=0077 0 1\n` +
          `UUID=${await uuid(4)} none swap sw 0 0\n` +
          "mgmt:/home /home nfs defaults,_netdev 0 0\n",
      );
      const devices = [disk.device, ...[1, 2, 3, 4, 5].map(disk.partition)];
      const client = await startGoldenClient(work, root, marker, devices);
      globalThis.addEventListener("unload", () => stopSync(client));
      return { ...client, device: disk.device, partition: disk.partition };
    } catch (error) {
      removeCopySync(work);
      throw error;
    }
  })();
  return sharedDisk;
}

/** Writes what a hand-tuned, diskful node has: its identity, secrets, disks, network, odd files. */
async function tuneGoldenRoot(root: string, marker: string): Promise<void> {
  const write = async (path: string, text: string | Uint8Array, mode = 0o644) => {
    await Deno.mkdir(`${root}${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    if (typeof text === "string") await Deno.writeTextFile(`${root}${path}`, text);
    else await Deno.writeFile(`${root}${path}`, text);
    await Deno.chmod(`${root}${path}`, mode);
  };
  const hex = (bytes: number) =>
    [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0"))
      .join("");
  await write("/etc/hostname", "golden\n");
  await write("/etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\tgolden.cluster golden\n");
  const machineId = `${hex(16)}\n`;
  await write("/etc/machine-id", machineId, 0o444);
  // An older install's D-Bus copy of it (a clone must not keep it either).
  await write("/var/lib/dbus/machine-id", machineId, 0o444);
  await write(
    "/etc/fstab",
    "# /etc/fstab: static file system information.\n" +
      "UUID=0b7c5a3e-8f5d-4f0e-9a57-3d1c2e4b5a6f / ext4 errors=remount-ro 0 1\n" +
      "UUID=6c1e-2b7a /boot/efi vfat umask=0077 0 1\n" +
      "UUID=9d2f4c1b-5e6a-4b7c-8d9e-0f1a2b3c4d5e none swap sw 0 0\n" +
      "mgmt:/home /home nfs defaults,_netdev 0 0\n" +
      "tmpfs /scratch tmpfs size=1g 0 0\n",
  );
  await write(
    "/etc/network/interfaces",
    "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n\n" +
      "allow-hotplug ens3\niface ens3 inet static\n    address 10.0.7.21/16\n    gateway 10.0.0.1\n",
  );
  await write(
    "/var/lib/dhcp/dhclient.ens3.leases",
    'lease {\n  interface "ens3";\n  fixed-address 10.0.7.21;\n}\n',
  );
  await write("/var/lib/systemd/random-seed", crypto.getRandomValues(new Uint8Array(512)), 0o600);
  await write(
    "/etc/udev/rules.d/70-persistent-net.rules",
    'SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="52:54:00:aa:bb:cc", NAME="ens3"\n',
  );
  // A root password hash and a user with one, as an installed node has.
  const shadow = await Deno.readTextFile(`${root}/etc/shadow`);
  await write(
    "/etc/shadow",
    shadow.replace(/^root:[^:]*:/m, `root:$6$osimgtest$${hex(43)}:`),
    0o640,
  );
  await sh(["chown", "0:42", `${root}/etc/shadow`]);
  // What -aHAXS --numeric-ids must keep: a hard link pair, a sparse file, an xattr, an ACL and
  // an owner no name exists for.
  await write("/opt/tuned/settings.conf", "tuned=by hand\n");
  await Deno.link(`${root}/opt/tuned/settings.conf`, `${root}/opt/tuned/settings.link`);
  await sh(["truncate", "-s", "64M", `${root}/opt/tuned/sparse.img`]);
  await sh([
    "sh",
    "-c",
    `printf data | dd of=${root}/opt/tuned/sparse.img bs=1 seek=1048576 conv=notrunc status=none`,
  ]);
  await sh(["setfattr", "-n", "user.osimg", "-v", "golden", `${root}/opt/tuned/settings.conf`]);
  await write("/opt/tuned/acl.txt", "read by uid 1234 through an ACL\n");
  await sh([
    "setfattr",
    "-n",
    "system.posix_acl_access",
    "-v",
    ACL_USER_1234_READ,
    `${root}/opt/tuned/acl.txt`,
  ]);
  await write("/opt/tuned/owned", "owned by 4242:4343\n");
  await sh(["chown", "4242:4343", `${root}/opt/tuned/owned`]);
  // Its own boot marker: printed from its userspace once sshd (and the host-key unit of a
  // captured image) ran, with what a clone must not share.
  await write(
    "/usr/local/sbin/osimg-golden-marker",
    `#!/bin/sh
for arg in $(cat /proc/cmdline); do
  case "$arg" in NODE=*) NODE="\${arg#NODE=}" ;; BOOTIF=*) BOOTIF="\${arg#BOOTIF=}" ;; esac
done
key=$(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub 2>/dev/null | cut -d' ' -f2)
echo "${marker}-ids machine-id=$(cat /etc/machine-id) hostkey=\${key:-none} sshd=$(systemctl is-active ssh)" > /dev/ttyS0
echo "${marker} NODE=$NODE BOOTIF=$BOOTIF CMDLINE=$(cat /proc/cmdline)" > /dev/ttyS0
sleep 2
systemctl poweroff --force --force
`,
    0o755,
  );
  await write(
    "/etc/systemd/system/osimg-golden-marker.service",
    `[Unit]
Description=osimg test: print the golden client's boot marker on ttyS0
After=ssh.service osimg-ssh-host-keys.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/osimg-golden-marker

[Install]
WantedBy=multi-user.target
`,
  );
  await Deno.symlink(
    "/etc/systemd/system/osimg-golden-marker.service",
    `${root}/etc/systemd/system/multi-user.target.wants/osimg-golden-marker.service`,
  );
}

/**
 * POSIX ACL (xattr system.posix_acl_access, version 2): user::rw- user:1234:r-- group::r--
 * mask::r-- other::r--; entries are (tag u16, perm u16, id u32), little endian.
 */
const ACL_USER_1234_READ = "0x02000000" + "01000600ffffffff" + "02000400d2040000" +
  "04000400ffffffff" + "10000400ffffffff" + "20000400ffffffff";

/** The /29 slot of 198.51.100.0/24 no interface of this machine uses yet. */
function freeSlot(): number {
  const used = new Set(
    Deno.networkInterfaces().filter((nic) => nic.address.startsWith(PREFIX)).map((nic) =>
      Math.floor(Number(nic.address.slice(PREFIX.length)) / 8)
    ),
  );
  for (let slot = 1; slot < 32; slot++) if (!used.has(slot)) return slot;
  throw new Error("every 198.51.100.0/29 slot is in use");
}

/** Leftovers of test processes that died before their teardown: namespaces, mounts, copies. */
async function cleanStale(): Promise<void> {
  const alive = (pid: number) => existsSync(`/proc/${pid}`);
  const namespaces = (await sh(["ip", "netns", "list"])).split("\n")
    .map((line) => line.split(" ")[0]!).filter((name) => name.startsWith(NAME_PREFIX));
  for (const name of namespaces) {
    const pid = Number(name.slice(NAME_PREFIX.length).split("-")[0]);
    if (!alive(pid)) stopNamespaceSync(name);
  }
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  for (const entry of Deno.readDirSync(tmp)) {
    const match = /^osimg-golden-(\d+)-/.exec(entry.name);
    if (match && !alive(Number(match[1]))) removeCopySync(`${tmp}/${entry.name}`);
  }
}

/**
 * Starts sshd in `root` (mounting proc, a private /dev and /run in it) inside a new network
 * namespace joined to this host by a veth pair, with a key pair made for it under `work`.
 * `devices` (host block devices) get their nodes in the client's /dev, and sysfs is mounted.
 */
export async function startGoldenClient(
  work: string,
  root: string,
  marker: string,
  devices: readonly string[] = [],
): Promise<GoldenClient> {
  await cleanStale();
  const slot = freeSlot();
  const namespace = `${NAME_PREFIX}${Deno.pid}-${slot}`;
  const hostIf = `ogc${Deno.pid % 100000}s${slot}`;
  const clientIf = `${hostIf}c`;
  const hostAddress = `${PREFIX}${slot * 8 + 1}`;
  const address = `${PREFIX}${slot * 8 + 2}`;
  const client: GoldenClient = {
    root,
    address,
    hostAddress,
    unusedAddress: `${PREFIX}${slot * 8 + 3}`,
    namespace,
    privateKey: `${work}/keys/id_ed25519`,
    publicKey: `${work}/keys/id_ed25519.pub`,
    strangerKey: `${work}/keys/stranger`,
    marker,
    run: (argv) => sh(["ip", "netns", "exec", namespace, "chroot", root, ...argv]),
    pids: async () =>
      (await sh(["ip", "netns", "pids", namespace]).catch(() => "")).split("\n")
        .filter((line) => line.trim() !== "").map(Number),
    throttle: async (rate) => {
      await sh([
        "ip",
        "netns",
        "exec",
        namespace,
        "tc",
        "qdisc",
        "replace",
        "dev",
        clientIf,
        "root",
        "tbf",
        "rate",
        rate,
        "burst",
        "32kbit",
        "latency",
        "400ms",
      ]);
    },
    unthrottle: async () => {
      await sh(["ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", clientIf, "root"])
        .catch(() => "");
    },
    stop: () => Promise.resolve(stopSync(client)),
  };
  (client as GoldenClient & { work: string }).work = work;
  try {
    await Deno.mkdir(`${work}/keys`, { mode: 0o700 });
    for (const name of ["id_ed25519", "stranger"]) {
      await sh([
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        name,
        "-f",
        `${work}/keys/${name}`,
      ]);
    }
    await Deno.mkdir(`${root}/root/.ssh`, { recursive: true, mode: 0o700 });
    await Deno.copyFile(client.publicKey, `${root}/root/.ssh/authorized_keys`);
    await Deno.chmod(`${root}/root/.ssh/authorized_keys`, 0o600);

    await sh(["mount", "-t", "proc", "proc", `${root}/proc`]);
    await sh(["mount", "-t", "tmpfs", "-o", "mode=755,size=16m", "tmpfs", `${root}/dev`]);
    for (
      const [name, major, minor] of [
        ["null", 1, 3],
        ["zero", 1, 5],
        ["full", 1, 7],
        ["random", 1, 8],
        ["urandom", 1, 9],
        ["tty", 5, 0],
      ] as const
    ) {
      await sh(["mknod", "-m", "666", `${root}/dev/${name}`, "c", String(major), String(minor)]);
    }
    for (const device of devices) {
      const [major, minor] = (await sh(["stat", "-c", "%t %T", device])).trim().split(" ");
      await sh([
        "mknod",
        "-m",
        "660",
        `${root}${device}`,
        "b",
        String(parseInt(major!, 16)),
        String(parseInt(minor!, 16)),
      ]);
    }
    if (devices.length > 0) await sh(["mount", "-t", "sysfs", "sysfs", `${root}/sys`]);
    await sh(["mount", "-t", "tmpfs", "-o", "mode=755,size=16m", "tmpfs", `${root}/run`]);
    await Deno.mkdir(`${root}/run/sshd`, { mode: 0o755 });

    await sh(["ip", "netns", "add", namespace]);
    await sh(["ip", "link", "add", hostIf, "type", "veth", "peer", "name", clientIf]);
    await sh(["ip", "link", "set", clientIf, "netns", namespace]);
    await sh(["ip", "addr", "add", `${hostAddress}/29`, "dev", hostIf]);
    await sh(["ip", "link", "set", hostIf, "up"]);
    const inside = (args: string[]) => sh(["ip", "netns", "exec", namespace, ...args]);
    await inside(["ip", "link", "set", "lo", "up"]);
    await inside(["ip", "addr", "add", `${address}/29`, "dev", clientIf]);
    await inside(["ip", "link", "set", clientIf, "up"]);

    // sshd -D -e in the foreground of its own session (setsid -f), so no test holds its
    // handle; its pid is recorded for the teardown, its log kept beside the copy.
    await sh([
      "setsid",
      "-f",
      "sh",
      "-c",
      `echo $$ > ${work}/sshd.pid; exec ip netns exec ${namespace} chroot ${root} ` +
      `/usr/sbin/sshd -D -e -o UsePAM=no -o PrintLastLog=no -o ListenAddress=${address} ` +
      `</dev/null >>${work}/sshd.log 2>&1`,
    ]);
    const deadline = Date.now() + 20_000;
    while (true) {
      try {
        const connection = await Deno.connect({ hostname: address, port: 22 });
        connection.close();
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          const log = await Deno.readTextFile(`${work}/sshd.log`).catch(() => "");
          throw new Error(`the golden client's sshd did not start: ${error}\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return client;
  } catch (error) {
    stopSync(client);
    throw error;
  }
}

function runSync(argv: string[]): { code: number; stderr: string } {
  const output = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

/** Kills every process of a namespace and deletes it (its veth pair goes with it). */
function stopNamespaceSync(namespace: string): void {
  for (let round = 0; round < 50; round++) {
    const output = new Deno.Command("ip", {
      args: ["netns", "pids", namespace],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const pids = new TextDecoder().decode(output.stdout).split("\n").filter((line) => line.trim())
      .map(Number);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    runSync(["sleep", "0.1"]);
  }
  runSync(["ip", "netns", "del", namespace]);
}

/** Mount points at or below `dir` (from /proc/self/mounts), deepest first. */
function mountsBelow(dir: string): string[] {
  const mounts = Deno.readTextFileSync("/proc/self/mounts").split("\n")
    .map((line) => (line.split(" ")[1] ?? "").replace(/\\040/g, " "))
    .filter((path) => path === dir || path.startsWith(`${dir}/`));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

/**
 * Unmounts everything under a copy, detaches the loop devices of disk images in it, then
 * removes it without ever crossing a mount.
 */
function removeCopySync(work: string): void {
  for (const mount of mountsBelow(work)) {
    if (runSync(["umount", mount]).code !== 0) runSync(["umount", "-l", mount]);
  }
  const output = new Deno.Command("losetup", {
    args: ["-J", "-l"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const text = new TextDecoder().decode(output.stdout).trim();
  const loops = text === ""
    ? []
    : (JSON.parse(text) as { loopdevices: { name: string; "back-file": string | null }[] })
      .loopdevices;
  for (const loop of loops) {
    if ((loop["back-file"] ?? "").startsWith(`${work}/`)) {
      runSync(["partx", "-d", loop.name]);
      runSync(["losetup", "-d", loop.name]);
    }
  }
  runSync(["rm", "-rf", "--one-file-system", work]);
}

function stopSync(client: GoldenClient): void {
  const work = (client as GoldenClient & { work?: string }).work;
  const pidfile = work ? `${work}/sshd.pid` : undefined;
  if (pidfile && existsSync(pidfile)) {
    const pid = Number(Deno.readTextFileSync(pidfile).trim());
    try {
      if (pid > 0 && Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("sshd")) {
        Deno.kill(pid, "SIGKILL");
      }
    } catch {
      // already gone
    }
  }
  stopNamespaceSync(client.namespace);
  if (work) removeCopySync(work);
}

/**
 * A second client whose `/` is a tmpfs (as a diskless node's is) showing the golden client's
 * /usr and /etc read-only: sshd runs there, imgcapture must refuse it. Stop it when done.
 */
export async function tmpfsRootClient(golden: GoldenClient): Promise<GoldenClient> {
  const work = await Deno.makeTempDir({ prefix: `osimg-golden-${Deno.pid}-` });
  const root = `${work}/root`;
  try {
    await Deno.mkdir(root);
    await sh(["mount", "-t", "tmpfs", "-o", "mode=755,size=32m", "tmpfs", root]);
    for (const dir of ["usr", "etc", "proc", "dev", "run", "root", "var", "tmp"]) {
      await Deno.mkdir(`${root}/${dir}`);
    }
    for (const dir of ["usr", "etc"]) {
      await sh(["mount", "--bind", `${golden.root}/${dir}`, `${root}/${dir}`]);
      await sh(["mount", "-o", "remount,bind,ro", `${root}/${dir}`]);
    }
    for (const link of ["bin", "sbin", "lib", "lib64"]) {
      await Deno.symlink(`usr/${link}`, `${root}/${link}`);
    }
    return await startGoldenClient(work, root, golden.marker);
  } catch (error) {
    removeCopySync(work);
    throw error;
  }
}
