// Which running systems an osvers names.

import { ok } from "node:assert/strict";
import { describeOsRelease, osReleaseMatches } from "./os_release.ts";

Deno.test("os-release matching: the distro's ID and the versions osvers gives", () => {
  ok(osReleaseMatches("debian12", { ID: "debian", VERSION_ID: "12" }));
  ok(!osReleaseMatches("debian12", { ID: "debian", VERSION_ID: "11" }));
  ok(!osReleaseMatches("debian12", { ID: "ubuntu", VERSION_ID: "12.04" }));
  ok(osReleaseMatches("rhels9", { ID: "rhel", VERSION_ID: "9.3" }));
  ok(osReleaseMatches("rhels9.3", { ID: "rhel", VERSION_ID: "9.3" }));
  ok(!osReleaseMatches("rhels9.2", { ID: "rhel", VERSION_ID: "9.3" }));
  ok(!osReleaseMatches("rhels9.2", { ID: "rocky", VERSION_ID: "9.2" }));
  ok(osReleaseMatches("rocky9.2", { ID: "rocky", VERSION_ID: "9.2" }));
  ok(osReleaseMatches("alma8", { ID: "almalinux", VERSION_ID: "8.10" }));
  ok(osReleaseMatches("ubuntu22.04", { ID: "ubuntu", VERSION_ID: "22.04" }));
  ok(osReleaseMatches("sles15sp5", { ID: "sles", VERSION_ID: "15.5" }));
  ok(osReleaseMatches("sles15.5", { ID: "sles", VERSION_ID: "15-SP5" }));
  // A site's own osvers naming no known distro cannot be checked.
  ok(osReleaseMatches("mydistro1", { ID: "whatever" }));
  ok(describeOsRelease({ ID: "debian", VERSION_ID: "12" }) === "debian 12");
});
