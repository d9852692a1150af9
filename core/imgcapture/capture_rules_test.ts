// What imgcapture leaves out and how it rewrites the files it generalises.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  DEFAULT_CAPTURE_RULES,
  exlistPatternToRsync,
  exlistToRsyncRules,
  generaliseFstab,
  generaliseHosts,
  generaliseInterfaces,
  literalRsyncPattern,
  SCRUB_RULES,
  scrubGlobToRsync,
  scrubPasswordHashes,
} from "./capture_rules.ts";
import { run, runTool } from "../../testdata/support/process.ts";

Deno.test("exlist patterns become anchored rsync patterns; find's * spans directories as rsync's ** does", () => {
  assertEquals(exlistPatternToRsync("./tmp/*"), "/tmp/**");
  assertEquals(exlistPatternToRsync("./usr/share/man*"), "/usr/share/man**");
  assertEquals(exlistPatternToRsync("*.pyc"), "/**.pyc");
  assertEquals(exlistPatternToRsync("./etc/ssh/ssh_host_[!r]*"), "/etc/ssh/ssh_host_[^r]**");
  assertEquals(exlistPatternToRsync("./a\\*b"), "/a\\*b");
  // find -path never matches these against ./paths: nothing to exclude.
  assertEquals(exlistPatternToRsync("tmp/*"), undefined);
  assertEquals(exlistPatternToRsync("./"), undefined);
});

Deno.test("an exlist's + lines come before its exclusions; unmatchable patterns are reported apart", () => {
  const { rules, unmatchable } = exlistToRsyncRules({
    excludes: ["./var/log/*", "var/tmp/*"],
    includes: ["./var/log/keep*"],
  });
  assertEquals(rules, ["+ /var/log/keep**", "- /var/log/**"]);
  assertEquals(unmatchable, ["var/tmp/*"]);
});

/** The paths rsync would copy from `tree` with `rules` (a real rsync --dry-run). */
async function selected(tree: Record<string, string>, rules: readonly string[]): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "osimg-rules-" });
  try {
    for (const [path, content] of Object.entries(tree)) {
      await Deno.mkdir(`${dir}/src${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      if (path.endsWith("/")) continue;
      await Deno.writeTextFile(`${dir}/src${path}`, content);
    }
    await Deno.writeTextFile(`${dir}/rules`, rules.join("\n") + "\n");
    const out = new TextDecoder().decode(
      await run([
        "rsync",
        "-a",
        "--dry-run",
        "--out-format=%n",
        `--filter=merge ${dir}/rules`,
        `${dir}/src/`,
        `${dir}/dst/`,
      ]),
    );
    return out.split("\n").filter((line) => line !== "" && line !== "./").map((line) => `/${line}`)
      .sort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the default rules, run by rsync itself: pseudo file systems, temp, caches and logs emptied, their directories kept", async () => {
  const copied = await selected({
    "/proc/1/stat": "x",
    "/tmp/junk": "x",
    "/var/tmp/junk": "x",
    "/var/log/syslog": "x",
    "/var/log/apt/history.log": "x",
    "/var/cache/apt/archives/partial/x.deb": "x",
    "/var/cache/apt/pkgcache.bin": "x",
    "/install/netboot/x": "x",
    "/swapfile": "x",
    "/etc/passwd": "x",
    "/usr/bin/tool": "x",
  }, DEFAULT_CAPTURE_RULES);
  assertEquals(copied, [
    "/etc/",
    "/etc/passwd",
    "/install/",
    "/proc/",
    "/tmp/",
    "/usr/",
    "/usr/bin/",
    "/usr/bin/tool",
    "/var/",
    "/var/cache/",
    "/var/cache/apt/",
    "/var/cache/apt/archives/",
    "/var/cache/apt/archives/partial/",
    "/var/log/",
    "/var/log/apt/",
    "/var/tmp/",
  ]);
});

Deno.test("the scrub globs, run by rsync itself, leave out keys, seeds, leases and connections but not their neighbours", async () => {
  const rules = SCRUB_RULES.flatMap((rule) =>
    rule.globs.map((glob) => `- ${scrubGlobToRsync(glob)}`)
  );
  const copied = await selected({
    "/etc/ssh/ssh_host_ed25519_key": "k",
    "/etc/ssh/ssh_host_ed25519_key.pub": "k",
    "/etc/ssh/sshd_config": "c",
    "/etc/machine-id": "m",
    "/var/lib/systemd/random-seed": "s",
    "/var/lib/dhcp/dhclient.ens3.leases": "l",
    "/etc/sysconfig/network-scripts/ifcfg-eth0": "i",
    "/etc/sysconfig/network-scripts/ifcfg-lo": "i",
    "/etc/NetworkManager/system-connections/wired.nmconnection": "n",
    "/etc/shadow-": "h",
  }, rules);
  ok(!copied.includes("/etc/ssh/ssh_host_ed25519_key"), copied.join("\n"));
  ok(!copied.includes("/etc/ssh/ssh_host_ed25519_key.pub"));
  ok(copied.includes("/etc/ssh/sshd_config"));
  ok(!copied.includes("/etc/machine-id"));
  ok(!copied.includes("/var/lib/systemd/random-seed"));
  ok(!copied.includes("/var/lib/dhcp/dhclient.ens3.leases"));
  ok(!copied.includes("/etc/sysconfig/network-scripts/ifcfg-eth0"));
  ok(copied.includes("/etc/sysconfig/network-scripts/ifcfg-lo"));
  ok(!copied.includes("/etc/NetworkManager/system-connections/wired.nmconnection"));
  ok(!copied.includes("/etc/shadow-"));
});

Deno.test("a literal rsync pattern quotes wildcards: a swap file named *swap* excludes only itself", async () => {
  assertEquals(literalRsyncPattern("/data/[x]*?.swap"), "/data/\\[x]\\*\\?.swap");
  const copied = await selected({ "/a*b": "x", "/aXb": "y" }, [`- ${literalRsyncPattern("/a*b")}`]);
  assertEquals(copied, ["/aXb"]);
  const { code } = await runTool("rsync", ["--version"]);
  assertEquals(code, 0);
});

Deno.test("password hashes are replaced by * (or ! for a locked account); empty and locked fields stay", () => {
  const shadow = [
    "root:$6$salt$abcdef:19000:0:99999:7:::",
    "daemon:*:19000:0:99999:7:::",
    "locked:!$y$j9T$hash:19000:0:99999:7:::",
    "nopass::19000:0:99999:7:::",
    "never:!!:19000::::::",
    "",
  ].join("\n");
  const result = scrubPasswordHashes(shadow);
  assertEquals(result.removed, 2);
  assertEquals(
    result.text,
    [
      "root:*:19000:0:99999:7:::",
      "daemon:*:19000:0:99999:7:::",
      "locked:!:19000:0:99999:7:::",
      "nopass::19000:0:99999:7:::",
      "never:!!:19000::::::",
      "",
    ].join("\n"),
  );
  assertEquals(scrubPasswordHashes("adm:$6$x$y::root\n").text, "adm:*::root\n");
});

Deno.test("fstab: local-disk entries and the old / are commented out, memory and network mounts kept, / becomes tmpfs", () => {
  const result = generaliseFstab(
    [
      "# comment",
      "UUID=abc / ext4 errors=remount-ro 0 1",
      "/dev/sda2 none swap sw 0 0",
      "mgmt:/home /home nfs defaults 0 0",
      "tmpfs /scratch tmpfs size=1g 0 0",
      "",
    ].join("\n"),
    "compute_x86_64",
  );
  assertEquals(result.disabled, ["/ (UUID=abc ext4)", "none (/dev/sda2 swap)"]);
  assertEquals(
    result.text,
    [
      "# comment",
      "#osimg-imgcapture# UUID=abc / ext4 errors=remount-ro 0 1",
      "#osimg-imgcapture# /dev/sda2 none swap sw 0 0",
      "mgmt:/home /home nfs defaults 0 0",
      "tmpfs /scratch tmpfs size=1g 0 0",
      "compute_x86_64 / tmpfs rw 0 0",
      "",
    ].join("\n"),
  );
});

Deno.test("interfaces: only lo and source lines stay; -i declares the boot interface manual", () => {
  const text = [
    "source /etc/network/interfaces.d/*",
    "",
    "auto lo ens3",
    "iface lo inet loopback",
    "",
    "allow-hotplug ens4",
    "iface ens3 inet static",
    "    address 10.0.7.21/16",
    "iface ens4 inet dhcp",
    "",
  ].join("\n");
  const result = generaliseInterfaces(text, "ens3");
  assertEquals(result.dropped.sort(), ["ens3", "ens4"]);
  assertEquals(
    result.text,
    [
      "source /etc/network/interfaces.d/*",
      "",
      "auto lo",
      "iface lo inet loopback",
      "",
      "# The initrd configured the boot interface (osimg imgcapture -i).",
      "iface ens3 inet manual",
      "",
    ].join("\n"),
  );
  ok(!generaliseInterfaces(text).text.includes("ens3"));
});

Deno.test("hosts: the golden node's own name on a 127.x line goes, localhost and other hosts stay", () => {
  const result = generaliseHosts(
    "127.0.0.1 localhost\n127.0.1.1 golden.cluster golden\n10.0.0.1 mgmt\n",
    "golden",
  );
  assertEquals(result, { text: "127.0.0.1 localhost\n10.0.0.1 mgmt\n", removed: 1 });
  assertEquals(generaliseHosts("127.0.1.1 other\n", "golden").removed, 0);
});
