// liteimg: litefile selection and validation, .default/.statelite links, undo, ramdisk packing.

import { deepStrictEqual as assertEquals, equal, ok } from "node:assert/strict";
import { testRoot } from "../../testdata/support/testing.ts";
import { defineImage, defineRows, listTree } from "../../testdata/support/pack_testing.ts";
import { pipeline, sh } from "../../testdata/support/process.ts";
import { selectLiteEntries, validateLiteEntries } from "./liteimg.ts";

/** A statelite image `lite` with a small root and litefile rows. */
async function statelite(
  rows: Record<string, string>[],
  osimage: Record<string, string> = {},
  linux: Record<string, string> = {},
) {
  const t = await testRoot();
  const image = await defineImage(t.root, "lite", {
    provmethod: "statelite",
    groups: "compute,gpu",
    ...osimage,
  }, linux);
  const r = image.rootimgHost;
  for (const dir of ["etc/ssh", "var/log/app", "usr/bin"]) {
    Deno.mkdirSync(`${r}/${dir}`, { recursive: true });
  }
  Deno.writeTextFileSync(`${r}/etc/hosts`, "127.0.0.1 localhost\n");
  Deno.writeTextFileSync(`${r}/etc/mtab`, "");
  Deno.writeTextFileSync(`${r}/etc/ssh/sshd_config`, "PermitRootLogin yes\n");
  Deno.writeTextFileSync(`${r}/var/log/app/app.log`, "log\n");
  Deno.writeTextFileSync(`${r}/usr/bin/tool`, "tool\n");
  Deno.writeTextFileSync(
    `${r}/etc/fstab`,
    "lite_x86_64 / tmpfs rw,noatime 0 1\nproc /proc proc rw 0 0\n",
  );
  await defineRows(t.root, { litefile: rows });
  return { t, ...image };
}

const rowsFor = (entries: Array<[string, string, string]>) =>
  entries.map(([image, file, options]) => ({ image, file, ...(options ? { options } : {}) }));

Deno.test("selectLiteEntries: image, groups, ALL and blank rows; /etc/mtab forced link; tmpfs,rw is link", () => {
  const image = {
    name: "lite",
    osimage: { imagename: "lite", groups: "compute,gpu" },
    linuximage: {},
  };
  const entries = selectLiteEntries(image, [
    { image: "ALL", file: "/etc/hosts", options: "persistent" },
    { image: "lite", file: "/etc/hosts", options: "ro" },
    { image: "gpu", file: "/var/log/", options: "" },
    { image: "other", file: "/opt/", options: "tmpfs" },
    { file: "/etc/mtab", options: "tmpfs" },
    { image: "compute", file: "/etc/ssh/", options: "tmpfs,rw" },
    { image: "ALL", file: "/root/", options: "link,persistent" },
  ]);
  assertEquals(entries, [
    { file: "/etc/hosts", options: "ro" },
    { file: "/etc/mtab", options: "link" },
    { file: "/etc/ssh/", options: "link" },
    { file: "/root/", options: "link,persistent" },
    { file: "/var/log/", options: "link" },
  ]);
});

Deno.test("validateLiteEntries: options, absolute paths, con on directories, parent/child rules", () => {
  assertEquals(validateLiteEntries([{ file: "/etc/a", options: "link" }]), []);
  const problems = validateLiteEntries([
    { file: "etc/relative", options: "tmpfs" },
    { file: "/etc/b", options: "bogus" },
    { file: "/etc/conf/", options: "con" },
    { file: "/var/", options: "link" },
    { file: "/var/lib/x", options: "persistent" },
    { file: "/data/", options: "persistent" },
    { file: "/data/y", options: "tmpfs" },
    { file: "/ro/", options: "ro" },
    { file: "/ro/z", options: "ro" },
  ]);
  const text = problems.join("\n");
  ok(text.includes("'etc/relative' must be an absolute path"), text);
  ok(text.includes("Invalid option 'bogus' for '/etc/b'"), text);
  ok(text.includes("'con' cannot be used for the directory '/etc/conf/'"), text);
  ok(text.includes("'/var/lib/x' lies under the link directory '/var/'"), text);
  ok(text.includes("'/data/y' lies under the persistent directory '/data/'"), text);
  ok(text.includes("'/ro/' is 'ro', so nothing under it can be listed"), text);
});

Deno.test("liteimg refuses a non-statelite image and an empty litefile list", async () => {
  const t = await testRoot();
  await using _ = t;
  await defineImage(t.root, "net");
  let result = await t.run(["liteimg", "net"]);
  equal(result.status, 1);
  equal(
    result.stderr,
    "Error: Please make sure that osimage.provmethod is set to statelite before calling this command.\n",
  );
  const { rootimgHost } = await defineImage(t.root, "empty", { provmethod: "statelite" });
  Deno.mkdirSync(rootimgHost, { recursive: true });
  await defineRows(t.root, {
    litefile: [{ image: "someother", file: "/etc/x", options: "tmpfs" }],
  });
  result = await t.run(["liteimg", "empty"]);
  equal(result.status, 1);
  ok(result.stderr.includes("There are no files to sync for empty."), result.stderr);
  result = await t.run(["liteimg"]);
  equal(result.status, 2);
});

Deno.test("liteimg with invalid litefile entries reports them all and changes nothing", async () => {
  const { t, rootimgHost } = await statelite(rowsFor([
    ["ALL", "/etc/hosts", "bogus"],
    ["lite", "/var/log/", "link"],
    ["lite", "/var/log/app/", "persistent"],
  ]));
  await using _ = t;
  const before = await listTree(rootimgHost);
  const result = await t.run(["liteimg", "lite"]);
  equal(result.status, 1);
  ok(result.stderr.includes("The litefile table has problems for lite:"), result.stderr);
  ok(result.stderr.includes("Invalid option 'bogus' for '/etc/hosts'"), result.stderr);
  ok(result.stderr.includes("'/var/log/app/' lies under the link directory"), result.stderr);
  assertEquals(await listTree(rootimgHost), before);
});

Deno.test("liteimg: link entries move to .default behind links into .statelite/tmpfs", async () => {
  const { t, rootimgHost, rootimgdir } = await statelite(rowsFor([
    ["ALL", "/etc/hosts", ""],
    ["compute", "/var/log/", "link"],
    ["lite", "/etc/ssh/", "persistent"],
    ["ALL", "/etc/new-file", "link"],
    ["ALL", "/etc/mtab", "tmpfs"],
  ]));
  await using _ = t;
  const result = await t.ok(["liteimg", "lite"]);
  equal(result.stdout, `Modifying ${rootimgdir}/rootimg ...\n`);
  const r = rootimgHost;
  equal(Deno.readLinkSync(`${r}/etc/hosts`), "../.statelite/tmpfs/etc/hosts");
  equal(Deno.readLinkSync(`${r}/.statelite/tmpfs/etc/hosts`), "../../../.default/etc/hosts");
  // Followed from the image's own root, the link chain ends at the original contents.
  equal(Deno.readTextFileSync(`${r}/etc/hosts`), "127.0.0.1 localhost\n");
  equal(Deno.readTextFileSync(`${r}/.default/etc/hosts`), "127.0.0.1 localhost\n");
  equal(Deno.readLinkSync(`${r}/var/log`), "../.statelite/tmpfs/var/log");
  equal(Deno.readTextFileSync(`${r}/var/log/app/app.log`), "log\n");
  equal(Deno.readLinkSync(`${r}/etc/mtab`), "../.statelite/tmpfs/etc/mtab");
  // A link entry for a file the image lacks starts out empty.
  equal(Deno.readTextFileSync(`${r}/etc/new-file`), "");
  // persistent: the original stays, a copy goes to .default.
  ok(Deno.lstatSync(`${r}/etc/ssh`).isDirectory);
  equal(Deno.readTextFileSync(`${r}/.default/etc/ssh/sshd_config`), "PermitRootLogin yes\n");
  equal(
    Deno.readTextFileSync(`${r}/.statelite/litefile.save`),
    "link\t/etc/hosts\nlink\t/etc/mtab\nlink\t/etc/new-file\npersistent\t/etc/ssh/\nlink\t/var/log/\n",
  );
  equal(
    Deno.readTextFileSync(`${r}/etc/fstab`),
    "lite_x86_64 / tmpfs ro,noatime 0 1\nproc /proc proc rw 0 0\n",
  );
  // Running again with the same table changes nothing.
  const after = await listTree(r);
  await t.ok(["liteimg", "lite"]);
  assertEquals(await listTree(r), after);
});

Deno.test("liteimg undoes an entry whose options changed since the last run", async () => {
  const { t, rootimgHost } = await statelite(rowsFor([["ALL", "/etc/hosts", "link"]]));
  await using _ = t;
  await t.ok(["liteimg", "lite"]);
  ok(Deno.lstatSync(`${rootimgHost}/etc/hosts`).isSymlink);
  await defineRows(t.root, {
    litefile: [{ image: "ALL", file: "/etc/hosts", options: "persistent" }],
  });
  await t.ok(["liteimg", "lite"]);
  const info = Deno.lstatSync(`${rootimgHost}/etc/hosts`);
  ok(info.isFile, "the link is gone and the original is back");
  equal(Deno.readTextFileSync(`${rootimgHost}/etc/hosts`), "127.0.0.1 localhost\n");
  ok(
    !(await Deno.lstat(`${rootimgHost}/.statelite/tmpfs/etc/hosts`).then(() => true, () => false)),
  );
  equal(
    Deno.readTextFileSync(`${rootimgHost}/.statelite/litefile.save`),
    "persistent\t/etc/hosts\n",
  );
});

Deno.test("liteimg with rootfstype=ramdisk packs rootimg-statelite.gz (cpio newc, exlist honoured)", async () => {
  const { t, dirHost } = await statelite(
    rowsFor([["ALL", "/etc/hosts", "link"]]),
    { rootfstype: "ramdisk" },
    { exlist: "/install/lite.exlist" },
  );
  await using _ = t;
  Deno.writeTextFileSync(`${t.root}/install/lite.exlist`, "./usr/bin/tool\n");
  const result = await t.ok(["liteimg", "lite"]);
  ok(result.stdout.includes("rootimg-statelite.gz"), result.stdout);
  const archive = `${dirHost}/rootimg-statelite.gz`;
  equal(Deno.statSync(archive).mode! & 0o777, 0o644);
  await sh(["gzip", "-t", archive]);
  const names = (await pipeline(`gzip -dc '${archive}' | cpio -it --quiet`)).split("\n");
  for (
    const kept of [
      "etc/hosts",
      ".statelite/tmpfs/etc/hosts",
      ".default/etc/hosts",
      ".statelite/litefile.save",
    ]
  ) {
    ok(names.includes(kept), `${kept} is in the ramdisk root`);
  }
  ok(!names.includes("usr/bin/tool"), "the exlist applies");
  const out = `${t.root}/out`;
  Deno.mkdirSync(out);
  await pipeline(`gzip -dc '${archive}' | cpio -idm --quiet`, out);
  equal(Deno.readTextFileSync(`${out}/etc/hosts`), "127.0.0.1 localhost\n");
});

Deno.test("packimage of a liteimg'd tree packs the originals of link entries, then restores the links", async () => {
  const { t, rootimgHost, dirHost } = await statelite(rowsFor([
    ["ALL", "/etc/hosts", "link"],
    ["ALL", "/var/log/", "link"],
    ["ALL", "/etc/ssh/", "persistent"],
  ]));
  await using _ = t;
  await t.ok(["liteimg", "lite"]);
  const prepared = await listTree(rootimgHost);
  await defineRows(t.root, { osimage: [{ imagename: "lite", provmethod: "netboot" }] });
  await t.ok(["packimage", "lite"]);
  assertEquals(await listTree(rootimgHost), prepared, "the liteimg layout is back");
  const out = `${t.root}/out`;
  Deno.mkdirSync(out);
  await pipeline(`gzip -dc '${dirHost}/rootimg.cpio.gz' | cpio -idm --quiet`, out);
  ok(Deno.lstatSync(`${out}/etc/hosts`).isFile);
  equal(Deno.readTextFileSync(`${out}/etc/hosts`), "127.0.0.1 localhost\n");
  equal(Deno.readTextFileSync(`${out}/var/log/app/app.log`), "log\n");
  for (const gone of [".statelite", ".default", ".statebackup"]) {
    ok(!(await Deno.lstat(`${out}/${gone}`).then(() => true, () => false)), gone);
  }
});

Deno.test("hostile litefile: an entry behind an absolute symlink cannot move the host's files", async () => {
  const { t, rootimgHost } = await statelite(rowsFor([
    ["ALL", "/etc/hosts", "link"],
    ["ALL", "/var/run/victim", "link"],
  ]));
  await using _ = t;
  const outside = `${t.root}/outside`;
  Deno.mkdirSync(outside);
  Deno.writeTextFileSync(`${outside}/victim`, "host file\n");
  Deno.symlinkSync(outside, `${rootimgHost}/var/run`);
  const before = await listTree(rootimgHost);
  const result = await t.run(["liteimg", "lite"]);
  equal(result.status, 1);
  ok(result.stderr.includes("lead outside the image through a symbolic link: /var/run/victim"));
  equal(Deno.readTextFileSync(`${outside}/victim`), "host file\n");
  assertEquals(await listTree(rootimgHost), before, "not even /etc/hosts was changed");
});
