// The statelite part of the netboot init, run by busybox sh on a directory with `mount` recorded.

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { NETBOOT_INIT, ROOT_PATH_FUNCTION, STATELITE_FUNCTIONS } from "./netboot_init_script.ts";
import { staticBusybox } from "../../testdata/support/debian_kernel.ts";

/** Runs `body` after the statelite functions in busybox sh; stdout, with mount stubbed to log. */
async function statelite(body: string, newroot = "/nonexistent"): Promise<string> {
  const script = `say() { echo "say: $*"; }\n` +
    `mount() { echo "mount $*"; }\n` +
    `NEWROOT='${newroot}'\nNODE=cn01\ntmpfs_options=mode=755\n` +
    STATELITE_FUNCTIONS + body;
  const output = await new Deno.Command(staticBusybox(), {
    args: ["sh", "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (output.code !== 0) throw new Error(`exit ${output.code}: ${stderr}`);
  return new TextDecoder().decode(output.stdout);
}

Deno.test("statelite init: parse_nfs_root reads root=nfs:, NFSROOT= and imgurl=nfs:// forms and refuses others", async () => {
  const show = `show() { if parse_nfs_root "$1"; then echo "$NFS_SERVER|$NFS_PATH|$NFS_OPTIONS"; ` +
    `else echo refused; fi; }\n`;
  assertEquals(
    await statelite(
      show +
        "show nfs:10.0.0.1:/install/netboot/img/rootimg:ro,vers=3\n" +
        "show nfs:10.0.0.1:/export\n" +
        "show 10.0.0.1:/export/root\n" +
        "show nfs://mn/install/root\n" +
        "show http://mn/rootimg.cpio.gz\n" +
        "show nfs:server-only\n" +
        "show nfs://server-only\n",
    ),
    "10.0.0.1|/install/netboot/img/rootimg|ro,vers=3\n" +
      "10.0.0.1|/export|\n" +
      "10.0.0.1|/export/root|\n" +
      "mn|/install/root|\n" +
      "refused\nrefused\nrefused\n",
  );
});

Deno.test("statelite init: NFS root read-only with nolock, a tmpfs for the litefile entries, persistent ones under STATEMNT/<node>", async () => {
  const newroot = await Deno.makeTempDir({ prefix: "osimg-statelite-" });
  try {
    // What liteimg leaves in the image: the originals under .default, the save list.
    await Deno.mkdir(`${newroot}/.default/etc/ssh`, { recursive: true });
    await Deno.mkdir(`${newroot}/.default/var/log`, { recursive: true });
    await Deno.mkdir(`${newroot}/.statelite/tmpfs`, { recursive: true });
    await Deno.mkdir(`${newroot}/.statelite/persistent`, { recursive: true });
    await Deno.writeTextFile(`${newroot}/.default/etc/hosts`, "127.0.0.1 localhost\n");
    await Deno.writeTextFile(`${newroot}/.default/etc/ssh/sshd_config`, "Port 22\n");
    await Deno.writeTextFile(
      `${newroot}/.statelite/litefile.save`,
      "link\t/etc/hosts\nlink,persistent\t/etc/ssh/sshd_config\ntmpfs\t/var/log/\n",
    );
    const out = await statelite(
      `STATEMNT=10.0.0.1:/statelite\nNFS_SERVER=10.0.0.1\nNFS_PATH=/img\nNFS_OPTIONS=\n` +
        `statelite_root && echo ok\n`,
      newroot,
    );
    assertEquals(
      out.replaceAll(newroot, "<root>"),
      "mount -t nfs -o ro,nolock 10.0.0.1:/img <root>\n" +
        "mount -t tmpfs -o mode=755 tmpfs <root>/.statelite/tmpfs\n" +
        "mount -t nfs -o nolock,rsize=32768,tcp,timeo=14 10.0.0.1:/statelite <root>/.statelite/persistent\n" +
        // A non-link entry: its copy is mounted over the image's own path.
        "mount --bind <root>/.statelite/tmpfs/var/log <root>/var/log\n" +
        "ok\n",
    );
    // link: a copy of the default in the tmpfs; link,persistent: kept in the node's directory.
    assertEquals(
      await Deno.readTextFile(`${newroot}/.statelite/tmpfs/etc/hosts`),
      "127.0.0.1 localhost\n",
    );
    assertEquals(
      await Deno.readLink(`${newroot}/.statelite/tmpfs/etc/ssh/sshd_config`),
      "/.statelite/persistent/cn01/etc/ssh/sshd_config",
    );
    assertEquals(
      await Deno.readTextFile(`${newroot}/.statelite/persistent/cn01/etc/ssh/sshd_config`),
      "Port 22\n",
    );
    // A second boot keeps what the node changed in its persistent file.
    await Deno.writeTextFile(
      `${newroot}/.statelite/persistent/cn01/etc/ssh/sshd_config`,
      "Port 2222\n",
    );
    await statelite(
      `STATEMNT=10.0.0.1:/statelite\nNFS_SERVER=10.0.0.1\nNFS_PATH=/img\nstatelite_root\n`,
      newroot,
    );
    assertEquals(
      await Deno.readTextFile(`${newroot}/.statelite/persistent/cn01/etc/ssh/sshd_config`),
      "Port 2222\n",
    );
  } finally {
    await Deno.remove(newroot, { recursive: true });
  }
});

Deno.test("statelite init: a persistent entry without STATEMNT= is kept in memory, with a console note", async () => {
  const newroot = await Deno.makeTempDir({ prefix: "osimg-statelite-" });
  try {
    await Deno.mkdir(`${newroot}/.statelite/tmpfs`, { recursive: true });
    await Deno.writeTextFile(`${newroot}/.statelite/litefile.save`, "link,persistent\t/etc/x\n");
    const out = await statelite(
      `NFS_SERVER=s\nNFS_PATH=/p\nNFS_OPTIONS=rw,vers=3\nstatelite_root && echo ok\n`,
      newroot,
    );
    assertEquals(
      out.replaceAll(newroot, "<root>"),
      "mount -t nfs -o rw,vers=3,nolock s:/p <root>\n" +
        "mount -t tmpfs -o mode=755 tmpfs <root>/.statelite/tmpfs\n" +
        "say: statelite: /etc/x is persistent but no STATEMNT= is given; it is kept in memory\n" +
        "ok\n",
    );
    assertEquals(await Deno.readTextFile(`${newroot}/.statelite/tmpfs/etc/x`), "");
  } finally {
    await Deno.remove(newroot, { recursive: true });
  }
});

Deno.test("the netboot init is valid busybox sh with the statelite functions in it", async () => {
  const output = await new Deno.Command(staticBusybox(), {
    args: ["sh", "-n", "-c", NETBOOT_INIT],
    stderr: "piped",
  }).output();
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  assertEquals(NETBOOT_INIT.includes(STATELITE_FUNCTIONS), true);
});

Deno.test("netboot init: in_newroot follows the image's absolute links inside the new root (Debian's /sbin/init -> /lib/systemd/systemd)", async () => {
  const newroot = await Deno.makeTempDir({ prefix: "osimg-newroot-" });
  try {
    await Deno.mkdir(`${newroot}/usr/lib/systemd`, { recursive: true });
    await Deno.mkdir(`${newroot}/usr/sbin`, { recursive: true });
    await Deno.symlink("usr/lib", `${newroot}/lib`);
    await Deno.symlink("usr/sbin", `${newroot}/sbin`);
    await Deno.writeTextFile(`${newroot}/usr/lib/systemd/systemd`, "");
    await Deno.symlink("/lib/systemd/systemd", `${newroot}/usr/sbin/init`);
    await Deno.symlink("init", `${newroot}/usr/sbin/relative-init`);
    const script = `NEWROOT='${newroot}'\n${ROOT_PATH_FUNCTION}\n` +
      `in_newroot /sbin/init\nin_newroot /sbin/relative-init\nin_newroot /bin/missing\n`;
    const output = await new Deno.Command(staticBusybox(), {
      args: ["sh", "-c", script],
      stdout: "piped",
    }).output();
    assertEquals(
      new TextDecoder().decode(output.stdout).replaceAll(newroot, "<root>"),
      "<root>/lib/systemd/systemd\n<root>/lib/systemd/systemd\n<root>/bin/missing\n",
    );
    assertEquals(NETBOOT_INIT.includes(ROOT_PATH_FUNCTION), true);
  } finally {
    await Deno.remove(newroot, { recursive: true });
  }
});
