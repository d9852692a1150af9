// The demo: the main job end to end in a temporary root, printing each command and its output.

import { join } from "node:path";
import type { Context } from "./context.ts";
import { ConflictError, OsimgError } from "./errors.ts";
import { cpioStream } from "../formats/archive/cpio_newc.ts";
import { baseMeta, bytesContent, type Entry } from "../formats/archive/entry.ts";
import { compress } from "./compress/compress.ts";
import type { ProcessRunner } from "./process.ts";

const IMAGE = "debian12-x86_64-netboot-compute";
const IMAGE_DIR = "/install/netboot/debian12/x86_64/compute";
const EXLIST = "/install/custom/netboot/debian/compute.exlist";
const PKGLIST = "/install/custom/netboot/debian/compute.pkglist";

const INIT_SCRIPT = `#!/bin/sh
# The sample image's init: what a diskless node would run first.
echo "osimg demo image booted"
`;

/**
 * Writes a small media folder laid out like a Rocky Linux 9.3 DVD: its real metadata files
 * (.discinfo, .treeinfo, media.repo) and stand-ins for the repositories and boot files.
 */
async function buildSampleMedia(dir: string): Promise<void> {
  const files: Record<string, string> = {
    ".discinfo": "1699827798.672747\nRocky Linux 9.3\nx86_64\nALL\n",
    ".treeinfo":
      "[general]\narch = x86_64\nfamily = Rocky Linux\nversion = 9.3\n\n[release]\nname = Rocky Linux\nshort = Rocky\nversion = 9.3\n",
    "media.repo": "[InstallMedia]\nname=Rocky Linux 9.3\nmediaid=None\ngpgcheck=0\n",
    "BaseOS/repodata/repomd.xml": "<repomd/>\n",
    "AppStream/repodata/repomd.xml": "<repomd/>\n",
    "images/pxeboot/vmlinuz": "osimg demo: stand-in for the installer kernel\n",
    "images/pxeboot/initrd.img": "osimg demo: stand-in for the installer initrd\n",
  };
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), content);
  }
}

/** Refuses a root that holds anything: the demo defines objects and writes files there. */
export async function requireEmptyRoot(root: string): Promise<void> {
  try {
    for await (const _ of Deno.readDir(root)) {
      throw new ConflictError(
        `The demo needs an empty or new root, and '${root}' is not empty. ` +
          `Name a new directory with --root, or leave --root out to use a temporary one.`,
      );
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
}

/** Writes the sample root tree, the exlist and the boot files of the demo image under `root`. */
async function buildSampleImage(runner: ProcessRunner, root: string): Promise<void> {
  const dir = join(root, IMAGE_DIR);
  const rootimg = join(dir, "rootimg");
  for (const sub of ["etc", "usr/bin", "usr/share/doc/demo", "var/log", "tmp", "root"]) {
    await Deno.mkdir(join(rootimg, sub), { recursive: true });
  }
  await Deno.chmod(join(rootimg, "tmp"), 0o1777);
  await Deno.chmod(join(rootimg, "root"), 0o700);
  await Deno.writeTextFile(join(rootimg, "etc/hostname"), "compute\n");
  await Deno.writeTextFile(
    join(rootimg, "etc/os-release"),
    'PRETTY_NAME="osimg demo (Debian 12 layout)"\nID=debian\nVERSION_ID="12"\n',
  );
  await Deno.writeTextFile(join(rootimg, "init"), INIT_SCRIPT, { mode: 0o755 });
  await Deno.writeTextFile(join(rootimg, "usr/bin/hello"), "#!/bin/sh\necho hello\n", {
    mode: 0o755,
  });
  await Deno.link(join(rootimg, "usr/bin/hello"), join(rootimg, "usr/bin/hello-again"));
  await Deno.symlink("usr/bin", join(rootimg, "bin"));
  await Deno.writeTextFile(join(rootimg, "usr/share/doc/demo/README"), "excluded by the exlist\n");
  await Deno.writeTextFile(join(rootimg, "var/log/boot.log"), "");
  await Deno.mkdir(join(root, EXLIST, ".."), { recursive: true });
  await Deno.writeTextFile(join(root, EXLIST), "./usr/share/doc*\n./tmp/*\n");
  await Deno.writeTextFile(join(root, PKGLIST), "openssh-server\nchrony\nnfs-common\n");
  // The demo stays offline, and genimage needs a distro mirror: the kernel is a labelled stand-in
  // file, and the initrd a real gzip'd newc cpio holding the image's /init, written by osimg's
  // own formats.
  await Deno.writeTextFile(join(dir, "kernel"), "osimg demo: stand-in for a vmlinuz\n");
  const entries: Entry[] = [
    { ...baseMeta(".", 0o755), kind: "dir" },
    {
      ...baseMeta("init", 0o755),
      kind: "file",
      content: bytesContent(
        new TextEncoder().encode(INIT_SCRIPT),
      ),
    },
  ];
  const file = await Deno.open(join(dir, "initrd-stateless.gz"), {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    for await (const chunk of compress(runner, "gzip", cpioStream(entries))) {
      let offset = 0;
      while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
    }
  } finally {
    file.close();
  }
}

/**
 * Runs the demo. With the default root ("/") everything happens in a new temporary directory,
 * removed at the end unless `keep`; with `--root DIR` the first management node is DIR (absent or
 * empty: the demo never writes over an existing site) and is left there, with its sample image,
 * for the README's tour. The second management node and the bundle are always temporary.
 */
export async function runDemo(ctx: Context, options: { keep: boolean }): Promise<void> {
  const invoke = ctx.invoke;
  if (!invoke) throw new OsimgError("The demo needs the command dispatcher.");
  const ownRoot = ctx.root !== "/";
  if (ownRoot) await requireEmptyRoot(ctx.root);
  const base = await Deno.makeTempDir({ prefix: "osimg-demo-" });
  const managementNode = ownRoot ? ctx.root : join(base, "mn1");
  const secondNode = join(base, "mn2");
  const bundle = join(base, `${IMAGE}.tgz`);
  const media = join(base, "rocky-9.3-dvd");
  const say = (text: string) => ctx.reporter.line(text);
  /** Runs one command; `expected` is its exit status (diff's 1: the sides differ). */
  const step = async (root: string, args: string[], expected = 0) => {
    const label = root === managementNode ? "mn1" : "mn2";
    say("");
    say(
      `[${label}]$ osimg ${
        args.map((arg) => /[\s|()\\$\[\]*]/.test(arg) ? `'${arg}'` : arg).join(" ")
      }`,
    );
    const status = await invoke(["--root", root, ...args]);
    if (status !== expected) {
      throw new OsimgError(`The demo stopped: 'osimg ${args.join(" ")}' exited ${status}.`);
    }
  };
  try {
    say(`osimg demo in ${ownRoot ? managementNode : base}`);
    say(`  mn1: a management node with an image${ownRoot ? ` (${managementNode}, kept)` : ""}`);
    say(`  mn2: a second, empty one${ownRoot ? ` (${secondNode}, removed at the end)` : ""}`);
    await step(managementNode, ["chdef", "-t", "site", "clustersite", "domain=demo.cluster"]);
    await step(managementNode, [
      "mkdef",
      "-t",
      "osimage",
      "-o",
      IMAGE,
      "provmethod=netboot",
      "osname=Linux",
      "osvers=debian12",
      "osarch=x86_64",
      "profile=compute",
      `exlist=${EXLIST}`,
      `pkglist=${PKGLIST}`,
      `rootimgdir=${IMAGE_DIR}`,
    ]);
    await step(managementNode, ["mkdef", "-t", "node", "cn[01-04]", "groups=compute,all"]);
    await step(managementNode, [
      "chdef",
      "-t",
      "group",
      "compute",
      "netboot=xnba",
      `provmethod=${IMAGE}`,
      "ip=|\\D+(\\d+)|10.0.0.($1+0)|",
      "mac=|\\D+(\\d+)|52:54:00:00:00:($1+10)|",
    ]);
    say("");
    say(`(writing a small media folder laid out like a Rocky Linux 9.3 DVD in ${media})`);
    await buildSampleMedia(media);
    await step(managementNode, ["copycds", "-i", media]);
    await step(managementNode, ["copycds", media]);
    await step(managementNode, ["lsdef", "-t", "osimage", "-o", "rocky9.3-x86_64-netboot-compute"]);
    await step(managementNode, ["lsdef", "cn03"]);
    await step(managementNode, ["nodels", "compute,-cn01"]);
    await step(managementNode, ["lsdef", "-t", "osimage", "-o", IMAGE]);
    say("");
    say(`(writing a sample root tree, kernel and initrd under mn1${IMAGE_DIR})`);
    await buildSampleImage(ctx.runner, managementNode);
    await step(managementNode, ["packimage", IMAGE]);
    // The nodes' boot entries: xnba scripts under /tftpboot/xcat/xnba/nodes, kernel and initrd
    // staged in /tftpboot/xcat/osimage/<image>/.
    await step(managementNode, ["nodeset", "compute", "osimage"]);
    await step(managementNode, ["nodeset", "cn04", "offline"]);
    await step(managementNode, ["nodeset", "compute", "stat"]);
    await step(managementNode, ["imgexport", IMAGE, bundle]);
    await step(managementNode, ["verify", bundle]);
    await step(secondNode, ["imgimport", bundle]);
    await step(secondNode, ["lsdef", "-t", "osimage", "-o", IMAGE]);
    await step(managementNode, ["snapshot", IMAGE, "--note", "before the change"]);
    await step(managementNode, ["chdef", "-t", "osimage", "-o", IMAGE, "profile=broken"]);
    await Deno.writeTextFile(join(managementNode, IMAGE_DIR, "rootimg/etc/motd"), "changed\n");
    say("");
    say(`(writing rootimg/etc/motd in mn1${IMAGE_DIR})`);
    await step(managementNode, ["diff", `${IMAGE}@1`, IMAGE], 1);
    await step(managementNode, ["rollback", IMAGE]);
    await step(managementNode, ["lsdef", "-t", "osimage", "-o", IMAGE, "-i", "profile"]);
    await step(managementNode, ["snapshot", "--list", IMAGE]);
    const kept = options.keep ? base : ownRoot ? managementNode : undefined;
    say("");
    say(`The demo finished.${kept ? ` Its files are in ${kept}.` : ""}`);
  } finally {
    if (!options.keep) await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}
