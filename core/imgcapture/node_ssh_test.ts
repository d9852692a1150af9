// ssh's options, the probe (run by a real sh) and ssh's failures as messages.

import { deepStrictEqual as assertEquals, ok, strictEqual } from "node:assert/strict";
import { parseProbe, probeScript, rsyncShell, sshFailure, sshOptions } from "./node_ssh.ts";
import { run } from "../../testdata/support/process.ts";

const TARGET = {
  node: "cn01",
  ip: "198.51.100.2",
  knownHosts: "/r/etc/xcat/osimg/ssh_known_hosts",
};

Deno.test("ssh options: batch mode, first-contact keys into osimg's own known_hosts only, the key given", () => {
  const options = sshOptions({ ...TARGET, key: "/keys/id" });
  for (
    const option of [
      "BatchMode=yes",
      "StrictHostKeyChecking=accept-new",
      "UserKnownHostsFile=/r/etc/xcat/osimg/ssh_known_hosts",
      "GlobalKnownHostsFile=/dev/null",
      "IdentitiesOnly=yes",
    ]
  ) ok(options.includes(option), option);
  ok(options.join(" ").includes("-i /keys/id -l root"));
  ok(!sshOptions(TARGET).includes("-i"), "ssh's own default keys without --ssh-key");
  // rsync splits -e itself: a path with a space stays one word.
  ok(
    rsyncShell({ ...TARGET, knownHosts: "/a b/known" }).includes("'UserKnownHostsFile=/a b/known'"),
  );
});

Deno.test("the probe, run by sh on this machine, reads os-release, arch, root fs type, rsync and scrub paths", async () => {
  const output = new TextDecoder().decode(
    await run(["sh", "-s"], { stdin: new TextEncoder().encode(probeScript()) }),
  );
  const facts = parseProbe(output);
  strictEqual(facts.machine, new TextDecoder().decode(await run(["uname", "-m"])).trim());
  ok(facts.osRelease.ID, JSON.stringify(facts.osRelease));
  ok(facts.rootFsType !== "", output);
  strictEqual(facts.rsync, "/usr/bin/rsync");
  ok(Array.isArray(facts.swapFiles));
  ok(facts.packages.includes("rsync"), "dpkg's list of this machine");
});

Deno.test("parseProbe: sections, quotes stripped, scrub paths grouped by rule", () => {
  const S = "@@osimg-imgcapture@@";
  const facts = parseProbe(
    [
      'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"',
      "x86_64",
      "ext2/ext3",
      "/usr/bin/rsync",
      "/swapfile",
      "golden",
      "ssh-host-keys /etc/ssh/ssh_host_rsa_key\nssh-host-keys /etc/ssh/ssh_host_rsa_key.pub\nmachine-id /etc/machine-id",
      "zsh\nbash\nbash",
      "",
    ].join(`\n${S}\n`),
  );
  assertEquals(facts.osRelease, {
    ID: "debian",
    VERSION_ID: "12",
    PRETTY_NAME: "Debian GNU/Linux 12",
  });
  assertEquals(facts.rootFsType, "ext2/ext3");
  assertEquals(facts.swapFiles, ["/swapfile"]);
  assertEquals(facts.hostname, "golden");
  assertEquals(facts.scrubPaths.get("ssh-host-keys"), [
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/ssh_host_rsa_key.pub",
  ]);
  assertEquals(facts.scrubPaths.get("machine-id"), ["/etc/machine-id"]);
  assertEquals(facts.packages, ["bash", "zsh"]);
});

Deno.test("ssh failures: a changed host key, a refused key, an unreachable node each get their own message", () => {
  const changed = sshFailure(
    TARGET,
    255,
    "@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n",
  );
  ok(changed?.message.includes("is not the one recorded in /r/etc/xcat/osimg/ssh_known_hosts"));
  ok(changed?.message.includes("ssh-keygen -R 198.51.100.2 -f /r/etc/xcat/osimg/ssh_known_hosts"));
  const refused = sshFailure(TARGET, 255, "root@198.51.100.2: Permission denied (publickey).\n");
  ok(refused?.message.startsWith("root@cn01 (198.51.100.2) accepted no ssh key of ours"));
  const down = sshFailure(
    TARGET,
    255,
    "ssh: connect to host 198.51.100.2 port 22: No route to host\n",
  );
  strictEqual(
    down?.message,
    "Cannot reach cn01 (198.51.100.2) over ssh: ssh: connect to host 198.51.100.2 port 22: No route to host. " +
      "Check that the node is up, that hosts.ip is its address and that sshd runs on it.",
  );
  strictEqual(sshFailure(TARGET, 1, "remote command failed"), undefined);
});

Deno.test("after rsync, status 255 is ssh's failure only in ssh's own words; the staged known_hosts is named by the real one", () => {
  strictEqual(
    sshFailure(TARGET, 255, "rsync: [generator] write error: Broken pipe (32)\n", false),
    undefined,
  );
  ok(
    sshFailure(
      TARGET,
      255,
      "ssh: connect to host 198.51.100.2 port 22: Connection refused\n",
      false,
    )
      ?.message.startsWith("Cannot reach cn01"),
  );
  const staged = {
    ...TARGET,
    knownHosts: "/r/install/.osimg-staging/x/known_hosts",
    shownKnownHosts: "/r/etc/xcat/osimg/ssh_known_hosts",
  };
  const message = sshFailure(staged, 255, "Host key verification failed.\n")!.message;
  ok(message.includes("recorded in /r/etc/xcat/osimg/ssh_known_hosts:"), message);
  ok(!message.includes("staging"), message);
  ok(sshOptions(TARGET).includes("HashKnownHosts=no"));
});
