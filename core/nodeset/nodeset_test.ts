import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { hostPath } from "../paths.ts";
import { AggregateProblemsError, InvalidInputError } from "../errors.ts";
import { assertGolden, snapshotTree, testRoot } from "../../testdata/support/testing.ts";
import { defineRows } from "../../testdata/support/pack_testing.ts";
import {
  defineNodesetCluster,
  entryListing,
  IMAGES,
  openTestStore,
  PPC_NODES,
  runNodeset,
  X86_NODES,
} from "../../testdata/support/nodeset_testing.ts";
import { grubMacName, hexIp } from "../../providers/bootloaders/bootloaders.ts";
import { acquireImageLock, LOCK_DIR_NAME } from "../image/image_lock.ts";

/** The names a node's files carry: its name, its hex IP, its MAC in grub's form. */
function keysOf(node: string): string[] {
  const number = Number(node.slice(2));
  const ppc = node.startsWith("pn");
  const ip = `10.0.0.${(ppc ? 200 : 100) + number}`;
  const mac = `aa:bb:cc:dd:${ppc ? "ff" : "ee"}:0${number}`;
  return [node, hexIp(ip), grubMacName(mac).slice(3)];
}

async function tableRows(root: string, table: string) {
  const store = openTestStore(root);
  try {
    return await store.read((reader) => reader.rows(table));
  } finally {
    store.close();
  }
}

Deno.test("nodeset writes every provmethod × bootloader entry as its golden file", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  for (const [name, image] of Object.entries(IMAGES)) {
    const nodes = name.endsWith("ppc64le") ? PPC_NODES : X86_NODES;
    await runNodeset(t.root, Object.keys(nodes).join(","), { kind: "osimage", image });
    for (const [node, loader] of Object.entries(nodes)) {
      await assertGolden(
        `nodeset/${name}.${loader}.txt`,
        await entryListing(t.root, node, keysOf(node)),
      );
    }
  }
  for (const state of ["boot", "offline"] as const) {
    await runNodeset(t.root, "all", { kind: state });
    for (const [node, loader] of Object.entries({ ...X86_NODES, ...PPC_NODES })) {
      await assertGolden(
        `nodeset/${state}.${loader}.txt`,
        await entryListing(t.root, node, keysOf(node)),
      );
    }
  }
});

/** Collapses runs of spaces and drops trailing ones: xCAT's double and trailing spaces come from gluing strings; the kernel splits on any run. */
function words(line: string): string {
  return line.replace(/(\S) +/g, "$1 ").trimEnd();
}

Deno.test("the netboot entries match the reference's pxelinux, iPXE and grub2 examples line by line", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await runNodeset(t.root, "cn01,cn02,cn04", { kind: "osimage", image: IMAGES.netboot });
  const read = (path: string) => Deno.readTextFile(hostPath(t.root, `/tftpboot/${path}`));
  const url = "imgurl=http://10.0.0.1:80//install/netboot/rhels9.2/x86_64/compute/rootimg.cpio.gz";
  // §7.3 (the node name is the example's).
  const pxelinux = [
    "#netboot rhels9.2-x86_64-compute",
    "DEFAULT xCAT",
    "LABEL xCAT",
    " KERNEL xcat/osimage/rhels9.2-x86_64-netboot-compute/kernel",
    " APPEND initrd=xcat/osimage/rhels9.2-x86_64-netboot-compute/initrd-stateless.gz " + url +
    " XCAT=10.0.0.1:3001 NODE=cn01 FC=0 XCATHTTPPORT=80  console=tty0 console=ttyS0,115200 selinux=0  quiet ",
    "  IPAPPEND 2",
  ];
  assertEquals((await read("pxelinux.cfg/cn01")).split("\n").slice(0, -1), pxelinux.map(words));
  assertEquals(await Deno.readLink(hostPath(t.root, "/tftpboot/pxelinux.cfg/0A000065")), "cn01");
  // §7.4, with NODE=cn02 for this cluster's xnba node.
  const next = "${next-server}";
  const args =
    `imgurl=http://${next}:80//install/netboot/rhels9.2/x86_64/compute/rootimg.cpio.gz ` +
    `XCAT=${next}:3001 NODE=cn02 FC=0 XCATHTTPPORT=80  console=tty0 console=ttyS0,115200 selinux=0  quiet  BOOTIF=01-\${netX/mac:hexhyp}`;
  const ipxe = [
    "#!gpxe",
    "#netboot rhels9.2-x86_64-compute",
    `imgfetch -n kernel http://${next}/tftpboot/xcat/osimage/rhels9.2-x86_64-netboot-compute/kernel`,
    "imgload kernel",
    `imgargs kernel ${args}`,
    `imgfetch -n initrd http://${next}/tftpboot/xcat/osimage/rhels9.2-x86_64-netboot-compute/initrd-stateless.gz`,
    "imgexec kernel",
  ];
  assertEquals((await read("xcat/xnba/nodes/cn02")).split("\n").slice(0, -1), ipxe.map(words));
  const uefi = [
    "#!gpxe",
    ipxe[2]!,
    "imgload kernel",
    `imgargs kernel ${args} initrd=initrd`,
    ipxe[5]!,
    "imgexec kernel",
  ];
  assertEquals((await read("xcat/xnba/nodes/cn02.uefi")).split("\n").slice(0, -1), uefi.map(words));
  // §7.5: the lines the example spells out in full.
  const grub = (await read("boot/grub2/cn04")).split("\n");
  assertEquals(grub.slice(0, 8), [
    "#netboot rhels9.2-x86_64-compute",
    "set timeout=5",
    'set default="xCAT OS Deployment"',
    'menuentry "xCAT OS Deployment" {',
    "    insmod http",
    "    insmod tftp",
    "    set root=tftp,10.0.0.1",
    "    echo Loading Install kernel ...",
  ]);
  ok(
    grub[8]!.startsWith(
      `    linuxefi /xcat/osimage/rhels9.2-x86_64-netboot-compute/kernel ${url} XCAT=10.0.0.1:3001 NODE=cn04 `,
    ),
  );
  ok(grub[8]!.endsWith(" quiet BOOTIF=$net_default_mac"));
  assertEquals(grub.slice(9), [
    "    echo Loading initial ramdisk ...",
    "    initrdefi /xcat/osimage/rhels9.2-x86_64-netboot-compute/initrd-stateless.gz",
    "}",
  ]);
  // grub2 finds its entry by upper-case hex IP and by `01-` and the MAC in lower case with dashes.
  const inode = async (name: string) =>
    (await Deno.stat(hostPath(t.root, `/tftpboot/boot/grub2/${name}`))).ino;
  assertEquals(await inode("grub.cfg-0A000068"), await inode("cn04"));
  assertEquals(await inode("grub.cfg-01-aa-bb-cc-dd-ee-04"), await inode("cn04"));
});

Deno.test("the reference's install and boot examples (§7.3) come out line by line", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  // The reference's install example has no serial console and names xcatmaster.
  const store = openTestStore(t.root);
  try {
    await store.write((writer) => writer.delete("nodehm", { node: "all" }));
  } finally {
    store.close();
  }
  await defineRows(t.root, { noderes: [{ node: "cn01", xcatmaster: "10.0.0.1" }] });
  await runNodeset(t.root, "cn01", { kind: "osimage", image: IMAGES["install-rhel"] });
  const text = await Deno.readTextFile(hostPath(t.root, "/tftpboot/pxelinux.cfg/cn01"));
  assertEquals(text.split("\n").slice(0, 5), [
    "#install rhels9.2-x86_64-compute",
    "DEFAULT xCAT",
    "LABEL xCAT",
    " KERNEL xcat/osimage/rhels9.2-x86_64-install-compute/vmlinuz",
    words(
      " APPEND initrd=xcat/osimage/rhels9.2-x86_64-install-compute/initrd.img inst.repo=http://10.0.0.1:80/install/rhels9.2/x86_64 inst.ks=http://10.0.0.1:80/install/autoinst/cn01 ip=dhcp  quiet ",
    ),
  ]);
  await runNodeset(t.root, "cn01", { kind: "boot" });
  assertEquals(
    await Deno.readTextFile(hostPath(t.root, "/tftpboot/pxelinux.cfg/cn01")),
    "#boot\nDEFAULT xCAT\nLABEL xCAT\nLOCALBOOT 0\n",
  );
});

Deno.test("nodeset sets nodetype and chain as xCAT does, in one go, and prints each node's state", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  const result = await runNodeset(t.root, "cn01,cn02", {
    kind: "osimage",
    image: IMAGES["install-rhel"],
  });
  assertEquals(result.nodes, [
    { node: "cn01", state: "install rhels9.2-x86_64-compute" },
    { node: "cn02", state: "install rhels9.2-x86_64-compute" },
  ]);
  const nodetype = (await tableRows(t.root, "nodetype")).filter((row) => row.node === "cn01");
  assertEquals(nodetype, [{
    node: "cn01",
    os: "rhels9.2",
    arch: "x86_64",
    profile: "compute",
    provmethod: IMAGES["install-rhel"],
  }]);
  const chain = (await tableRows(t.root, "chain")).find((row) => row.node === "cn01");
  assertEquals(chain, {
    node: "cn01",
    currstate: "install rhels9.2-x86_64-compute",
    currchain: "boot",
  });
  // boot keeps the provmethod of an installed node, blanks that of a diskless one.
  await runNodeset(t.root, "cn01", { kind: "boot" });
  assertEquals(
    (await tableRows(t.root, "nodetype")).find((row) => row.node === "cn01")?.provmethod,
    IMAGES["install-rhel"],
  );
  await runNodeset(t.root, "cn02", { kind: "osimage", image: IMAGES.netboot });
  await runNodeset(t.root, "cn02", { kind: "boot" });
  assertEquals(
    (await tableRows(t.root, "nodetype")).find((row) => row.node === "cn02")?.provmethod,
    undefined,
  );
  assertEquals(
    (await tableRows(t.root, "chain")).find((row) => row.node === "cn02")?.currstate,
    "boot",
  );
  // osimage without a name boots each node's nodetype.provmethod.
  await runNodeset(t.root, "cn01", { kind: "osimage" });
  assertEquals(
    (await tableRows(t.root, "chain")).find((row) => row.node === "cn01")?.currstate,
    "install rhels9.2-x86_64-compute",
  );
});

Deno.test("a re-run with the same inputs rewrites nothing: contents and mtimes stay", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  const range = "cn01-cn04";
  await runNodeset(t.root, range, { kind: "osimage", image: IMAGES.netboot });
  const tftp = hostPath(t.root, "/tftpboot");
  const times = async () => {
    const lines: string[] = [];
    const walk = async (dir: string) => {
      for await (const entry of Deno.readDir(dir)) {
        const path = `${dir}/${entry.name}`;
        const info = await Deno.lstat(path);
        lines.push(`${path} ${info.mtime?.getTime()} ${info.ino}`);
        if (entry.isDirectory) await walk(path);
      }
    };
    await walk(tftp);
    return lines.sort();
  };
  const before = await times();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const again = await runNodeset(t.root, range, { kind: "osimage", image: IMAGES.netboot });
  assertEquals(again.changes.written, []);
  assertEquals(again.changes.removed, []);
  assertEquals(again.staged, []);
  assertEquals(await times(), before);
});

Deno.test("offline removes every file and link of the node, stale .uefi/.elilo and old IPs' links included", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await runNodeset(t.root, "cn01-cn04", { kind: "osimage", image: IMAGES.statelite });
  const tftp = hostPath(t.root, "/tftpboot");
  // What an earlier xCAT or an old IP left: a pxelinux link of cn01's old address, a stale
  // .pxelinux companion of cn02, a grub link sharing cn04's entry under an old IP.
  await Deno.symlink("cn01", `${tftp}/pxelinux.cfg/0A0000FE`);
  await Deno.writeTextFile(`${tftp}/xcat/xnba/nodes/cn02.pxelinux`, "old\n");
  await Deno.link(`${tftp}/boot/grub2/cn04`, `${tftp}/boot/grub2/grub.cfg-0A0000FD`);
  // Another node's files stay.
  await Deno.mkdir(`${tftp}/xcat/xnba/nodes`, { recursive: true });
  await Deno.writeTextFile(`${tftp}/xcat/xnba/nodes/other`, "#!gpxe\n#boot\nexit\n");
  await Deno.symlink("other", `${tftp}/pxelinux.cfg/0A0000FC`);
  await runNodeset(t.root, "cn01-cn04", { kind: "offline" });
  const left = (await snapshotTree(tftp)).filter((line) => !line.startsWith("d "));
  assertEquals(
    left.filter((line) => !line.includes("xcat/osimage/") && !line.includes("genesis")),
    [
      "l pxelinux.cfg/0A0000FC -> other",
      left.find((line) => line.includes("xnba/nodes/other"))!,
    ],
  );
  assertEquals(
    (await tableRows(t.root, "chain")).map((row) => row.currstate),
    Array(4).fill("offline"),
  );
});

Deno.test("nodeset boot on xnba replaces a .elilo and .uefi left by the last osimage", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await runNodeset(t.root, "cn02", { kind: "osimage", image: IMAGES.statelite });
  const nodes = hostPath(t.root, "/tftpboot/xcat/xnba/nodes");
  ok((await Deno.stat(`${nodes}/cn02.elilo`)).isFile);
  await runNodeset(t.root, "cn02", { kind: "boot" });
  assertEquals(await Deno.readTextFile(`${nodes}/cn02.uefi`), "#!gpxe\n#boot\nexit\n");
  await rejects(Deno.stat(`${nodes}/cn02.elilo`), Deno.errors.NotFound);
});

Deno.test("moving a node to another loader removes the old loader's entry", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await runNodeset(t.root, "cn01", { kind: "osimage", image: IMAGES.netboot });
  await defineRows(t.root, { noderes: [{ node: "cn01", netboot: "xnba" }] });
  await runNodeset(t.root, "cn01", { kind: "osimage", image: IMAGES.netboot });
  const tftp = hostPath(t.root, "/tftpboot");
  await rejects(Deno.lstat(`${tftp}/pxelinux.cfg/cn01`), Deno.errors.NotFound);
  await rejects(Deno.lstat(`${tftp}/pxelinux.cfg/0A000065`), Deno.errors.NotFound);
  ok((await Deno.stat(`${tftp}/xcat/xnba/nodes/cn01`)).isFile);
});

Deno.test("a non-80 httpport goes into every URL, grub2-http's root and XCATHTTPPORT", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await defineRows(t.root, { site: [{ key: "httpport", value: "8080" }] });
  await runNodeset(t.root, "cn02", { kind: "osimage", image: IMAGES.netboot });
  await runNodeset(t.root, "pn02", { kind: "osimage", image: IMAGES["netboot-ppc64le"] });
  await assertGolden(
    "nodeset/httpport-8080.xnba.txt",
    await entryListing(t.root, "cn02", keysOf("cn02")),
  );
  await assertGolden(
    "nodeset/httpport-8080.grub2-http.txt",
    await entryListing(t.root, "pn02", keysOf("pn02")),
  );
});

/** The service nodes of the pool tests, with their hosts.ip. */
const SERVICE_NODES = { sn1: "10.0.0.251", sn2: "10.0.0.252", sn3: "10.0.0.253" };

async function defineServiceNodes(root: string): Promise<void> {
  await defineRows(root, {
    nodelist: Object.keys(SERVICE_NODES).map((node) => ({ node, groups: "service" })),
    hosts: Object.entries(SERVICE_NODES).map(([node, ip]) => ({ node, ip })),
  });
}

Deno.test("a service node pool (noderes.servicenode naming several) adds imgservers= with the others after imgurl", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await defineServiceNodes(t.root);
  // cn01: sn1 is its xcatmaster (the image server), sn2 and sn3 back it up. cn02: a pool with
  // no xcatmaster, the image server is whoever answered DHCP (xCAT's !myipfn!).
  await defineRows(t.root, {
    noderes: [
      { node: "cn01", xcatmaster: "sn1", servicenode: "sn1,sn2,sn3" },
      { node: "cn02", servicenode: "sn2,sn1" },
    ],
  });
  await runNodeset(t.root, "cn01,cn02", { kind: "osimage", image: IMAGES.netboot });
  await assertGolden(
    "nodeset/servicenode-pool.pxe.txt",
    await entryListing(t.root, "cn01", keysOf("cn01")),
  );
  await assertGolden(
    "nodeset/servicenode-pool.xnba.txt",
    await entryListing(t.root, "cn02", keysOf("cn02")),
  );
});

Deno.test("one service node in noderes.servicenode writes the same entry as none (no imgservers=)", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await defineServiceNodes(t.root);
  await defineRows(t.root, { noderes: [{ node: "cn01", servicenode: "sn2" }] });
  await runNodeset(t.root, "cn01", { kind: "osimage", image: IMAGES.netboot });
  await assertGolden("nodeset/netboot.pxe.txt", await entryListing(t.root, "cn01", keysOf("cn01")));
});

Deno.test("a service node of the pool that does not resolve is refused, naming it, and nothing is written", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await defineServiceNodes(t.root);
  await defineRows(t.root, { noderes: [{ node: "cn01", servicenode: "sn1,snx" }] });
  await assertRefused(t.root, "cn01", IMAGES.netboot, [
    /^cn01: Cannot resolve the service node 'snx' \(noderes\.servicenode\)$/m,
  ]);
});

Deno.test("addkcmdline: #NODEATTRIB# and #TABLE# filled in, R:: tokens dropped, bootparams first", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await defineRows(t.root, {
    bootparams: [{ node: "cn01", addkcmdline: "rack=#TABLE:nodelist:$NODE:groups# R::noibrs" }],
    linuximage: [{
      imagename: IMAGES.netboot,
      addkcmdline: "quiet os=#NODEATTRIB:nodetype:os# R::nosmt",
    }],
  });
  await runNodeset(t.root, "cn01", { kind: "osimage", image: IMAGES.netboot });
  const append = (await Deno.readTextFile(hostPath(t.root, "/tftpboot/pxelinux.cfg/cn01"))).split(
    "\n",
  )[4]!;
  ok(append.endsWith(" selinux=0 rack=compute,all quiet os=rhels9.2"), append);
  ok(!append.includes("R::") && !append.includes("nosmt"), append);
});

/** Runs nodeset expecting failure; asserts the problems and that tree and tables stayed. */
async function assertRefused(
  root: string,
  range: string,
  image: string | undefined,
  expected: RegExp[],
): Promise<void> {
  const tables = ["nodetype", "chain"];
  const before = await snapshotTree(root + "/tftpboot");
  const rowsBefore = await Promise.all(tables.map((table) => tableRows(root, table)));
  let error: unknown;
  try {
    await runNodeset(root, range, { kind: "osimage", ...(image ? { image } : {}) });
  } catch (caught) {
    error = caught;
  }
  ok(error instanceof InvalidInputError || error instanceof AggregateProblemsError, String(error));
  const text = [(error as Error).message, ...((error as AggregateProblemsError).details ?? [])]
    .join("\n");
  for (const pattern of expected) ok(pattern.test(text), `${pattern} in:\n${text}`);
  assertEquals(await snapshotTree(root + "/tftpboot"), before);
  assertEquals(await Promise.all(tables.map((table) => tableRows(root, table))), rowsBefore);
}

Deno.test("an unknown osimage is refused with xCAT's message and writes nothing at all", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await assertRefused(t.root, "cn01", "nosuch", [
    /^Cannot find the OS image nosuch in the osimage table\.$/,
  ]);
});

Deno.test("an image that is not packed is refused with xCAT's message, for every node, writing nothing", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await Deno.remove(hostPath(t.root, "/install/netboot/rhels9.2/x86_64/compute/rootimg.cpio.gz"));
  await assertRefused(t.root, "cn01-cn04", IMAGES.netboot, [
    /^nodeset found 1 problem; nothing was changed:$/m,
    /^cn01,cn02,cn03,cn04: No packed image for platform rhels9\.2, architecture x86_64, and profile compute found at \/install\/netboot\/rhels9\.2\/x86_64\/compute\/rootimg\.gz or .*please run packimage/m,
  ]);
});

Deno.test("a missing kernel is refused with xCAT's genimage hint, writing nothing", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await Deno.remove(hostPath(t.root, "/install/netboot/rhels9.2/x86_64/compute/kernel"));
  await assertRefused(t.root, "cn02", IMAGES.netboot, [
    /^cn02: Did you run "genimage" before running "packimage"\? kernel cannot be found at \/install\/netboot\/rhels9\.2\/x86_64\/compute\/kernel$/m,
  ]);
});

Deno.test("a node without mac, ip or netboot: one message each naming node and attribute, nothing written for any node", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  const store = openTestStore(t.root);
  try {
    await store.write(async (writer) => {
      await writer.delete("mac", { node: "cn01" });
      await writer.delete("hosts", { node: "cn02" });
      await writer.delete("noderes", { node: "cn03" });
    });
  } finally {
    store.close();
  }
  await assertRefused(t.root, "cn01-cn04", IMAGES.netboot, [
    /^nodeset found 3 problems; nothing was changed:$/m,
    /^cn01: No MAC address available for this node \(mac\.mac is not set\)$/m,
    /^cn02: Cannot determine the IP address: hosts\.ip is not set/m,
    /^cn03: noderes\.netboot is not set: set it with 'chdef cn03 netboot=/m,
  ]);
});

Deno.test("a netboot value that does not fit the image's arch is refused, naming the valid ones", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await assertRefused(t.root, "pn01", IMAGES.netboot, [
    /^pn01: noderes\.netboot 'grub2-tftp' does not boot x86_64 images \(osimage rhels9\.2-x86_64-netboot-compute\); valid options: xnba, pxe, elilo, grub2$/m,
  ]);
});

Deno.test("an unknown netboot value and a malformed MAC are refused", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await defineRows(t.root, {
    noderes: [{ node: "cn01", netboot: "yaboot" }],
    mac: [{ node: "cn02", mac: "not-a-mac" }],
  });
  await assertRefused(t.root, "cn01,cn02", IMAGES.netboot, [
    /^cn01: noderes\.netboot 'yaboot' is not a boot loader osimg writes entries for/m,
    /^cn02: mac\.mac 'not-a-mac' is not a MAC address$/m,
  ]);
});

Deno.test("osimage without a name needs nodetype.provmethod to name an image", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await assertRefused(t.root, "cn01", undefined, [
    /^cn01: OS image name must be specified in nodetype\.provmethod$/m,
  ]);
});

Deno.test("--noupdateinitrd stages nothing and needs the staged files already there", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  let error: unknown;
  try {
    await runNodeset(t.root, "cn02", { kind: "osimage", image: IMAGES.netboot }, {
      noUpdateInitrd: true,
    });
  } catch (caught) {
    error = caught;
  }
  ok(error instanceof AggregateProblemsError);
  ok(/--noupdateinitrd was given/.test(error.details.join("\n")), error.details.join("\n"));
  await runNodeset(t.root, "cn02", { kind: "osimage", image: IMAGES.netboot });
  const kernel = hostPath(t.root, "/tftpboot/xcat/osimage/rhels9.2-x86_64-netboot-compute/kernel");
  await Deno.writeTextFile(kernel, "kept\n");
  const again = await runNodeset(t.root, "cn02", { kind: "osimage", image: IMAGES.netboot }, {
    noUpdateInitrd: true,
  });
  assertEquals(again.staged, []);
  assertEquals(await Deno.readTextFile(kernel), "kept\n");
});

Deno.test("a kernel changed in the image is staged again on the next run", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await runNodeset(t.root, "cn02", { kind: "osimage", image: IMAGES.netboot });
  const source = hostPath(t.root, "/install/netboot/rhels9.2/x86_64/compute/initrd-stateless.gz");
  await Deno.writeTextFile(source, "a new initrd, longer than before\n");
  const again = await runNodeset(t.root, "cn02", { kind: "osimage", image: IMAGES.netboot });
  assertEquals(again.staged, ["xcat/osimage/rhels9.2-x86_64-netboot-compute/initrd-stateless.gz"]);
  assertEquals(
    await Deno.readTextFile(
      hostPath(
        t.root,
        "/tftpboot/xcat/osimage/rhels9.2-x86_64-netboot-compute/initrd-stateless.gz",
      ),
    ),
    "a new initrd, longer than before\n",
  );
});

Deno.test("nodeset fails at once while another verb holds the image's lock, writing nothing", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  const lock = await acquireImageLock(
    hostPath(t.root, `/install/${LOCK_DIR_NAME}`),
    IMAGES.netboot,
    "packimage",
  );
  try {
    const before = await snapshotTree(t.root + "/tftpboot");
    await rejects(
      runNodeset(t.root, "cn01-cn04", { kind: "osimage", image: IMAGES.netboot }),
      (error: Error) =>
        /^image rhels9\.2-x86_64-netboot-compute is busy \(packimage, pid \d+\)$/.test(
          error.message,
        ),
    );
    assertEquals(await snapshotTree(t.root + "/tftpboot"), before);
  } finally {
    await lock.release();
  }
  await runNodeset(t.root, "cn01-cn04", { kind: "osimage", image: IMAGES.netboot });
  await rejects(Deno.stat(hostPath(t.root, `/install/${LOCK_DIR_NAME}`)), Deno.errors.NotFound);
});

Deno.test("host names resolve through the hosts table, then the system resolver (the seam)", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  const store = openTestStore(t.root);
  try {
    await store.write((writer) => writer.delete("hosts", { node: "cn01" }));
  } finally {
    store.close();
  }
  // mn01 is a node with hosts.ip; cn01 has none and only the resolver knows it.
  await defineRows(t.root, {
    nodelist: [{ node: "mn01", groups: "service" }],
    hosts: [{ node: "mn01", ip: "10.0.0.254" }],
    noderes: [{ node: "cn01", xcatmaster: "mn01" }],
  });
  const asked: string[] = [];
  await runNodeset(t.root, "cn01", { kind: "osimage", image: IMAGES.netboot }, {
    network: {
      lookup(name) {
        asked.push(name);
        return Promise.resolve(name === "cn01" ? "10.0.0.77" : undefined);
      },
      localAddresses: () => [],
    },
  });
  assertEquals(asked, ["cn01"]);
  const text = await Deno.readTextFile(hostPath(t.root, "/tftpboot/pxelinux.cfg/cn01"));
  ok(text.includes(" XCAT=10.0.0.254:3001 "), text);
  assertEquals(await Deno.readLink(hostPath(t.root, "/tftpboot/pxelinux.cfg/0A00004D")), "cn01");
});

Deno.test("a node with its own noderes.tftpdir is refused rather than written where its server does not look", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await defineRows(t.root, { noderes: [{ node: "cn02", tftpdir: "/srv/tftp" }] });
  await assertRefused(t.root, "cn01,cn02", IMAGES.netboot, [
    /^cn02: noderes\.tftpdir '\/srv\/tftp' differs from site\.tftpdir '\/tftpboot': osimg writes every entry under site\.tftpdir$/m,
  ]);
});

Deno.test("hostile names from a restored table (a node '../../etc/x', an image '..') are refused, nothing written", async () => {
  await using t = await testRoot();
  await defineNodesetCluster(t.root);
  await defineRows(t.root, {
    nodelist: [{ node: "../../etc/x", groups: "compute,all" }],
    mac: [{ node: "../../etc/x", mac: "aa:bb:cc:dd:ee:99" }],
    hosts: [{ node: "../../etc/x", ip: "10.0.0.99" }],
    osimage: [{
      imagename: "..",
      imagetype: "linux",
      provmethod: "netboot",
      osvers: "rhels9.2",
      osarch: "x86_64",
      profile: "compute",
    }],
    nodetype: [{ node: "cn02", provmethod: ".." }],
  });
  const before = await snapshotTree(t.root);
  for (const action of [{ kind: "offline" as const }, { kind: "osimage" as const }]) {
    let error: unknown;
    try {
      await runNodeset(t.root, "cn02,../../etc/x", action);
    } catch (caught) {
      error = caught;
    }
    ok(error instanceof AggregateProblemsError, String(error));
    const text = error.details.join("\n");
    ok(
      /^\.\.\/\.\.\/etc\/x: The object name '\.\.\/\.\.\/etc\/x' is invalid, Cannot use '\.' in node name\.$/m
        .test(text),
      text,
    );
    if (action.kind === "osimage") {
      ok(
        /^cn02: The object name '\.\.' is invalid: '\.' and '\.\.' name directories, not objects\.$/m
          .test(text),
        text,
      );
    }
  }
  assertEquals(await snapshotTree(t.root), before);
});
