import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { elfDependencies } from "./elf.ts";

// The test reads the host's own programs: real ELF files written by a real linker.
Deno.test("elfDependencies reads the loader and libraries of a dynamically linked program", () => {
  const deps = elfDependencies(Deno.readFileSync("/usr/bin/ls"), "/usr/bin/ls");
  assertEquals(deps.interpreter, "/lib64/ld-linux-x86-64.so.2");
  ok(deps.needed.includes("libc.so.6"), deps.needed.join(" "));
  ok(deps.needed.includes("libselinux.so.1"), deps.needed.join(" "));
});

Deno.test("elfDependencies finds nothing to load for a static program", () => {
  const path = ["/usr/bin/busybox", "/bin/busybox"].find((candidate) => {
    try {
      return Deno.statSync(candidate).isFile;
    } catch {
      return false;
    }
  });
  ok(path, "busybox-static is installed");
  assertEquals(elfDependencies(Deno.readFileSync(path), path), { needed: [] });
});

Deno.test("elfDependencies refuses a file that is not ELF, or whose headers point past its end", () => {
  throws(
    () => elfDependencies(new TextEncoder().encode("#!/bin/sh\necho hi\n".padEnd(64)), "/init"),
    /\/init is not a usable ELF file: no ELF magic/,
  );
  const truncated = Deno.readFileSync("/usr/bin/ls").slice(0, 100);
  throws(
    () => elfDependencies(truncated, "ls"),
    /ls is not a usable ELF file: program header \d+ is past the end/,
  );
});
