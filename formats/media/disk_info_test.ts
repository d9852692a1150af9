import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { debianArchToXcat, diskdefinesDiscNumber, diskInfoIdentity } from "./disk_info.ts";

Deno.test("Ubuntu LTS discs: the version is word 2 and the arch word 8", () => {
  assertEquals(
    diskInfoIdentity('Ubuntu-Server 22.04.3 LTS "Jammy Jellyfish" - Release amd64 (20230810)\n'),
    {
      product: "Ubuntu-Server",
      distname: "ubuntu22.04.3",
      debianArch: "amd64",
      discno: "",
      netinst: false,
    },
  );
  assertEquals(
    diskInfoIdentity('Ubuntu 24.04 LTS "Noble Numbat" - Release arm64 (20240423)')?.debianArch,
    "arm64",
  );
});

Deno.test("Ubuntu non-LTS discs: the arch is word 7", () => {
  assertEquals(
    diskInfoIdentity('Ubuntu-Server 23.10 "Mantic Minotaur" - Release amd64 (20231011)')
      ?.debianArch,
    "amd64",
  );
});

Deno.test("Debian discs: version word 3, arch word 7, disc number from Binary-N", () => {
  const dvd = diskInfoIdentity(
    'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 DVD Binary-1 with firmware 20240210-11:28',
  );
  assertEquals(dvd?.distname, "debian12.5.0");
  assertEquals(dvd?.discno, "1");
  const netinst = diskInfoIdentity(
    'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST with firmware 20240210-11:27',
  );
  assertEquals(netinst?.netinst, true);
  assertEquals(netinst?.discno, "1");
});

Deno.test("other .disk/info lines and short lines name nothing", () => {
  assertEquals(diskInfoIdentity("Linux Mint 21.3 Virginia - Release amd64 20240108"), undefined);
  assertEquals(diskInfoIdentity("Ubuntu 22.04"), undefined);
  assertEquals(diskInfoIdentity(""), undefined);
});

Deno.test("Debian architectures in xCAT's spelling; DISKNUM from README.diskdefines", () => {
  assertEquals(debianArchToXcat("amd64"), "x86_64");
  assertEquals(debianArchToXcat("i386"), "x86");
  assertEquals(debianArchToXcat("ppc64el"), "ppc64el");
  assertEquals(debianArchToXcat("powerpc"), "ppc64");
  assertEquals(debianArchToXcat("arm64"), "arm64");
  assertEquals(diskdefinesDiscNumber("#define ARCH  amd64\n#define DISKNUM  1\n"), "1");
  assertEquals(diskdefinesDiscNumber("#define ARCH amd64\n"), "");
});
