// Test support: real network-boot clients under QEMU (iPXE, pxelinux, grub2 EFI) and what they boot.

import { existsSync } from "node:fs";
import { sh } from "./process.ts";

/**
 * How long one boot may take before QEMU is killed. Software emulation (TCG) on a loaded
 * 2-core machine: firmware, the loader, a Debian kernel and the initramfs take 20-90 s.
 */
export const BOOT_TIMEOUT_MS = 240_000;

/**
 * Extra seconds after {@linkcode BOOT_TIMEOUT_MS} at which coreutils `timeout` SIGKILLs QEMU
 * by itself: the cap that holds even when the test process dies before its `finally` runs.
 */
const HARD_CAP_GRACE_SECONDS = 30;

/** After the marker, how long /init's `poweroff -f` may take to end QEMU before it is killed. */
const POWEROFF_GRACE_MS = 30_000;

/** The guest address QEMU's user-mode network gives the host (its DHCP server, TFTP, gateway). */
export const HOST_FROM_GUEST = "10.0.2.2";
/** The address QEMU's user-mode DHCP gives the first guest. */
export const GUEST_IP = "10.0.2.15";
/** {@linkcode GUEST_IP} as pxelinux and grub2 spell it in file names (8 uppercase hex digits). */
export const GUEST_HEXIP = "0A00020F";

/** What the initramfs's /init prints once it runs: the marker, then what the loader passed. */
export interface InitReport {
  /** The `NODE=` kernel argument, which the kernel hands /init as an environment variable. */
  node: string;
  /** The `BOOTIF=` kernel argument (IPAPPEND 2, iPXE's `${netX/mac:hexhyp}`, grub2's mac). */
  bootif: string;
  /** The whole kernel command line (/proc/cmdline) as the loader left it. */
  cmdline: string;
}

/** Reads /init's report line for `marker` out of a serial log, if the guest got that far. */
export function initReport(serial: string, marker: string): InitReport | undefined {
  // Not anchored at a line start: firmware escape sequences may precede it on the same line.
  const match = new RegExp(`${marker} NODE=(\\S*) BOOTIF=(\\S*) CMDLINE=(.*?)\\r?$`, "m").exec(
    serial,
  );
  if (!match) return undefined;
  return { node: match[1]!, bootif: match[2]!, cmdline: match[3]!.trim() };
}

/** One request the loopback HTTP server answered. */
export interface HttpRequestLog {
  method: string;
  /** The URL path as asked, e.g. `/tftpboot/xcat/xnba/nodes/cn01`. */
  path: string;
  status: number;
}

/** An HTTP server over a root's /tftpboot and /install, as xCAT's httpd serves them. */
export interface RootHttpServer extends AsyncDisposable {
  /** The loopback port; the guest reaches it as `http://10.0.2.2:<port>/`. */
  port: number;
  /** Every request so far, in arrival order. */
  requests: HttpRequestLog[];
}

/**
 * Serves `<root>/tftpboot` and `<root>/install` on 127.0.0.1 (a free port), logging each
 * request. QEMU's user-mode network forwards the guest's connections to 10.0.2.2 to the host's
 * loopback. Use with `await using`.
 *
 * @example
 * ```ts
 * await using http = serveRoot(root);
 * const url = `http://${HOST_FROM_GUEST}:${http.port}/tftpboot/xcat/xnba/nodes/cn01`;
 * ```
 */
export function serveRoot(root: string): RootHttpServer {
  const requests: HttpRequestLog[] = [];
  const respond = async (request: Request): Promise<Response> => {
    let segments: string[];
    try {
      // xCAT's imgurl has a double slash (`:80//install/...`), which Apache folds: so does this.
      segments = decodeURIComponent(new URL(request.url).pathname).replace(/\/{2,}/g, "/")
        .split("/");
    } catch {
      return new Response("bad path\n", { status: 400 });
    }
    const served = (segments[1] === "tftpboot" || segments[1] === "install") &&
      !segments.includes("..") && request.method === "GET";
    if (!served) return new Response("not served\n", { status: 404 });
    try {
      const file = await Deno.open(`${root}${segments.join("/")}`, { read: true });
      const info = await file.stat();
      if (!info.isFile) {
        file.close();
        return new Response("not a file\n", { status: 404 });
      }
      return new Response(file.readable, {
        headers: {
          "content-length": String(info.size),
          "content-type": "application/octet-stream",
        },
      });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return new Response("no such file\n", { status: 404 });
      }
      throw error;
    }
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request) => {
    const response = await respond(request);
    requests.push({
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
    });
    return response;
  });
  return {
    port: server.addr.port,
    requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** What one QEMU boot showed. */
export interface BootOutcome {
  /** Everything on the serial console (firmware, loader, kernel, /init). */
  serial: string;
  /** /init's report, when the initramfs ran. */
  report: InitReport | undefined;
  /** QEMU ended by itself after the marker (/init's poweroff), rather than being killed. */
  poweredOff: boolean;
  /** Wall time of the QEMU run in seconds. */
  seconds: number;
}

/** Options every boot driver takes. */
export interface BootOptions {
  /** The marker the initramfs prints (see {@linkcode writeMarkerInitramfs}). */
  marker: string;
  /** The guest NIC's MAC, lower case with colons (QEMU's default is 52:54:00:12:34:56). */
  mac?: string;
  /** Overrides {@linkcode BOOT_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Guest memory (default 512 MiB; a full distro booting into a RAM root needs more). */
  memoryMiB?: number;
}

const DEFAULT_MAC = "52:54:00:12:34:56";

/** QEMU's machine, memory and console, shared by every client. Software emulation, no KVM. */
function machineArgs(memoryMiB = 512): string[] {
  return [
    "-machine",
    "pc,accel=tcg",
    "-m",
    String(memoryMiB),
    "-nographic",
    "-no-reboot",
    "-boot",
    "n",
  ];
}

/**
 * The NIC. virtio-net with QEMU's default romfile (Debian's ipxe-qemu efi-virtio.rom, which
 * carries iPXE for both BIOS and UEFI).
 */
function nicArgs(netdev: string, mac: string): string[] {
  return ["-netdev", `user,id=net0,${netdev}`, "-device", `virtio-net-pci,netdev=net0,mac=${mac}`];
}

/**
 * Runs QEMU until /init's marker shows and QEMU powers off, or the timeout. QEMU runs under
 * coreutils `timeout`, so it dies at a hard cap even if this process is killed before its
 * `finally`; on timeout or error it is stopped (SIGTERM through `timeout`, then SIGKILL by
 * its -pidfile) and waited for, so it never outlives the test.
 */
async function runQemu(qemuArgs: string[], options: BootOptions): Promise<BootOutcome> {
  const timeoutMs = options.timeoutMs ?? BOOT_TIMEOUT_MS;
  const work = await Deno.makeTempDir({ prefix: "osimg-qemu-" });
  const pidfile = `${work}/qemu.pid`;
  const hardCap = Math.ceil(timeoutMs / 1000) + HARD_CAP_GRACE_SECONDS;
  const started = performance.now();
  const child = new Deno.Command("timeout", {
    args: [
      "--signal=KILL",
      String(hardCap),
      "qemu-system-x86_64",
      ...qemuArgs,
      "-pidfile",
      pidfile,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let serial = "";
  let stderr = "";
  let sawMarker = false;
  let exited = false;
  const status = child.status.then((value) => {
    exited = true;
    return value;
  });
  const stderrDone = (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  let stopped = false;
  const stop = () => {
    if (exited) return;
    stopped = true;
    try {
      child.kill("SIGTERM"); // `timeout` passes it on to QEMU
    } catch {
      // already gone
    }
  };
  let timer = setTimeout(stop, timeoutMs);
  let stdoutEnded = false;
  try {
    const stdoutDecoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      serial += stdoutDecoder.decode(chunk, { stream: true });
      if (!sawMarker && initReport(serial, options.marker)) {
        sawMarker = true;
        clearTimeout(timer);
        timer = setTimeout(stop, POWEROFF_GRACE_MS);
      }
    }
    stdoutEnded = true;
  } finally {
    clearTimeout(timer);
    // QEMU closing its stdout means it is exiting; only an error here leaves it running.
    if (!stdoutEnded) stop();
    const killed = setTimeout(() => {
      // QEMU ignored SIGTERM: kill it by its pid, then `timeout`.
      try {
        const pid = Number(Deno.readTextFileSync(pidfile).trim());
        if (pid > 0) Deno.kill(pid, "SIGKILL");
      } catch {
        // no pidfile yet or already gone
      }
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 10_000);
    await status;
    clearTimeout(killed);
    await stderrDone.catch(() => {});
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  const { code } = await status;
  const report = initReport(serial, options.marker);
  return {
    serial: stderr.trim() === "" ? serial : `${serial}\n[qemu stderr]\n${stderr}`,
    report,
    // `timeout` passes QEMU's own status through: 0 after the guest's ACPI power-off (and also
    // after QEMU's clean exit on our SIGTERM, hence `stopped`).
    poweredOff: report !== undefined && !stopped && code === 0,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

/**
 * Boots QEMU's own iPXE ROM (BIOS) with `bootUrl` as the DHCP boot file, the way xCAT's DHCP
 * hands an xNBA client `http://<next-server>/tftpboot/xcat/xnba/nodes/<node>`. iPXE runs that
 * script: its `${next-server}` is 10.0.2.2, the host.
 *
 * @example
 * ```ts
 * await using http = serveRoot(root);
 * const url = `http://10.0.2.2:${http.port}/tftpboot/xcat/xnba/nodes/cn01`;
 * const outcome = await bootIpxe(url, { marker });
 * ```
 */
export function bootIpxe(bootUrl: string, options: BootOptions): Promise<BootOutcome> {
  // QEMU's DHCP puts bootfile in the BOOTP file field (128 bytes): a longer URL is cut off.
  if (bootUrl.length >= 128) throw new Error(`boot URL too long for DHCP's file field: ${bootUrl}`);
  return runQemu(
    [
      ...machineArgs(options.memoryMiB),
      ...nicArgs(`bootfile=${bootUrl}`, options.mac ?? DEFAULT_MAC),
    ],
    options,
  );
}

/** Debian's pxelinux.0 and the ldlinux.c32 it loads next (packages pxelinux, syslinux-common). */
const PXELINUX_FILES = {
  "pxelinux.0": "/usr/lib/PXELINUX/pxelinux.0",
  "ldlinux.c32": "/usr/lib/syslinux/modules/bios/ldlinux.c32",
} as const;

/**
 * Copies Debian's pxelinux.0 and ldlinux.c32 into `tftpboot` (xCAT's nodeset copies pxelinux.0
 * to /tftpboot/pxelinux.0; pxelinux 6 fetches ldlinux.c32 from beside it).
 */
export function installPxelinux(tftpboot: string): void {
  for (const [name, source] of Object.entries(PXELINUX_FILES)) {
    if (!existsSync(source)) {
      throw new Error(`${source} is missing: apt-get install pxelinux syslinux-common`);
    }
    Deno.copyFileSync(source, `${tftpboot}/${name}`);
  }
}

/**
 * Boots pxelinux.0 over QEMU's built-in TFTP server rooted at `tftpboot` (QEMU's iPXE ROM is
 * the PXE stack pxelinux runs on). pxelinux then reads `pxelinux.cfg/01-<mac>`, then
 * `pxelinux.cfg/0A00020F` (the guest's 10.0.2.15) and shorter prefixes, then `default`.
 * Call {@linkcode installPxelinux} first.
 */
export function bootPxelinux(tftpboot: string, options: BootOptions): Promise<BootOutcome> {
  return runQemu(
    [
      ...machineArgs(),
      ...nicArgs(`tftp=${tftpboot},bootfile=pxelinux.0`, options.mac ?? DEFAULT_MAC),
    ],
    options,
  );
}

/** UEFI firmware from Debian's ovmf package: code (read-only) and the variable store template. */
const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/** Where xCAT keeps the grub2 network image and per-node configs, under /tftpboot. */
export const GRUB2_DIR = "boot/grub2";

/**
 * The modules built into the grub2 network image: the network stack (efinet, net, tftp, http),
 * the menu (normal, configfile, echo, test) and both kernel loaders (`linux` and Debian's
 * `linuxefi`, which xCAT's entries use on x86).
 */
const GRUB2_MODULES = [
  "efinet",
  "net",
  "tftp",
  "http",
  "normal",
  "configfile",
  "echo",
  "test",
  "linux",
  "linuxefi",
];

/**
 * Builds grub2's EFI network image with grub-mkimage (Debian's grub-efi-amd64-bin) into
 * `<tftpboot>/boot/grub2/grub2.x86_64`, where xCAT's nodeset expects it and links
 * `grub2-<node>` to it. Its prefix `/boot/grub2` takes the TFTP device it was loaded from, so
 * grub2 searches `(tftp,<server>)/boot/grub2/grub.cfg-01-<mac>`, then `grub.cfg-<HEXIP>` and
 * its shorter prefixes, then `grub.cfg`.
 */
export async function installGrub2Efi(tftpboot: string): Promise<string> {
  const dir = `${tftpboot}/${GRUB2_DIR}`;
  Deno.mkdirSync(dir, { recursive: true });
  const image = `${dir}/grub2.x86_64`;
  await sh([
    "grub-mkimage",
    "-O",
    "x86_64-efi",
    "-p",
    `/${GRUB2_DIR}`,
    "-o",
    image,
    ...GRUB2_MODULES,
  ]);
  return image;
}

/**
 * Boots UEFI firmware (OVMF) over QEMU's TFTP server rooted at `tftpboot`, with `bootfile`
 * (a path under it, like xCAT's DHCP filename `/boot/grub2/grub2-<node>`) as the DHCP boot
 * file. Call {@linkcode installGrub2Efi} first.
 */
export async function bootGrub2Efi(
  tftpboot: string,
  bootfile: string,
  options: BootOptions,
): Promise<BootOutcome> {
  for (const path of [OVMF_CODE, OVMF_VARS]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: apt-get install ovmf`);
  }
  // The firmware writes its variables (boot entries): each boot gets its own copy.
  const vars = await Deno.makeTempFile({ prefix: "osimg-ovmf-vars-" });
  try {
    Deno.copyFileSync(OVMF_VARS, vars);
    return await runQemu(
      [
        ...machineArgs(),
        "-drive",
        `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
        "-drive",
        `if=pflash,format=raw,unit=1,file=${vars}`,
        ...nicArgs(`tftp=${tftpboot},bootfile=${bootfile}`, options.mac ?? DEFAULT_MAC),
      ],
      options,
    );
  } finally {
    await Deno.remove(vars).catch(() => {});
  }
}
