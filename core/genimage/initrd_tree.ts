// The members of an osimg initrd (netboot or sysclone deploy): programs taken from an image with their libraries, modules, scripts, written as one reproducible gzip'd cpio.

import { posix } from "node:path";
import { bytesContent, type Entry, type EntryMeta } from "../../formats/archive/entry.ts";
import { cpioStream } from "../../formats/archive/cpio_newc.ts";
import { elfDependencies } from "../../formats/linux/elf.ts";
import { compressToFile } from "../compress/compress.ts";
import { NotFoundError } from "../errors.ts";
import type { ProcessRunner } from "../process.ts";
import { resolveInRoot } from "../tree/root_path.ts";
import { UDHCPC_SCRIPT } from "./netboot_init_script.ts";

/** Where a busybox may live in an image, most usual first. */
export const BUSYBOX_PATHS = [
  "/usr/bin/busybox",
  "/bin/busybox",
  "/usr/sbin/busybox",
  "/sbin/busybox",
];

/**
 * Directories the dynamic loader searches by default on the distributions osimg builds
 * (glibc's multiarch and lib64 layouts); libraries are looked up here inside the image.
 */
const LIBRARY_DIRECTORIES = [
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib/powerpc64le-linux-gnu",
  "/usr/lib/powerpc64le-linux-gnu",
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
];

/** The first of `candidates` (absolute paths inside the image) that is a file there. */
export async function findInImage(
  rootimg: string,
  candidates: readonly string[],
): Promise<{ path: string; host: string } | undefined> {
  for (const path of candidates) {
    const host = await resolveInRoot(rootimg, path);
    if (host && (await Deno.stat(host)).isFile) return { path, host };
  }
  return undefined;
}

/**
 * An initrd being assembled: every member owned by root with one mtime, written sorted, so the
 * same inputs give the same bytes. Programs come from `image` (a root on this host) with their
 * loader and libraries; errors name the initrd as `name` says ("the netboot initrd").
 *
 * @example
 * ```ts
 * const initrd = new InitrdTree(rootimg, "the netboot initrd", mtime, ["newroot"]);
 * await initrd.addBusybox("add busybox to its pkglist and run genimage again");
 * initrd.addFile("init", new TextEncoder().encode(script), 0o755);
 * await initrd.write(runner, "/install/.../initrd-stateless.gz", 9);
 * ```
 */
export class InitrdTree {
  readonly #members = new Map<string, Entry>();

  constructor(
    readonly image: string,
    readonly name: string,
    readonly mtime: number,
    directories: readonly string[],
  ) {
    for (const dir of ["dev", "proc", "sys", "run", "tmp", ...directories]) {
      this.#addParents(`${dir}/.`);
    }
    // The kernel opens /dev/console for init before anything is mounted: without the node, init
    // runs with no stdout and its messages are lost.
    this.#members.set("dev/console", {
      ...this.#meta("dev/console", 0o600),
      kind: "chardev",
      devmajor: 5,
      devminor: 1,
    });
  }

  has(path: string): boolean {
    return this.#members.has(path);
  }

  addFile(path: string, bytes: Uint8Array, mode: number): void {
    this.#addParents(path);
    this.#members.set(path, {
      ...this.#meta(path, mode),
      kind: "file",
      content: bytesContent(bytes),
    });
  }

  addText(path: string, text: string, mode = 0o644): void {
    this.addFile(path, new TextEncoder().encode(text), mode);
  }

  /**
   * The image's busybox as /bin/busybox, and /bin/sh: the kernel execs /init by its "#!/bin/sh"
   * line before busybox has installed its applets. `remedy` ends the error when there is none.
   */
  async addBusybox(remedy: string): Promise<void> {
    const busybox = await findInImage(this.image, BUSYBOX_PATHS);
    if (!busybox) {
      throw new NotFoundError(
        `Cannot build ${this.name}: the image ${this.image} has no busybox ` +
          `(looked for ${BUSYBOX_PATHS.join(", ")}); ${remedy}`,
      );
    }
    await this.addProgram(busybox.host, "bin/busybox");
    this.#members.set("bin/sh", {
      ...this.#meta("bin/sh", 0o777),
      kind: "symlink",
      target: "busybox",
    });
  }

  /** The DHCP client's script both inits give busybox udhcpc. */
  addUdhcpcScript(): void {
    this.addText("etc/osimg/udhcpc.script", UDHCPC_SCRIPT, 0o755);
  }

  /** Adds a program and, when it is dynamically linked, its loader and libraries from the image. */
  async addProgram(host: string, path: string): Promise<void> {
    const pending = [{ host, path }];
    while (pending.length > 0) {
      const next = pending.shift()!;
      if (this.#members.has(next.path)) continue;
      const bytes = await Deno.readFile(next.host);
      this.addFile(next.path, bytes, 0o755);
      const dependencies = elfDependencies(bytes, next.host);
      if (dependencies.interpreter) {
        const loader = await resolveInRoot(this.image, dependencies.interpreter);
        if (!loader) {
          throw new NotFoundError(
            `Cannot build ${this.name}: ${next.path} needs the loader ${dependencies.interpreter}, ` +
              `which the image does not have`,
          );
        }
        pending.push({ host: loader, path: dependencies.interpreter.slice(1) });
      }
      for (const soname of dependencies.needed) {
        const found = await findInImage(
          this.image,
          LIBRARY_DIRECTORIES.map((dir) => `${dir}/${soname}`),
        );
        if (!found) {
          throw new NotFoundError(
            `Cannot build ${this.name}: ${next.path} needs ${soname}, which the image does not have`,
          );
        }
        pending.push({ host: found.host, path: found.path.slice(1) });
      }
    }
  }

  /** Writes the initrd to `output`: gzip'd cpio newc at `level`; its size in bytes. */
  async write(runner: ProcessRunner, output: string, level: number): Promise<number> {
    const sorted = [...this.#members.keys()].sort().map((path) => this.#members.get(path)!);
    return await compressToFile(runner, "gzip", cpioStream(sorted), output, { level });
  }

  #meta(path: string, mode: number): EntryMeta {
    return {
      path,
      mode,
      uid: 0,
      gid: 0,
      uname: "root",
      gname: "root",
      mtime: this.mtime,
      xattrs: new Map(),
    };
  }

  #addParents(path: string): void {
    for (let dir = posix.dirname(path); dir !== "."; dir = posix.dirname(dir)) {
      if (!this.#members.has(dir)) {
        this.#members.set(dir, { ...this.#meta(dir, 0o755), kind: "dir" });
      }
    }
  }
}
