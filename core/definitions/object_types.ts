// xCAT's object types and their attribute -> table.column mapping (Schema.pm %defspec).

/** Where an attribute of an object type is stored. */
export interface AttributeSpec {
  /** The attribute name users write (`lsdef` prints it). */
  name: string;
  table: string;
  column: string;
}

/** How an object type's rows are found. */
export type ObjectKeying =
  /** Each table holds the object in its key column (`imagename`, `node`, `kitname`, ...). */
  | { kind: "column"; keyColumns: Readonly<Record<string, string>> }
  /** One fixed object (`clustersite`) whose attributes are the rows of a key/value table. */
  | { kind: "keyvalue"; table: string; keyColumn: string; valueColumn: string; object: string };

/** One object type of xCAT's definition verbs. */
export interface ObjectTypeSpec {
  type: string;
  /** The attribute naming the object in stanzas and -w filters (`imagename`, `node`, ...). */
  nameAttribute: string;
  keying: ObjectKeying;
  attributes: readonly AttributeSpec[];
  /** Attributes that must be given when the object is created. */
  required?: readonly string[];
}

function attrs(table: string, spec: string): AttributeSpec[] {
  // "attr" maps to table.attr; "attr:column" maps to table.column.
  return spec.split(/\s+/).filter(Boolean).map((item) => {
    const [name, column] = item.split(":") as [string, string | undefined];
    return { name, table, column: column ?? name };
  });
}

const NODE_ATTRIBUTES: readonly AttributeSpec[] = [
  ...attrs(
    "nodelist",
    "groups status statustime appstatus appstatustime primarysn hidden updatestatus " +
      "updatestatustime zonename usercomment:comments",
  ),
  ...attrs("nodetype", "os arch profile provmethod supportedarchs nodetype"),
  ...attrs(
    "noderes",
    "servicenode netboot tftpserver tftpdir nfsserver monserver nfsdir installnic primarynic " +
      "discoverynics cmdinterface xcatmaster current_osimage next_osimage nimserver routenames " +
      "nameservers supportproxydhcp:proxydhcp syslog",
  ),
  ...attrs(
    "nodehm",
    "power mgt cons termserver termport conserver serialport serialspeed serialflow getmac " +
      "cmdmapping consoleondemand consoleenabled",
  ),
  ...attrs("mac", "interface mac"),
  ...attrs("hosts", "ip hostnames otherinterfaces"),
  ...attrs("postscripts", "postscripts postbootscripts"),
  ...attrs("bootparams", "kernel initrd kcmdline addkcmdline dhcpstatements adddhcpstatements"),
  ...attrs("chain", "currstate currchain chain ondiscover"),
];

/** The node-keyed tables (their key column is `node`; a group name may stand in it). */
export const NODE_TABLES: readonly string[] = [
  ...new Set(NODE_ATTRIBUTES.map((attribute) => attribute.table)),
];

function nodeKeys(extra: Record<string, string> = {}): Record<string, string> {
  return { ...Object.fromEntries(NODE_TABLES.map((table) => [table, "node"])), ...extra };
}

function columnsAsAttributes(table: string, key: string, columns: string): AttributeSpec[] {
  return attrs(table, columns.split(/\s+/).filter((column) => column && column !== key).join(" "));
}

/** Every object type osimg's definition verbs handle. */
export const OBJECT_TYPES: readonly ObjectTypeSpec[] = [
  {
    type: "node",
    nameAttribute: "node",
    keying: { kind: "column", keyColumns: nodeKeys() },
    attributes: NODE_ATTRIBUTES,
    required: ["groups"],
  },
  {
    type: "group",
    nameAttribute: "groupname",
    keying: { kind: "column", keyColumns: nodeKeys({ nodegroup: "groupname" }) },
    attributes: [
      ...attrs("nodegroup", "grouptype members membergroups wherevals usercomment:comments"),
      // A group carries node attributes for its members, except membership itself.
      ...NODE_ATTRIBUTES.filter((attribute) =>
        attribute.name !== "groups" && attribute.name !== "usercomment"
      ),
    ],
  },
  {
    type: "osimage",
    nameAttribute: "imagename",
    keying: { kind: "column", keyColumns: { osimage: "imagename", linuximage: "imagename" } },
    attributes: [
      ...attrs(
        "osimage",
        "groups profile imagetype description provmethod rootfstype nfsrootopts osdistroname " +
          "osupdatename cfmdir osname osvers osarch synclists postscripts postbootscripts " +
          "serverrole isdeletable kitcomponents environvar",
      ),
      ...attrs(
        "linuximage",
        "template boottarget addkcmdline pkglist pkgdir otherpkglist otherpkgdir exlist " +
          "postinstall rootimgdir kerneldir nodebootif otherifce netdrivers kernelver krpmver " +
          "permission dump crashkernelsize partitionfile driverupdatesrc usercomment:comments",
      ),
    ],
  },
  {
    type: "network",
    nameAttribute: "netname",
    keying: { kind: "column", keyColumns: { networks: "netname" } },
    attributes: attrs(
      "networks",
      "net mask mgtifname gateway dhcpserver tftpserver nameservers ntpservers logservers " +
        "dynamicrange nodehostname ddnsdomain vlanid domain staticrange staticrangeincrement mtu " +
        "usercomment:comments",
    ),
    required: ["net", "mask"],
  },
  {
    type: "site",
    nameAttribute: "sitename",
    keying: {
      kind: "keyvalue",
      table: "site",
      keyColumn: "key",
      valueColumn: "value",
      object: "clustersite",
    },
    attributes: [],
  },
  {
    type: "osdistro",
    nameAttribute: "osdistroname",
    keying: { kind: "column", keyColumns: { osdistro: "osdistroname" } },
    attributes: columnsAsAttributes(
      "osdistro",
      "osdistroname",
      "basename majorversion minorversion arch type dirpaths",
    ),
  },
  {
    type: "osdistroupdate",
    nameAttribute: "osupdatename",
    keying: { kind: "column", keyColumns: { osdistroupdate: "osupdatename" } },
    attributes: columnsAsAttributes(
      "osdistroupdate",
      "osupdatename",
      "osdistroname dirpath downloadtime",
    ),
  },
  {
    type: "kit",
    nameAttribute: "kitname",
    keying: { kind: "column", keyColumns: { kit: "kitname" } },
    attributes: columnsAsAttributes(
      "kit",
      "kitname",
      "basename description version release ostype isinternal kitdeployparams kitdir",
    ),
  },
  {
    type: "kitrepo",
    nameAttribute: "kitreponame",
    keying: { kind: "column", keyColumns: { kitrepo: "kitreponame" } },
    attributes: columnsAsAttributes(
      "kitrepo",
      "kitreponame",
      "kitname osbasename osmajorversion osminorversion osarch compat_osbasenames kitrepodir",
    ),
  },
  {
    type: "kitcomponent",
    nameAttribute: "kitcompname",
    keying: { kind: "column", keyColumns: { kitcomponent: "kitcompname" } },
    attributes: columnsAsAttributes(
      "kitcomponent",
      "kitcompname",
      "description kitname kitreponame basename version release serverroles kitpkgdeps " +
        "prerequisite driverpacks kitcompdeps postbootscripts genimage_postinstall exlist",
    ),
  },
];

const BY_TYPE = new Map(OBJECT_TYPES.map((spec) => [spec.type, spec]));

/** The spec of object type `type`, or undefined. */
export function findObjectType(type: string): ObjectTypeSpec | undefined {
  return BY_TYPE.get(type);
}

/** The attribute `name` of `spec`, or undefined. */
export function findAttribute(spec: ObjectTypeSpec, name: string): AttributeSpec | undefined {
  return spec.attributes.find((attribute) => attribute.name === name);
}

/** The tables an object type's rows live in, in a stable order. */
export function tablesOf(spec: ObjectTypeSpec): string[] {
  if (spec.keying.kind === "keyvalue") return [spec.keying.table];
  return Object.keys(spec.keying.keyColumns);
}
