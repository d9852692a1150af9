import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { parseStanzas, serializeStanzas, type StanzaObject, StanzaSyntaxError } from "./stanza.ts";
import { InvalidInputError } from "../../core/errors.ts";

const REFERENCE_EXAMPLE = `# <xCAT data object stanza file>

cn01:
    objtype=node
    arch=x86_64
    groups=compute,all
    mac=52:54:00:aa:bb:01
    netboot=xnba
    os=rhels9.2
    profile=compute
    provmethod=rhels9.2-x86_64-netboot-compute
`;

const CN01: StanzaObject = {
  name: "cn01",
  type: "node",
  attributes: {
    provmethod: "rhels9.2-x86_64-netboot-compute",
    groups: "compute,all",
    os: "rhels9.2",
    arch: "x86_64",
    profile: "compute",
    netboot: "xnba",
    mac: "52:54:00:aa:bb:01",
  },
};

Deno.test("serializeStanzas prints the reference's lsdef -z example byte for byte", () => {
  assertEquals(serializeStanzas([CN01]), REFERENCE_EXAMPLE);
});

Deno.test("serializeStanzas: header only for no objects, a blank line before each object", () => {
  assertEquals(serializeStanzas([]), "# <xCAT data object stanza file>\n");
  assertEquals(
    serializeStanzas([
      { name: "a", type: "osimage", attributes: { b: "2", a: "1" } },
      { name: "b", type: "group", attributes: {} },
    ]),
    "# <xCAT data object stanza file>\n\na:\n    objtype=osimage\n    a=1\n    b=2\n\n" +
      "b:\n    objtype=group\n",
  );
});

Deno.test("attributes sort in plain ASCII order (capitals and digits first)", () => {
  const text = serializeStanzas([{
    name: "x",
    type: "node",
    attributes: { b: "1", B: "2", a10: "3", a2: "4", _x: "5" },
  }]);
  assertEquals(
    text.split("\n").slice(4, -1),
    ["    B=2", "    _x=5", "    a10=3", "    a2=4", "    b=1"],
  );
});

Deno.test("round trip: serialize then parse gives the same objects", () => {
  const objects: StanzaObject[] = [
    CN01,
    {
      name: "rhels9.2-x86_64-netboot-compute",
      type: "osimage",
      attributes: { addkcmdline: "console=ttyS0,115200 quiet", pkgdir: "/install/rhels9.2/x86_64" },
    },
    { name: "fd59::/64", type: "network", attributes: { net: "fd59::", mask: "/64" } },
    { name: "clustersite", type: "site", attributes: { excludenodes: "cn1,cn2" } },
  ];
  const parsed = parseStanzas(serializeStanzas(objects));
  assertEquals(parsed, objects);
});

Deno.test("parse: comments, blank lines, indentation, spaces around '=', quotes", () => {
  const text = `
# a comment
   # an indented comment
cn01:
  objtype = node
  groups = "compute,all"
\tos=rhels9.2   
  kcmdline="console=tty0 quiet"
  usercomment="say ""hi"""
`;
  assertEquals(parseStanzas(text), [{
    name: "cn01",
    type: "node",
    attributes: {
      groups: "compute,all",
      os: "rhels9.2",
      kcmdline: "console=tty0 quiet",
      usercomment: 'say ""hi""',
    },
  }]);
});

Deno.test("parse: CRLF line ends and a file without a trailing newline", () => {
  assertEquals(parseStanzas("cn1:\r\n  objtype=node\r\n  groups=all"), [
    { name: "cn1", type: "node", attributes: { groups: "all" } },
  ]);
});

Deno.test("parse: IPv6 network names keep every colon but the last; values may end in ':'", () => {
  const parsed = parseStanzas(
    "fd59::/64:\n  objtype=network\n  net=fd59::\n  mask=/64\nnode1::\n  objtype=node\n",
  );
  assertEquals(parsed.map((object) => object.name), ["fd59::/64", "node1:"]);
  assertEquals(parsed[0]!.attributes, { net: "fd59::", mask: "/64" });
});

Deno.test("defaults stanzas apply at objtype=, are cumulative, and later lines override", () => {
  const text = `
default-node:
  groups=all
  arch=x86_64
cn1:
  os=early
  objtype=node
  os=rhels9.2
default-node:
  netboot=xnba
  arch=ppc64le
cn2:
  objtype=node
  arch=aarch64
img:
  objtype=osimage
  provmethod=netboot
`;
  assertEquals(parseStanzas(text), [
    { name: "cn1", type: "node", attributes: { os: "rhels9.2", groups: "all", arch: "x86_64" } },
    {
      name: "cn2",
      type: "node",
      attributes: { groups: "all", arch: "aarch64", netboot: "xnba" },
    },
    { name: "img", type: "osimage", attributes: { provmethod: "netboot" } },
  ]);
});

Deno.test("a default stanza overrides attributes set before the objtype line (xCAT order)", () => {
  const parsed = parseStanzas("default-node:\n groups=all\ncn1:\n groups=x\n objtype=node\n");
  assertEquals(parsed[0]!.attributes, { groups: "all" });
});

Deno.test("an object without objtype takes the default type and its defaults", () => {
  assertEquals(parseStanzas("default-node:\n groups=all\ncn1:\n os=x\n", "node"), [
    { name: "cn1", type: "node", attributes: { groups: "all", os: "x" } },
  ]);
  assertEquals(parseStanzas("cn1:\n", "node"), [{ name: "cn1", type: "node", attributes: {} }]);
});

function syntaxError(text: string, line: number, fragment: string, defaultType?: string) {
  throws(() => parseStanzas(text, defaultType), (error: unknown) => {
    ok(error instanceof StanzaSyntaxError, `not a StanzaSyntaxError: ${error}`);
    ok(error instanceof InvalidInputError);
    assertEquals(error.line, line);
    ok(error.message.startsWith(`Malformed stanza input at line ${line}: `), error.message);
    ok(error.message.includes(fragment), error.message);
    return true;
  });
}

Deno.test("malformed: an attribute line before any header names its line", () => {
  syntaxError("# c\n\ngroups=all\ncn1:\n objtype=node\n", 3, "before any object header");
});

Deno.test("malformed: a header with '=' or text after the colon, a bare word", () => {
  syntaxError("cn1:\n objtype=node\na:b=c:\n", 3, "contains '='");
  syntaxError("cn1:\n objtype=node\ncn2: extra\n", 3, "neither an object header");
  syntaxError("cn1:\n objtype=node\n garbage\n", 3, "neither an object header");
  syntaxError("my node:\n objtype=node\n", 1, "not a valid object header");
  syntaxError(":\n objtype=node\n", 1, "not a valid object header");
});

Deno.test("malformed: an object without objtype, an empty objtype, a bad attribute name", () => {
  syntaxError("cn1:\n groups=all\ncn2:\n objtype=node\n", 1, "object 'cn1' has no 'objtype='");
  syntaxError("cn1:\n objtype=\n", 2, "needs a type");
  syntaxError("cn1:\n objtype=node\n =x\n", 3, "not an 'attr=value' line");
  syntaxError("cn1:\n objtype=node\n a b=x\n", 3, "not an 'attr=value' line");
  syntaxError("default-node:\n objtype=osimage\n", 2, "inside the defaults stanza");
});

Deno.test("serialize refuses a line break that would inject a stanza", () => {
  throws(
    () =>
      serializeStanzas([{
        name: "cn1",
        type: "node",
        attributes: { usercomment: "x\ncn2:\n    objtype=node" },
      }]),
    /Cannot write object 'cn1' as a stanza/,
  );
});

Deno.test("the lsdef -z | sed | mkdef -z copy idiom works at the format level", () => {
  const image: StanzaObject = {
    name: "rhels9.2-x86_64-netboot-compute",
    type: "osimage",
    attributes: {
      imagetype: "linux",
      osvers: "rhels9.2",
      profile: "compute",
      provmethod: "netboot",
      rootimgdir: "/install/netboot/rhels9.2/x86_64/compute",
    },
  };
  const dumped = serializeStanzas([image]);
  // sed 's/^rhels9.2-x86_64-netboot-compute:/myimage:/; s/compute$/myprofile/'
  const edited = dumped.split("\n").map((line) =>
    line.replace(/^rhels9\.2-x86_64-netboot-compute:/, "myimage:").replace(
      /compute$/,
      "myprofile",
    )
  ).join("\n");
  assertEquals(parseStanzas(edited), [{
    name: "myimage",
    type: "osimage",
    attributes: {
      ...image.attributes,
      profile: "myprofile",
      rootimgdir: "/install/netboot/rhels9.2/x86_64/myprofile",
    },
  }]);
});
