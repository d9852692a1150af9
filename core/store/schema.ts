// xCAT's tables: names, columns in xCAT's order (perl-xCAT/xCAT/Schema.pm), and their keys.

/** One table of xCAT's schema. Every column is text; `comments` and `disable` always end it. */
export interface TableSpec {
  name: string;
  /** Columns in xCAT's declared order, `comments` and `disable` last. */
  columns: readonly string[];
  /** Primary-key columns. */
  keys: readonly string[];
  /** One line saying what the table holds (tabdump -d). */
  description: string;
}

function table(
  name: string,
  keys: readonly string[],
  columns: string,
  description: string,
): TableSpec {
  return {
    name,
    keys,
    columns: [...columns.split(/\s+/).filter(Boolean), "comments", "disable"],
    description,
  };
}

/** Every table osimg keeps, in xCAT's column order. */
export const TABLES: readonly TableSpec[] = [
  table(
    "bootparams",
    ["node"],
    "node kernel initrd kcmdline addkcmdline dhcpstatements adddhcpstatements",
    "Current boot settings to be sent to systems attempting network boot for deployment, " +
      "stateless, or other reasons.",
  ),
  table(
    "boottarget",
    ["bprofile"],
    "bprofile kernel initrd kcmdline",
    "Specify non-standard initrd, kernel, and parameters that should be used for a given profile.",
  ),
  table(
    "chain",
    ["node"],
    "node currstate currchain chain ondiscover",
    "Controls what operations are done (and it what order) when a node is discovered and deployed.",
  ),
  table(
    "hosts",
    ["node"],
    "node ip hostnames otherinterfaces",
    "IP addresses and hostnames of nodes.",
  ),
  table(
    "kit",
    ["kitname"],
    "kitname basename description version release ostype isinternal kitdeployparams kitdir",
    "This table stores all kits added to the xCAT cluster.",
  ),
  table(
    "kitcomponent",
    ["kitcompname"],
    "kitcompname description kitname kitreponame basename version release serverroles " +
      "kitpkgdeps prerequisite driverpacks kitcompdeps postbootscripts genimage_postinstall exlist",
    "This table stores all kit components added to the xCAT cluster.",
  ),
  table(
    "kitrepo",
    ["kitreponame"],
    "kitreponame kitname osbasename osmajorversion osminorversion osarch compat_osbasenames " +
      "kitrepodir",
    "This table stores all kits added to the xCAT cluster.",
  ),
  table(
    "linuximage",
    ["imagename"],
    "imagename template boottarget addkcmdline pkglist pkgdir otherpkglist otherpkgdir exlist " +
      "postinstall rootimgdir kerneldir nodebootif otherifce netdrivers kernelver krpmver " +
      "permission dump crashkernelsize partitionfile driverupdatesrc",
    "Information about a Linux operating system image that can be used to deploy cluster nodes.",
  ),
  table(
    "litefile",
    ["image", "file"],
    "image file options",
    "The litefile table specifies the directories and files on the statelite nodes that should " +
      "be readwrite, persistent, or readonly overlay.",
  ),
  table(
    "litetree",
    ["priority"],
    "priority image directory mntopts",
    "Directory hierarchy to traverse to get the initial contents of node files.",
  ),
  table(
    "mac",
    ["node"],
    "node interface mac",
    "The MAC address of the node's install adapter.",
  ),
  table(
    "networks",
    ["net", "mask"],
    "netname net mask mgtifname gateway dhcpserver tftpserver nameservers ntpservers " +
      "logservers dynamicrange staticrange staticrangeincrement nodehostname ddnsdomain vlanid " +
      "domain mtu",
    "Describes the networks in the cluster and info necessary to set up nodes on that network.",
  ),
  table(
    "nodegroup",
    ["groupname"],
    "groupname grouptype members membergroups wherevals",
    "Contains group definitions, whose membership is dynamic depending on characteristics of " +
      "the node.",
  ),
  table(
    "nodehm",
    ["node"],
    "node power mgt cons termserver termport conserver serialport serialspeed serialflow " +
      "getmac cmdmapping consoleondemand consoleenabled",
    "Settings that control how each node's hardware is managed.",
  ),
  table(
    "nodelist",
    ["node"],
    "node groups status statustime appstatus appstatustime primarysn hidden updatestatus " +
      "updatestatustime zonename",
    "The list of all the nodes in the cluster, including each node's current status and what " +
      "groups it is in.",
  ),
  table(
    "noderes",
    ["node"],
    "node servicenode netboot tftpserver tftpdir nfsserver monserver nfsdir installnic " +
      "primarynic discoverynics cmdinterface xcatmaster current_osimage next_osimage nimserver " +
      "routenames nameservers proxydhcp syslog",
    "Resources and settings to use when installing nodes.",
  ),
  table(
    "nodetype",
    ["node"],
    "node os arch profile provmethod supportedarchs nodetype",
    "A few hardware and software characteristics of the nodes.",
  ),
  table(
    "osdistro",
    ["osdistroname"],
    "osdistroname basename majorversion minorversion arch type dirpaths",
    "Information about all the OS distros in the xCAT cluster.",
  ),
  table(
    "osdistroupdate",
    ["osupdatename"],
    "osupdatename osdistroname dirpath downloadtime",
    "Information about the OS distro updates in the xCAT cluster.",
  ),
  table(
    "osimage",
    ["imagename"],
    "imagename groups profile imagetype description provmethod rootfstype nfsrootopts " +
      "osdistroname osupdatename cfmdir osname osvers osarch synclists postscripts " +
      "postbootscripts serverrole isdeletable kitcomponents environvar",
    "Basic information about an operating system image that can be used to deploy cluster nodes.",
  ),
  table(
    "passwd",
    ["key", "username"],
    "key username password cryptmethod authdomain",
    "Contains default userids and passwords for xCAT to access cluster components.",
  ),
  table(
    "postscripts",
    ["node"],
    "node postscripts postbootscripts",
    "The scripts that should be run on each node after installation or diskless boot.",
  ),
  table(
    "site",
    ["key"],
    "key value",
    "Global settings for the whole cluster.",
  ),
  table(
    "statelite",
    ["node"],
    "node image statemnt mntopts",
    "The location on an NFS server where a nodes persistent files are stored.",
  ),
];

const BY_NAME = new Map(TABLES.map((spec) => [spec.name, spec]));

/** The table named `name`, or undefined. */
export function findTable(name: string): TableSpec | undefined {
  return BY_NAME.get(name);
}

/** The osimage and linuximage columns, for the flat-manifest adapter of formats/xcat/manifest_xml.ts. */
export const MANIFEST_COLUMNS: { osimage: readonly string[]; linuximage: readonly string[] } = {
  osimage: BY_NAME.get("osimage")!.columns,
  linuximage: BY_NAME.get("linuximage")!.columns,
};

/** xCAT's defaults for site keys that are unset (xcatconfig). */
export const SITE_DEFAULTS: Readonly<Record<string, string>> = {
  installdir: "/install",
  tftpdir: "/tftpboot",
  xcatdport: "3001",
  xcatiport: "3002",
  xcatconfdir: "/etc/xcat",
  httpport: "80",
  httpmethod: "http",
  sharedtftp: "1",
  maxssh: "8",
  dhcplease: "43200",
  sshbetweennodes: "ALLGROUPS",
  dnshandler: "ddns",
};

/** True when a row's `disable` column comments it out, as xCAT reads it. */
export function isDisabled(row: Readonly<Record<string, string | undefined>>): boolean {
  const value = (row.disable ?? "").trim().toLowerCase();
  return value === "1" || value === "yes";
}
