// Anaconda's .discinfo file, and how xCAT names RHEL-family media from it (timestamp table, description rules).

/** The four lines of a .discinfo file: build timestamp, description, architecture, disc numbers. */
export interface Discinfo {
  /** Line 1, the build's timestamp ("1681421276.520925"): the key of xCAT's table of known discs. */
  timestamp: string;
  /** Line 2 ("Red Hat Enterprise Linux 9.2", "Rocky Linux 9.3", "CentOS Stream 9"). */
  description: string;
  /** Line 3 ("x86_64", "aarch64", "ppc64le"); "" when absent. */
  arch: string;
  /** Line 4 ("ALL", "1", "1,2"); "" when absent. */
  discNumbers: string;
}

/**
 * Parses a .discinfo file as anaconda (and pungi, which writes it) lay it out: one value a line,
 * trailing white space and a CR dropped. Missing lines are "".
 *
 * @example
 * ```ts
 * parseDiscinfo("1681421276.520925\nRed Hat Enterprise Linux 9.2\nx86_64\nALL\n").description;
 * // "Red Hat Enterprise Linux 9.2"
 * ```
 */
export function parseDiscinfo(text: string): Discinfo {
  const lines = text.split("\n").map((line) => line.replace(/\s+$/, ""));
  return {
    timestamp: lines[0] ?? "",
    description: lines[1] ?? "",
    arch: lines[2] ?? "",
    discNumbers: lines[3] ?? "",
  };
}

/**
 * xCAT's table of known disc timestamps (perl-xCAT/xCAT/data/discinfo.pm): the discs whose
 * description does not give the name xCAT uses, or that predate the description rules. Facts
 * about published media (timestamp → xCAT's osvers); RHEL 8 discs are named with three parts.
 */
export const DISCINFO_DISTNAMES: ReadonlyMap<string, string> = new Map([
  ["1699649961.901830", "alma9.3"],
  ["1683740561.481881", "alma9.2"],
  ["1668611652.293224", "alma9.1"],
  ["1653492552.897374", "alma9.0"],
  ["1700507279.498559", "alma8.9"],
  ["1684368711.170717", "alma8.8"],
  ["1668064303.058266", "alma8.7"],
  ["1652294731.711015", "alma8.6"],
  ["1636648892.129507", "alma8.5"],
  ["1622014558.977612", "alma8.4"],
  ["1616719527.545010", "alma8.3"],
  ["1699827798.672747", "rocky9.3"],
  ["1683907016.7470503", "rocky9.2"],
  ["1669255400.517928", "rocky9.1"],
  ["1657031221.5900638", "rocky9.0"],
  ["1700593425.194997", "rocky8.9"],
  ["1684366557.751811", "rocky8.8"],
  ["1668116088.755845", "rocky8.7"],
  ["1652648703.486923", "rocky8.6"],
  ["1636882174.934804", "rocky8.5"],
  ["1624205633.869423", "rocky8.4"],
  ["1619847935.413219", "rocky8.3"],
  ["1636765473.891280", "centos8.5"],
  ["1578087695.538488", "centos8.1"],
  ["1578087695.537220", "centos8.1"],
  ["1603728831.612616", "centos7.9"],
  ["1480943823.812754", "centos7.3"],
  ["1450147276.351714", "centos7.2"],
  ["1449699925.561114", "centos7.2"],
  ["1427495138.035654", "centos7.1"],
  ["1404489053.504589", "centos7.0"],
  ["1399449226.171922", "rhels7"],
  ["1399449226.155578", "rhels7"],
  ["1424360759.989976", "rhels7.1"],
  ["1424360759.878519", "rhels7.1"],
  ["1424361409.280138", "rhels7.1"],
  ["1446216863.790260", "rhels7.2"],
  ["1446216863.764721", "rhels7.2"],
  ["1446216863.771788", "rhels7.2"],
  ["1554367054.162671", "rhels8.0.0"],
  ["1571146135.637073", "rhels8.1.0"],
  ["1585988230.312698", "rhels8.2.0"],
  ["1602239874.439561", "rhels8.3.0"],
  ["1620069559.055704", "rhels8.4.0"],
  ["1634111543.317017", "rhels8.5.0"],
  ["1650472728.682141", "rhels8.6.0"],
  ["1665640879.622493", "rhels8.7.0"],
  ["1681178617.415884", "rhels8.8.0"],
  ["1698675913.542581", "rhels8.9.0"],
  ["1673532738.064152", "rhels9.0"],
  ["1666859625.373080", "rhels9.1"],
  ["1681421276.520925", "rhels9.2"],
  ["1698234899.296206", "rhels9.3"],
  ["1399449226.140088", "rhelhpc7.0"],
  ["1424360759.772760", "rhelhpc7.1"],
  ["1446216863.725127", "rhelhpc7.2"],
  ["1529960248.065311", "ol6.10"],
]);

/** The parts of a .treeinfo that the description rules consult. */
export interface TreeinfoHints {
  /** [general] or [release] variant ("ComputeNode" marks RHEL for HPC compute nodes). */
  variant?: string;
  /** [general] family or [release] name ("CentOS", "Rocky Linux", "AlmaLinux"). */
  family?: string;
}

/**
 * The name xCAT gives a RHEL-family disc (anaconda.pm copycd), or undefined when it does not
 * know the disc: first the timestamp table, then the description: "CentOS Linux X" → centosX,
 * "CentOS Stream X" → centos-streamX, "Rocky Linux X" → rockyX, "AlmaLinux X" → almaX; then
 * "Red Hat Enterprise Linux … V" → rhelsV (with "-<fifth word>" when there are more than five
 * words, "-alternate" dropped; rhelhpc<fifth word> for a ComputeNode variant), "Oracle Linux X.Y"
 * or "OL-X.Y" → olX.Y (a ".0" third part dropped), "Fedora N" → fedoraN, and a bare number (old
 * CentOS, Rocky and Alma discs) → the .treeinfo family's name and that number.
 *
 * @example
 * ```ts
 * discinfoDistname(parseDiscinfo("1\nCentOS Stream 9\nx86_64\n"), {}); // "centos-stream9"
 * ```
 */
export function discinfoDistname(discinfo: Discinfo, treeinfo: TreeinfoHints): string | undefined {
  const known = DISCINFO_DISTNAMES.get(discinfo.timestamp);
  if (known !== undefined) return known;
  const description = discinfo.description;
  const prefixed: [RegExp, string][] = [
    [/CentOS Linux (.+)/, "centos"],
    [/CentOS Stream (.+)/, "centos-stream"],
    [/Rocky Linux (.+)/, "rocky"],
    [/AlmaLinux (.+)/, "alma"],
  ];
  for (const [pattern, name] of prefixed) {
    const match = pattern.exec(description);
    if (match) return name + match[1]!;
  }
  if (description.includes("Red Hat Enterprise Linux")) {
    const words = description.split(" ");
    if (treeinfo.variant === "ComputeNode") {
      return `rhelhpc${words[4] ?? ""}`;
    }
    const last = words[words.length - 1]!;
    const name = words.length > 5
      ? `rhels${last}-${(words[4] ?? "").toLowerCase()}`
      : `rhels${last}`;
    return name.replace(/-alternate$/, "");
  }
  const oracle = /Oracle Linux\s+((?:\d+\.)*\d+)/.exec(description) ??
    /OL-((?:\d+\.)*\d+)/.exec(description);
  if (oracle) return `ol${oracle[1]!.replace(/^(\d+\.\d+)\.0$/, "$1")}`;
  if (description.includes("Fedora")) {
    const word = description.split(/[- ]/)[1];
    return word ? `fedora${word}` : undefined;
  }
  if (/^[\d.]+$/.test(description)) {
    const family = treeinfo.family ?? "";
    if (/CentOS/i.test(family)) return `centos${description}`;
    if (/Rocky/i.test(family)) return `rocky${description}`;
    if (/Alma/i.test(family)) return `alma${description}`;
  }
  return undefined;
}
