// Tests for manifest.xml: golden bytes from XML::Simple, XMLin semantics, the 2.7 adapter, entity refusal.

import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { IntegrityError, InvalidInputError } from "../../core/errors.ts";
import { type Manifest, parseManifest, serializeManifest, xmlIn, xmlOut } from "./manifest_xml.ts";
import { MANIFEST_COLUMNS } from "../../core/store/schema.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`../../testdata/bundles/${name}`, import.meta.url));

const NETBOOT: Manifest = {
  osimage: {
    imagename: "rhels8.8.0-x86_64-netboot-compute",
    imagetype: "linux",
    osarch: "x86_64",
    osdistroname: "rhels8.8.0-x86_64",
    osname: "Linux",
    osvers: "rhels8.8.0",
    profile: "compute",
    provmethod: "netboot",
    synclists: "/install/custom/netboot/rh/compute.synclist",
  },
  linuximage: {
    imagename: "rhels8.8.0-x86_64-netboot-compute",
    exlist: "/opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.exlist",
    netdrivers: "e1000,virtio_net",
    nodebootif: "eth0",
    otherpkgdir: "/install/post/otherpkgs/rhels8.8.0/x86_64",
    otherpkglist: "/install/custom/netboot/rh/compute.otherpkgs.pkglist",
    pkgdir: "/install/rhels8.8.0/x86_64",
    pkglist: "/opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.pkglist",
    postinstall: "/opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.postinstall",
    rootimgdir: "/install/netboot/rhels8.8.0/x86_64/compute",
  },
  kernel: "/install/netboot/rhels8.8.0/x86_64/compute/kernel",
  ramdisk: "/install/netboot/rhels8.8.0/x86_64/compute/initrd-stateless.gz",
  rootimg: "/install/netboot/rhels8.8.0/x86_64/compute/rootimg.cpio.gz",
  postscripts: "syslog,remoteshell,syncfiles,myscript1",
  postbootscripts: "otherpkgs",
  extra: [
    { src: "/install/postscripts/myscript1", dest: "/install/postscripts" },
    { src: "/tmp/mydir", dest: "/usr/mydir" },
  ],
  kit: {},
  kitrepo: {},
  kitcomp: {},
};

const INSTALL: Manifest = {
  osimage: {
    imagename: "rhels8.8.0-x86_64-install-compute",
    imagetype: "linux",
    osarch: "x86_64",
    osdistroname: "rhels8.8.0-x86_64",
    osname: "Linux",
    osvers: "rhels8.8.0",
    profile: "compute",
    provmethod: "install",
  },
  linuximage: {
    addkcmdline: "quiet",
    imagename: "rhels8.8.0-x86_64-install-compute",
    otherpkgdir: "/install/post/otherpkgs/rhels8.8.0/x86_64",
    partitionfile: "/install/custom/my.partition",
    pkgdir: "/install/rhels8.8.0/x86_64",
    pkglist: "/opt/xcat/share/xcat/install/rh/compute.rhels8.pkglist",
    template: "/opt/xcat/share/xcat/install/rh/compute.rhels8.tmpl",
  },
  media: "required",
  extra: [],
  kit: {},
  kitrepo: {},
  kitcomp: {},
};

const STATELITE: Manifest = {
  osimage: {
    imagename: "rhels8.8.0-x86_64-statelite-compute",
    imagetype: "linux",
    osarch: "x86_64",
    osdistroname: "rhels8.8.0-x86_64",
    osname: "Linux",
    osvers: "rhels8.8.0",
    profile: "compute",
    provmethod: "statelite",
    rootfstype: "nfs",
  },
  linuximage: {
    exlist: "/opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.exlist",
    imagename: "rhels8.8.0-x86_64-statelite-compute",
    otherpkgdir: "/install/post/otherpkgs/rhels8.8.0/x86_64",
    permission: "755",
    pkgdir: "/install/rhels8.8.0/x86_64",
    pkglist: "/opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.pkglist",
    postinstall: "/opt/xcat/share/xcat/netboot/rh/compute.rhels8.x86_64.postinstall",
    rootimgdir: "/install/netboot/rhels8.8.0/x86_64/compute",
  },
  kernel: "/install/netboot/rhels8.8.0/x86_64/compute/kernel",
  ramdisk: "/install/netboot/rhels8.8.0/x86_64/compute/initrd-statelite.gz",
  rootimgtree: "/install/netboot/rhels8.8.0/x86_64/compute/rootimgtree.gz",
  litefile: "/install/netboot/rhels8.8.0/x86_64/compute/litefile.csv",
  extra: [],
  kit: {},
  kitrepo: {},
  kitcomp: {},
};

const KITS: Manifest = {
  ...INSTALL,
  osimage: {
    ...INSTALL.osimage,
    kitcomponents:
      "xlc.compiler-compute-13.1.6-0-rhels-7-x86_64,xlc.rte-compute-13.1.6-0-rhels-7-x86_64",
  },
  kit: {
    "xlc-13.1.6-0-rhels-7-x86_64": {
      basename: "xlc",
      description: "XLC for Linux",
      kitdir: "/install/kits/xlc-13.1.6-0-rhels-7-x86_64",
      kitname: "xlc-13.1.6-0-rhels-7-x86_64",
      ostype: "Linux",
      release: "0",
      version: "13.1.6",
    },
  },
  kitrepo: {
    "xlc-13.1.6-0-rhels-7-x86_64": {
      kitname: "xlc-13.1.6-0-rhels-7-x86_64",
      kitrepodir: "/install/kits/xlc-13.1.6-0-rhels-7-x86_64/repos/xlc-13.1.6-0-rhels-7-x86_64",
      kitreponame: "xlc-13.1.6-0-rhels-7-x86_64",
      osarch: "x86_64",
      osbasename: "rhels",
      osmajorversion: "7",
    },
  },
  kitcomp: {
    "xlc.compiler-compute-13.1.6-0-rhels-7-x86_64": {
      basename: "xlc.compiler-compute",
      kitcompname: "xlc.compiler-compute-13.1.6-0-rhels-7-x86_64",
      kitname: "xlc-13.1.6-0-rhels-7-x86_64",
      kitreponame: "xlc-13.1.6-0-rhels-7-x86_64",
      release: "0",
      serverroles: "compute",
      version: "13.1.6",
    },
    "xlc.rte-compute-13.1.6-0-rhels-7-x86_64": {
      basename: "xlc.rte-compute",
      kitcompname: "xlc.rte-compute-13.1.6-0-rhels-7-x86_64",
      kitname: "xlc-13.1.6-0-rhels-7-x86_64",
      kitreponame: "xlc-13.1.6-0-rhels-7-x86_64",
      release: "0",
      serverroles: "compute",
      version: "13.1.6",
    },
  },
};

const ESCAPING: Manifest = {
  ...INSTALL,
  osimage: {
    ...INSTALL.osimage,
    comments: `a & b < c > d "quoted" it's\ttab line  spaced `,
    description: "two\nlines",
  },
};

const RAW: Manifest = {
  ...INSTALL,
  media: undefined,
  osimage: { ...INSTALL.osimage, osarch: "s390x", provmethod: "raw" },
  rawimagefiles: [
    "/install/raw/rhels7.3/s390x/img1/0100.img",
    "/install/raw/rhels7.3/s390x/img1/0101.img",
  ],
};

/** Drops undefined optional fields, as a parse never produces them. */
function normalized(manifest: Manifest): Manifest {
  return JSON.parse(JSON.stringify(manifest));
}

function withoutParseInfo(manifest: ReturnType<typeof parseManifest>): Manifest {
  const { format: _format, ignored: _ignored, ...rest } = manifest;
  return rest;
}

Deno.test("serializeManifest writes the reference's XML::Simple examples byte for byte", () => {
  assertEquals(serializeManifest(NETBOOT), fixture("netboot.manifest.xml"));
  assertEquals(serializeManifest(INSTALL), fixture("install.manifest.xml"));
  assertEquals(serializeManifest(STATELITE), fixture("statelite.manifest.xml"));
});

Deno.test("serializeManifest matches XML::Simple for kits (both encodings), escaping and raw files", () => {
  assertEquals(
    serializeManifest(KITS, { kitEncoding: "native" }),
    fixture("kit-two-components.manifest.xml"),
  );
  assertEquals(serializeManifest(KITS), fixture("kit-by-element-name.manifest.xml"));
  assertEquals(serializeManifest(ESCAPING), fixture("escaping.manifest.xml"));
  assertEquals(serializeManifest(RAW), fixture("s390x-raw.manifest.xml"));
});

Deno.test("parseManifest reads every golden manifest back to the same structure", () => {
  for (
    const [manifest, name] of [
      [NETBOOT, "netboot.manifest.xml"],
      [INSTALL, "install.manifest.xml"],
      [STATELITE, "statelite.manifest.xml"],
      [KITS, "kit-two-components.manifest.xml"],
      [KITS, "kit-by-element-name.manifest.xml"],
      [ESCAPING, "escaping.manifest.xml"],
      [RAW, "s390x-raw.manifest.xml"],
    ] as const
  ) {
    const parsed = parseManifest(fixture(name), MANIFEST_COLUMNS);
    assertEquals(parsed.format, "nested", name);
    assertEquals(parsed.ignored, [], name);
    assertEquals(withoutParseInfo(parsed), normalized(manifest), name);
  }
});

Deno.test("parse(serialize(x)) == x for both kit encodings and a single kit", () => {
  const single: Manifest = {
    ...KITS,
    kitcomp: {
      "xlc.rte-compute-13.1.6-0-rhels-7-x86_64": KITS
        .kitcomp["xlc.rte-compute-13.1.6-0-rhels-7-x86_64"]!,
    },
  };
  for (const manifest of [NETBOOT, INSTALL, STATELITE, KITS, ESCAPING, RAW, single]) {
    for (const kitEncoding of ["by-name", "native"] as const) {
      const text = serializeManifest(manifest, { kitEncoding });
      assertEquals(withoutParseInfo(parseManifest(text, MANIFEST_COLUMNS)), normalized(manifest));
    }
  }
});

Deno.test("a single native kit row (which real xCAT cannot read) parses by its <name>", () => {
  const text = serializeManifest(
    { ...INSTALL, kit: { k1: { kitname: "k1", kitdir: "/install/kits/k1" } } },
    { kitEncoding: "native" },
  );
  ok(text.includes("  <kit>\n    <name>k1</name>\n    <kitdir>"));
  assertEquals(parseManifest(text, MANIFEST_COLUMNS).kit, {
    k1: { kitname: "k1", kitdir: "/install/kits/k1" },
  });
});

Deno.test("kit rows without <name> are keyed by their key column", () => {
  const text = `<?xml version="1.0"?>
<xcatimage>
  <kit><kitname>a</kitname><kitdir>/install/kits/a</kitdir></kit>
  <kit><kitname>b</kitname></kit>
  <kitcomp><kitcompname>c</kitcompname></kitcomp>
  <osimage><imagename>i</imagename></osimage>
</xcatimage>
`;
  const parsed = parseManifest(text, MANIFEST_COLUMNS);
  assertEquals(parsed.kit, {
    a: { kitname: "a", kitdir: "/install/kits/a" },
    b: { kitname: "b" },
  });
  assertEquals(parsed.kitcomp, { c: { kitcompname: "c" } });
});

Deno.test("a kit name that is not an XML name falls back to the native form with a warning", () => {
  const warnings: string[] = [];
  const text = serializeManifest(
    { ...INSTALL, kit: { "1kit:x": { kitname: "1kit:x" } } },
    { onWarning: (message) => warnings.push(message) },
  );
  assertEquals(warnings.length, 1);
  ok(warnings[0]!.includes("'1kit:x'"));
  ok(text.includes("<kit>\n    <name>1kit:x</name>"));
  assertEquals(parseManifest(text, MANIFEST_COLUMNS).kit, { "1kit:x": { kitname: "1kit:x" } });
});

Deno.test("2.7 flat manifests parse through xCAT's adapter", () => {
  const parsed = parseManifest(fixture("flat-2.7-netboot.manifest.xml"), MANIFEST_COLUMNS);
  assertEquals(parsed.format, "flat");
  assertEquals(parsed.osimage, {
    imagename: "myimage",
    imagetype: "linux",
    osarch: "ppc64le",
    osname: "Linux",
    osvers: "sles12",
    postbootscripts: "my4,otherpkgs,my3,my4",
    postscripts: "syslog,remoteshell,my1,configrmcnode,syncfiles,my1,my2",
    profile: "compute1",
    provmethod: "netboot",
    synclists: "/install/custom/netboot/sles/compute1.list",
  });
  assertEquals(parsed.linuximage, {
    exlist: "/install/custom/netboot/sles/compute1.exlist",
    imagename: "myimage",
    netdrivers: "e1000",
    otherpkgdir: "/install/post/otherpkgs/sles12/ppc64",
    otherpkglist: "/install/custom/netboot/sles/compute1.otherpkgs.pkglist",
    pkgdir: "/install/sles12/ppc64le",
    pkglist: "/install/custom/netboot/sles/compute1.pkglist",
    postinstall: "/install/custom/netboot/sles/compute1.postinstall",
    rootimgdir: "/install/netboot/sles12/ppc64le/compute1",
  });
  assertEquals(parsed.kernel, "/install/netboot/sles12/ppc64le/compute1/kernel");
  assertEquals(parsed.ramdisk, "/install/netboot/sles12/ppc64le/compute1/initrd-diskless.gz");
  assertEquals(parsed.rootimg, "/install/netboot/sles12/ppc64le/compute1/rootimg.gz");
  assertEquals(parsed.extra, [{
    src: "/install/postscripts/myscript1",
    dest: "/install/postscripts",
  }]);
  // The -p lists are osimage columns, so xCAT's adapter moves them: nothing left for -p.
  assertEquals(parsed.postscripts, undefined);
  const keep = parseManifest(fixture("flat-2.7-netboot.manifest.xml"), MANIFEST_COLUMNS, {
    flatPostscriptsToOsimage: false,
  });
  assertEquals(keep.postscripts, "syslog,remoteshell,my1,configrmcnode,syncfiles,my1,my2");
  assertEquals(keep.osimage.postscripts, undefined);
});

Deno.test("2.7's osdistro stays at the top level and is listed as ignored", () => {
  const parsed = parseManifest(
    `<?xml version="1.0"?>\n<xcatimage>\n  <imagename>i</imagename>\n  <osdistro>sles</osdistro>\n</xcatimage>\n`,
    MANIFEST_COLUMNS,
  );
  assertEquals(parsed.ignored, ["osdistro"]);
  assertEquals(parsed.osimage, { imagename: "i" });
  assertEquals(parsed.linuximage, { imagename: "i" });
});

Deno.test("xmlIn follows XMLin: arrays, folding, untrimmed text, empty leaves, attributes", () => {
  assertEquals(
    xmlIn(
      `<r a="1"><x> t </x><y>1</y><y>2</y><e/><w>  </w><f><name>n1</name><v>1</v></f>` +
        `<f><name>n2</name></f><m>one &amp; &#65;&#x42; &lt;&gt;&quot;&apos;</m></r>`,
    ),
    {
      a: "1",
      x: " t ",
      y: ["1", "2"],
      e: {},
      w: {},
      f: { n1: { v: "1" }, n2: {} },
      m: `one & AB <>"'`,
    },
  );
  assertEquals(xmlIn(`<r><c><![CDATA[<&>]]></c></r>`), { c: "<&>" });
});

Deno.test("xmlOut omits empty values and sorts with name/key/id first", () => {
  assertEquals(
    xmlOut({ z: "1", id: "i", name: "n", a: "", b: {}, c: { key: "k", b: "2", a: "1" } }, "r"),
    `<?xml version="1.0"?>\n<r>\n  <name>n</name>\n  <id>i</id>\n  <c>\n    <key>k</key>\n` +
      `    <a>1</a>\n    <b>2</b>\n  </c>\n  <z>1</z>\n</r>\n`,
  );
});

Deno.test("hostile: DOCTYPE/ENTITY declarations are refused (XXE, billion laughs)", () => {
  const xxe = `<?xml version="1.0"?>
<!DOCTYPE x [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<xcatimage><osimage><imagename>&xxe;</imagename></osimage></xcatimage>`;
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>
<xcatimage><kernel>&lol2;</kernel></xcatimage>`;
  for (const text of [xxe, laughs, `<!doctype x><x/>`]) {
    throws(
      () => parseManifest(text, MANIFEST_COLUMNS),
      (error) => error instanceof IntegrityError && /no XML entities/.test(error.message),
    );
  }
});

Deno.test("hostile: undeclared entity references are refused", () => {
  throws(
    () => parseManifest(`<xcatimage><kernel>&xxe;</kernel></xcatimage>`, MANIFEST_COLUMNS),
    (error) => error instanceof IntegrityError && /no XML entities/.test(error.message),
  );
});

Deno.test("malformed XML and wrong shapes give one clear error", () => {
  throws(
    () => parseManifest(`<xcatimage><osimage></xcatimage>`, MANIFEST_COLUMNS),
    (error) => error instanceof InvalidInputError && /Please verify the XML/.test(error.message),
  );
  throws(
    () =>
      parseManifest(
        `<xcatimage><osimage><imagename><a>1</a></imagename></osimage></xcatimage>`,
        MANIFEST_COLUMNS,
      ),
    (error) => error instanceof InvalidInputError && /osimage><imagename/.test(error.message),
  );
  throws(
    () =>
      parseManifest(
        `<xcatimage><kernel>a</kernel><kernel>b</kernel><osimage/></xcatimage>`,
        MANIFEST_COLUMNS,
      ),
    (error) =>
      error instanceof InvalidInputError && /<kernel> must be given once/.test(error.message),
  );
  throws(
    () =>
      parseManifest(
        `<xcatimage><osimage/><extra><src>a</src></extra></xcatimage>`,
        MANIFEST_COLUMNS,
      ),
    (error) => error instanceof InvalidInputError && /<extra>/.test(error.message),
  );
});

Deno.test("an empty column element reads as absent; the five key fields are trimmed", () => {
  const parsed = parseManifest(
    `<xcatimage><osimage><imagename> i </imagename><comments/><osvers>\nv\n</osvers>` +
      `<description> d </description></osimage></xcatimage>`,
    MANIFEST_COLUMNS,
  );
  assertEquals(parsed.osimage, { imagename: "i", osvers: "v", description: " d " });
});

Deno.test("xmlIn reads every fixture exactly as Perl's XML::Simple XMLin does (.xmlin.json)", () => {
  const dir = new URL("../../testdata/bundles/", import.meta.url);
  const names = [...Deno.readDirSync(dir)].map((entry) => entry.name)
    .filter((name) => name.endsWith(".manifest.xml"));
  ok(names.length >= 8);
  for (const name of names) {
    const expected = JSON.parse(fixture(name.replace(/\.xml$/, ".xmlin.json")));
    assertEquals(xmlIn(fixture(name)), expected, name);
  }
});
