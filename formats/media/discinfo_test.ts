import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { discinfoDistname, parseDiscinfo } from "./discinfo.ts";

const named = (description: string, treeinfo = {}, timestamp = "1.0") =>
  discinfoDistname(parseDiscinfo(`${timestamp}\n${description}\nx86_64\nALL\n`), treeinfo);

Deno.test("parseDiscinfo reads the four lines; missing ones are empty", () => {
  assertEquals(parseDiscinfo("1681421276.520925\r\nRed Hat Enterprise Linux 9.2 \nx86_64\n"), {
    timestamp: "1681421276.520925",
    description: "Red Hat Enterprise Linux 9.2",
    arch: "x86_64",
    discNumbers: "",
  });
});

Deno.test("a known timestamp names the disc from xCAT's table, whatever the description", () => {
  assertEquals(named("anything", {}, "1650472728.682141"), "rhels8.6.0");
  assertEquals(named("Rocky Linux 9.2", {}, "1683907016.7470503"), "rocky9.2");
});

Deno.test("description rules name CentOS, CentOS Stream, Rocky, Alma, RHEL, Oracle, Fedora", () => {
  assertEquals(named("CentOS Linux 8"), "centos8");
  assertEquals(named("CentOS Stream 9"), "centos-stream9");
  assertEquals(named("Rocky Linux 9.4"), "rocky9.4");
  assertEquals(named("AlmaLinux 9.4"), "alma9.4");
  assertEquals(named("Red Hat Enterprise Linux 9.4"), "rhels9.4");
  // More than five words: the fifth joins the name, except "alternate" (ppc64le discs of EL7).
  assertEquals(named("Red Hat Enterprise Linux Server 7.6"), "rhels7.6-server");
  assertEquals(named("Red Hat Enterprise Linux Alternate 7.6"), "rhels7.6");
  assertEquals(named("Oracle Linux 9.2"), "ol9.2");
  assertEquals(named("OL-8.10.0"), "ol8.10");
  assertEquals(named("Fedora 39"), "fedora39");
  assertEquals(named("Red Hat Enterprise Linux 7.9", { variant: "ComputeNode" }), "rhelhpc7.9");
});

Deno.test("a bare version number is named by the .treeinfo family (old CentOS, Rocky, Alma)", () => {
  assertEquals(named("8.5", { family: "CentOS Linux" }), "centos8.5");
  assertEquals(named("8.5", { family: "Rocky Linux" }), "rocky8.5");
  assertEquals(named("8.5", {}), undefined);
});

Deno.test("an unknown description names nothing", () => {
  assertEquals(named("Some Other Linux 1.0"), undefined);
  assertEquals(named(""), undefined);
});
