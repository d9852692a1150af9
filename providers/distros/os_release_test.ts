// Which running systems an osvers names.

import { ok, strictEqual } from "node:assert/strict";
import { describeOsRelease, osReleaseMatches, osversOfRelease } from "./os_release.ts";

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

Deno.test("osversOfRelease names a running system as xCAT's osvers, or nothing when it cannot", () => {
  strictEqual(osversOfRelease({ ID: "debian", VERSION_ID: "12" }), "debian12");
  strictEqual(osversOfRelease({ ID: "rhel", VERSION_ID: "9.3" }), "rhels9.3");
  strictEqual(osversOfRelease({ ID: "rocky", VERSION_ID: "8.10" }), "rocky8.10");
  strictEqual(osversOfRelease({ ID: "almalinux", VERSION_ID: "9.4" }), "alma9.4");
  strictEqual(osversOfRelease({ ID: "sles", VERSION_ID: "15-SP5" }), "sles15.5");
  strictEqual(osversOfRelease({ ID: "ubuntu", VERSION_ID: "22.04" }), "ubuntu22.04");
  strictEqual(osversOfRelease({ ID: "arch" }), undefined);
  strictEqual(osversOfRelease({ ID: "debian" }), undefined);
  // What it names is what the node check accepts.
  ok(osReleaseMatches("rhels9.3", { ID: "rhel", VERSION_ID: "9.3" }));
  ok(osReleaseMatches("sles15.5", { ID: "sles", VERSION_ID: "15-SP5" }));
});
