import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { distroOf } from "./distros.ts";
import { findProvmethod, PROVMETHODS } from "./provmethods.ts";

Deno.test("osvers maps to xCAT's platform directory, first match wins", () => {
  const platform = (osvers: string) => distroOf(osvers)?.platform;
  assertEquals(platform("rhels9.2"), "rh");
  assertEquals(platform("rocky9.3"), "rocky");
  assertEquals(platform("alma8.9"), "alma");
  assertEquals(platform("sles15.5"), "sles");
  assertEquals(platform("ubuntu22.04.3"), "ubuntu");
  assertEquals(platform("debian12"), "debian");
  assertEquals(distroOf("rocky9.3")?.family, "rhel");
  assertEquals(platform("plan9"), undefined);
});

Deno.test("provmethods say what their images hold", () => {
  assertEquals(PROVMETHODS.map((method) => method.name), [
    "install",
    "netboot",
    "statelite",
    "sysclone",
  ]);
  assertEquals(findProvmethod("netboot")?.packable, true);
  assertEquals(findProvmethod("statelite")?.packable, false);
  assertEquals(findProvmethod(" statelite ")?.statelite, true);
  assertEquals(findProvmethod("install")?.profileDir, "install");
  assertEquals(findProvmethod("rhels9-x86_64-netboot-compute"), undefined);
});
