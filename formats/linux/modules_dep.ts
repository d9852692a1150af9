// modules.dep (depmod's output): which kernel module files a driver needs, in load order.

import { InvalidInputError } from "../../core/errors.ts";

/** One module of modules.dep: its file (relative to /lib/modules/<kver>) and direct dependencies. */
export interface KernelModule {
  /** The module's name as modprobe knows it: the file's base name without .ko*, "-" as "_". */
  name: string;
  /** Path relative to the kernel's module directory ("kernel/drivers/net/virtio_net.ko"). */
  path: string;
  /** Paths of the modules it needs, as modules.dep lists them. */
  needs: string[];
}

/** A module's name from its file: "kernel/fs/fuse/cuse.ko.xz" → "cuse"; dashes become "_". */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(xz|gz|zst))?$/, "").replaceAll("-", "_");
}

/**
 * Parses modules.dep: one `path: dep dep ...` line per module. Returns modules by name.
 *
 * @example
 * ```ts
 * const modules = parseModulesDep("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n");
 * modules.get("a")?.needs; // ["kernel/b.ko"]
 * ```
 */
export function parseModulesDep(text: string): Map<string, KernelModule> {
  const modules = new Map<string, KernelModule>();
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new InvalidInputError(`modules.dep line ${index + 1} has no "module:" part: ${line}`);
    }
    const path = line.slice(0, colon).trim();
    const needs = line.slice(colon + 1).trim().split(/\s+/).filter((part) => part !== "");
    modules.set(moduleName(path), { name: moduleName(path), path, needs });
  }
  return modules;
}

/**
 * The files to load for `names`, each after everything it needs, each once. Names are matched as
 * modprobe matches them ("virtio-net" is "virtio_net"). A name that is not a module is reported
 * in `missing` (it may be built into the kernel: the caller checks modules.builtin).
 */
export function moduleLoadOrder(
  modules: ReadonlyMap<string, KernelModule>,
  names: readonly string[],
): { paths: string[]; missing: string[] } {
  const byPath = new Map([...modules.values()].map((module) => [module.path, module]));
  const paths: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (module: KernelModule) => {
    if (done.has(module.path) || visiting.has(module.path)) return;
    visiting.add(module.path);
    for (const need of module.needs) {
      const dependency = byPath.get(need);
      if (!dependency) {
        throw new InvalidInputError(
          `modules.dep says ${module.path} needs ${need}, which modules.dep does not list`,
        );
      }
      visit(dependency);
    }
    visiting.delete(module.path);
    done.add(module.path);
    paths.push(module.path);
  };
  const missing: string[] = [];
  for (const name of names) {
    const module = modules.get(name.replaceAll("-", "_"));
    if (module) visit(module);
    else missing.push(name);
  }
  return { paths, missing };
}

/** Names of the modules listed in modules.builtin (compiled into the kernel). */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(
    text.split("\n").filter((line) => line.trim() !== "").map((line) => moduleName(line.trim())),
  );
}
