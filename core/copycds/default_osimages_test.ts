import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { osSearchList, platformOf, profileFileMatches } from "./default_osimages.ts";

Deno.test("osSearchList counts the last version part down, as xCAT's get_os_search_list", () => {
  assertEquals(osSearchList("rhels9.2"), ["rhels9.2", "rhels9.1", "rhels9.0", "rhels9"]);
  assertEquals(osSearchList("ubuntu22.04.1"), [
    "ubuntu22.04.1",
    "ubuntu22.04.0",
    "ubuntu22.04",
  ]);
  assertEquals(osSearchList("rhels8.1.0"), [
    "rhels8.1.0",
    "rhels8.1",
    "rhels8.0",
    "rhels8",
  ]);
  assertEquals(osSearchList("centos-stream9"), ["centos"]);
  assertEquals(osSearchList("rocky9"), ["rocky9"]);
});

Deno.test("profileFileMatches keeps files of this release and arch, drops the others", () => {
  const matches = (name: string) => profileFileMatches(name, "rhels9.2", "rhels9", "x86_64");
  assertEquals(matches("compute.tmpl"), true);
  assertEquals(matches("compute.rhels9.tmpl"), true);
  assertEquals(matches("compute.rhels9.x86_64.pkglist"), true);
  assertEquals(matches("compute.x86_64.pkglist"), true);
  assertEquals(matches("compute.rhels8.tmpl"), false);
  assertEquals(matches("compute.rhels9.ppc64le.pkglist"), false);
  assertEquals(matches("service.rhels9.x86_64.otherpkgs.pkglist"), true);
});

Deno.test("platformOf chops the osvers down to a platform directory", () => {
  const platforms = new Set(["rh", "centos", "sle", "ubuntu", "ol"]);
  assertEquals(platformOf("rhels9.2", platforms), "rh");
  assertEquals(platformOf("centos-stream9", platforms), "centos");
  assertEquals(platformOf("sle15.5", platforms), "sle");
  assertEquals(platformOf("ol9.2", platforms), "ol");
  assertEquals(platformOf("plan9", platforms), undefined);
});
