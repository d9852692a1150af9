import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  leapIdentity,
  parseSuseContent,
  parseSuseMedia,
  parseSuseProducts,
  sle15Identity,
  sleContentIdentity,
} from "./suse_products.ts";

const sle = (identity: string) => sle15Identity(parseSuseMedia(`${identity}\n20230516-0\n1\n`));

Deno.test("a SLE 15 Full disc is slot 1 and serves slot 2; Installer 1, Packages 2", () => {
  assertEquals(sle("SLE-15-SP5-Full-x86_64-GM-Media1"), {
    distname: "sle15.5",
    arch: "x86_64",
    discno: "1",
    alsoServes: ["2"],
  });
  assertEquals(sle("SLE-15-Installer-DVD-aarch64-GM-DVD1")?.discno, "1");
  assertEquals(sle("SLE-15-Installer-DVD-aarch64-GM-DVD1")?.distname, "sle15");
  assertEquals(sle("SLE-15-SP1-Packages-ppc64le-GM-DVD1")?.discno, "2");
  assertEquals(sle("SLE-15-SP1-Packages-ppc64le-GM-DVD1")?.arch, "ppc64le");
});

Deno.test("a second medium of a SLE 15 set gets its own slot instead of overwriting the first", () => {
  assertEquals(sle("SLE-15-SP4-Packages-x86_64-GM-Media2")?.discno, "packages2");
  assertEquals(sle("SLE-15-SP4-Installer-x86_64-GM-Media2")?.discno, "installer2");
});

Deno.test("media that is not SLE 15 names nothing", () => {
  assertEquals(sle("openSUSE - openSUSE-Tumbleweed"), undefined);
  assertEquals(sle("SLE-15-SP5-Online-x86_64-GM-Media1"), undefined);
});

Deno.test("parseSuseProducts reads directory, name and version", () => {
  assertEquals(parseSuseProducts("/Product-SLES SLES 15.5-0\n\n/ sle-module 15.5-0\n"), [
    { directory: "/Product-SLES", name: "SLES", version: "15.5-0" },
    { directory: "/", name: "sle-module", version: "15.5-0" },
  ]);
});

Deno.test("an SLES 12 content file names sles12.3 from VERSION, or from DISTRO", () => {
  const products = parseSuseProducts("/ SUSE-Linux-Enterprise-Server 12.3-0\n");
  assertEquals(
    sleContentIdentity(parseSuseContent("VERSION 12.3\nDEFAULTBASE x86_64\n"), products, "1"),
    { distname: "sles12.3", arch: "x86_64", discno: "1", alsoServes: [] },
  );
  assertEquals(
    sleContentIdentity(
      parseSuseContent(
        "DISTRO cpe:/o:suse:sles:12:sp3,SUSE Linux Enterprise Server 12 SP3\nBASEARCHS ppc64le\n",
      ),
      products,
      "1",
    )?.distname,
    "sles12.3",
  );
  assertEquals(sleContentIdentity(parseSuseContent("VERSION 12\n"), products, "1"), undefined);
});

Deno.test("openSUSE Leap 15 is named from .treeinfo or media.1", () => {
  assertEquals(leapIdentity({ name: "openSUSE Leap", version: "15.5", arch: "x86_64" }), {
    distname: "leap15.5",
    arch: "x86_64",
    discno: "1",
    alsoServes: [],
  });
  assertEquals(
    leapIdentity({}, { identity: "openSUSE - openSUSE-Leap-15.6-DVD-aarch64", products: "" })
      ?.distname,
    "leap15.6",
  );
  assertEquals(leapIdentity({ name: "openSUSE Leap", version: "16.0" }), undefined);
});
