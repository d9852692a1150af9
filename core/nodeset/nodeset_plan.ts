// What nodeset will do, decided before anything is written: each node's boot description,
// loader, addresses and table changes, each image's files to stage, and every problem found.
//
// Everything is read once (the node universe, osimage/linuximage rows, site) and grouped by
// image: the per-image work (which files exist, the kernel's EFI stub) is done once per image,
// the per-node work is in-memory lookups.

import { statSync } from "node:fs";
import type { Row } from "../store/store.ts";
import type { NodeUniverse } from "../nodes/node_universe.ts";
import { hostPath } from "../paths.ts";
import { rootImgDir } from "../image/osimage.ts";
import { objectNameProblem } from "../definitions/object_names.ts";
import { AggregateProblemsError, InvalidInputError, OsimgError } from "../errors.ts";
import { SITE_DEFAULTS } from "../store/schema.ts";
import {
  BOOT_SERVER,
  type BootEntry,
  type KernelArgument,
  parseKernelArguments,
} from "../../formats/boot/boot_entry.ts";
import {
  type Bootloader,
  BOOTLOADERS,
  bootloadersFor,
  findBootloader,
  type LoaderSettings,
  type NodeAddresses,
} from "../../providers/bootloaders/bootloaders.ts";
import {
  type BootFileNeed,
  findProvmethod,
  type ProvmethodBoot,
} from "../../providers/provmethods/provmethods.ts";
import type {
  BootImageFacts,
  BootNodeFacts,
  BootSiteFacts,
} from "../../providers/provmethods/node_boot.ts";
import { type DistroBoot, distroBootOf } from "../../providers/distros/distros.ts";
import { facingAddress, isIpv4, type NodesetNetwork } from "./network.ts";
import { commaList } from "../../formats/xcat/comma_list.ts";

/** What the nodes are set to. */
export type NodesetAction =
  | { kind: "osimage"; image?: string }
  | { kind: "boot" }
  | { kind: "offline" };

/** Everything nodeset reads, loaded once. */
export interface NodesetData {
  universe: NodeUniverse;
  /** osimage and linuximage rows by image name. */
  images: ReadonlyMap<string, { osimage: Row; linuximage: Row }>;
  /** The nodes' own nodetype and chain rows (to skip writing what is already there). */
  ownRows: { nodetype: ReadonlyMap<string, Row>; chain: ReadonlyMap<string, Row> };
  installDir: string;
  tftpDir: string;
}

/** A file nodeset copies into `<tftpdir>/xcat/osimage/<image>/`. */
export interface StagedFile {
  /** The source, a host path. */
  from: string;
  /** The copy, relative to the TFTP root. */
  to: string;
}

/** One node's part of the run. */
export interface NodePlan {
  node: string;
  /** chain.currstate after the run. */
  state: string;
  entry: BootEntry;
  /** Its loader; undefined only for `offline` of a node without noderes.netboot. */
  loader?: Bootloader;
  addresses: NodeAddresses;
  settings: LoaderSettings;
  /** Column values to write to the node's own nodetype/chain rows (none: leave them). */
  nodetype?: Row;
  chain: Row;
}

/** The whole run, validated. */
export interface NodesetPlan {
  nodes: NodePlan[];
  /** Files to stage, once per image. */
  staged: StagedFile[];
  /** Loader files the nodes fetch first that are not under the TFTP root (warnings). */
  missingLoaderFiles: string[];
}

/** Collects problems by message, so one line names every node it concerns. */
class Problems {
  readonly #byMessage = new Map<string, string[]>();

  add(nodes: string | readonly string[], message: string): void {
    let list = this.#byMessage.get(message);
    if (!list) this.#byMessage.set(message, list = []);
    list.push(...(typeof nodes === "string" ? [nodes] : nodes));
  }

  get size(): number {
    return this.#byMessage.size;
  }

  lines(): string[] {
    const lines: string[] = [];
    for (const [message, nodes] of this.#byMessage) {
      const shown = nodes.length > 8
        ? `${nodes.slice(0, 8).join(",")},... (${nodes.length} nodes)`
        : nodes.join(",");
      lines.push(`${shown}: ${message}`);
    }
    return lines;
  }
}

/** A host name, IP or `<xcatmaster>` turned into an IPv4 address, through the seam. */
class AddressBook {
  readonly #cache = new Map<string, string | undefined>();

  constructor(readonly universe: NodeUniverse, readonly network: NodesetNetwork) {}

  /** The address of `name`: itself when an IP, else hosts.ip, else the system resolver. */
  async resolve(name: string): Promise<string | undefined> {
    if (isIpv4(name)) return name;
    if (this.#cache.has(name)) return this.#cache.get(name);
    let ip = this.universe.hasNode(name)
      ? this.universe.inheritedValue("hosts", "ip", name)
      : undefined;
    if (ip !== undefined && !isIpv4(ip)) ip = undefined;
    ip ??= await this.network.lookup(name);
    this.#cache.set(name, ip);
    return ip;
  }
}

/** site values with xCAT's defaults. */
function siteFacts(universe: NodeUniverse): BootSiteFacts {
  const site = (key: string) => universe.site(key) ?? SITE_DEFAULTS[key];
  const nodeStatus = site("nodestatus");
  const flow = site("useflowcontrol");
  const debug = site("xcatdebugmode");
  return {
    httpMethod: site("httpmethod") ?? "http",
    httpPort: site("httpport") ?? "80",
    xcatdPort: site("xcatdport") ?? "3001",
    nodeStatus: !(nodeStatus !== undefined && /^(n|N|0)$/.test(nodeStatus)),
    flowControl: flow !== undefined && /^(1|yes)$/i.test(flow) ? "1" : "0",
    ...(debug === "1" || debug === "2" ? { debugMode: debug } : {}),
  };
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/** A mac.mac item as `aa:bb:cc:dd:ee:ff`, or undefined when it is not a MAC. */
function normalMac(text: string): string | undefined {
  let mac = text.trim().toLowerCase();
  if (/^[0-9a-f]{12}$/.test(mac)) mac = mac.replace(/(..)(?!$)/g, "$1:");
  mac = mac.replaceAll("-", ":");
  return MAC.test(mac) ? mac : undefined;
}

/**
 * The node's own MAC and its aliases from mac.mac (`mac`, or `mac!host|mac2!alias`): the item
 * naming the node, else the first plain one (xCAT's parseMacTabEntry takes the last plain one;
 * the reference has the first belong to the node).
 */
function parseMacs(value: string, node: string): { mac?: string; raw?: string; aliases: string[] } {
  const items = value.split("|").map((item) => item.trim()).filter((item) => item !== "");
  let own: string | undefined;
  const aliases: string[] = [];
  for (const item of items) {
    const bang = item.indexOf("!");
    if (bang < 0) {
      own ??= item;
      continue;
    }
    const host = item.slice(bang + 1);
    if (host === node) own = item.slice(0, bang);
    else aliases.push(host);
  }
  return { mac: own === undefined ? undefined : normalMac(own), raw: own, aliases };
}

/** The image-level part of a node's boot, computed once per image. */
interface ImageBoot {
  facts: BootImageFacts;
  method: ProvmethodBoot;
  distro: DistroBoot;
  found: Partial<Record<BootFileNeed["role"], string>>;
  kernelPath: string;
  initrdPaths: string[];
  efiStub: boolean;
  state: string;
  staged: StagedFile[];
  /** linuximage.addkcmdline unless a boottarget replaces it. */
  addkcmdline?: string;
}

/** EFI-stub kernels are PE images for x86-64: "PE\0\0" then machine 0x8664 (xnba.pm has_efistub). */
function hasEfiStub(path: string): boolean {
  let head: Uint8Array;
  try {
    const file = Deno.openSync(path);
    try {
      head = new Uint8Array(512);
      const count = file.readSync(head) ?? 0;
      head = head.subarray(0, count);
    } finally {
      file.close();
    }
  } catch {
    return false;
  }
  for (let index = 0; index + 6 <= head.length; index++) {
    if (
      head[index] === 0x50 && head[index + 1] === 0x45 && head[index + 2] === 0 &&
      head[index + 3] === 0 && head[index + 4] === 0x64 && head[index + 5] === 0x86
    ) return true;
  }
  return false;
}

function isReadableFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** What a planner needs besides the data. */
export interface PlanOptions {
  root: string;
  network: NodesetNetwork;
  /** --noupdateinitrd: do not stage kernel and initrd; what is staged must already be there. */
  noUpdateInitrd: boolean;
  /** The names of packed root images in xCAT's search order, then osimg's own. */
  packedRootNames: readonly string[];
  /** Progress per node planned. */
  advance?: () => void;
}

/**
 * Decides the run for `nodes` (already expanded), or throws one AggregateProblemsError listing
 * every problem (each naming the nodes and the attribute). Reads files (existence, the kernel's
 * first bytes) but writes nothing.
 */
export async function planNodeset(
  data: NodesetData,
  nodes: readonly string[],
  action: NodesetAction,
  options: PlanOptions,
): Promise<NodesetPlan> {
  const { universe } = data;
  const problems = new Problems();
  const site = siteFacts(universe);
  const addresses = new AddressBook(universe, options.network);
  const local = options.network.localAddresses();
  const debug = site.debugMode !== undefined;

  // The image of each node: the one named, or each node's nodetype.provmethod.
  const imageBoots = new Map<string, ImageBoot | string>();
  const imageBoot = (name: string): ImageBoot | string => {
    let found = imageBoots.get(name);
    if (found === undefined) imageBoots.set(name, found = prepareImage(data, name, options));
    return found;
  };
  if (action.kind === "osimage" && action.image !== undefined) {
    const named = data.images.get(action.image);
    if (!named) {
      // One message, nothing else checked: an unknown image writes nothing at all.
      throw new InvalidInputError(`Cannot find the OS image ${action.image} in the osimage table.`);
    }
    if (!named.osimage.provmethod) {
      throw new InvalidInputError(`osimage.provmethod for ${action.image} must be set.`);
    }
  }

  const plans: NodePlan[] = [];
  const staged = new Map<string, StagedFile>();
  const loaderFiles = new Set<string>();
  for (const node of nodes) {
    options.advance?.();
    // The name becomes a file name under the TFTP root (`pxelinux.cfg/<node>`): a row written
    // by another tool or a restored table may hold one that climbs out of it.
    const nameProblem = objectNameProblem("node", node);
    if (nameProblem !== undefined) {
      problems.add(node, nameProblem);
      continue;
    }
    const noderes = universe.inheritedRow("noderes", node);
    const netboot = noderes.netboot;
    if (noderes.tftpdir !== undefined && noderes.tftpdir.replace(/\/+$/, "") !== data.tftpDir) {
      // xCAT lets a node have its own TFTP root; osimg writes one, site.tftpdir, and says so
      // rather than write the node's entry where its TFTP server does not look.
      problems.add(
        node,
        `noderes.tftpdir '${noderes.tftpdir}' differs from site.tftpdir '${data.tftpDir}': osimg writes every entry under site.tftpdir`,
      );
      continue;
    }
    const loader = findBootloader(netboot);
    let image: ImageBoot | undefined;
    let imageName: string | undefined;
    if (action.kind === "osimage") {
      imageName = action.image ?? universe.inheritedValue("nodetype", "provmethod", node);
      if (imageName === undefined || findProvmethod(imageName) !== undefined) {
        problems.add(node, "OS image name must be specified in nodetype.provmethod");
        continue;
      }
      const prepared = imageBoot(imageName);
      if (typeof prepared === "string") {
        problems.add(node, prepared);
        continue;
      }
      image = prepared;
    }
    if (netboot === undefined) {
      if (action.kind !== "offline") {
        problems.add(
          node,
          `noderes.netboot is not set: set it with 'chdef ${node} netboot=<${
            BOOTLOADERS.map((each) => each.name).join("|")
          }>'`,
        );
        continue;
      }
    } else if (!loader) {
      if (action.kind !== "offline") {
        problems.add(
          node,
          `noderes.netboot '${netboot}' is not a boot loader osimg writes entries for (${
            BOOTLOADERS.map((each) => each.name).join(", ")
          })`,
        );
        continue;
      }
    } else if (image && !loader.archs.test(image.facts.osarch)) {
      problems.add(
        node,
        `noderes.netboot '${netboot}' does not boot ${image.facts.osarch} images ` +
          `(osimage ${image.facts.name}); valid options: ${
            bootloadersFor(image.facts.osarch).join(", ")
          }`,
      );
      continue;
    }

    const macValue = universe.inheritedValue("mac", "mac", node);
    const macs = macValue === undefined ? undefined : parseMacs(macValue, node);
    if (action.kind === "osimage") {
      if (!macs || macs.raw === undefined) {
        problems.add(node, "No MAC address available for this node (mac.mac is not set)");
        continue;
      }
    }
    if (macs?.raw !== undefined && macs.mac === undefined) {
      if (action.kind !== "offline") {
        problems.add(node, `mac.mac '${macs.raw}' is not a MAC address`);
        continue;
      }
    }
    const offline = action.kind === "offline";
    const ip = offline ? undefined : await addresses.resolve(node);
    if (!offline && ip === undefined) {
      problems.add(
        node,
        "Cannot determine the IP address: hosts.ip is not set and the system resolver does not know the name",
      );
      continue;
    }
    const ips = ip === undefined ? [] : [ip];
    for (const alias of macs?.aliases ?? []) {
      const aliasIp = offline ? undefined : await addresses.resolve(alias);
      if (aliasIp !== undefined && !ips.includes(aliasIp)) ips.push(aliasIp);
    }

    // The servers: xcatmaster (or the address facing the node), the image and TFTP servers.
    const named = (value: string | undefined) =>
      value === undefined || value === "<xcatmaster>" ? undefined : value;
    const masterName = named(noderes.xcatmaster);
    const masterIp = masterName === undefined ? undefined : await addresses.resolve(masterName);
    if (masterName !== undefined && masterIp === undefined) {
      problems.add(node, `Cannot resolve noderes.xcatmaster '${masterName}'`);
      continue;
    }
    const tftpName = named(noderes.tftpserver);
    const tftpIp = tftpName === undefined ? masterIp : await addresses.resolve(tftpName);
    if (tftpName !== undefined && tftpIp === undefined) {
      problems.add(node, `Cannot resolve noderes.tftpserver '${tftpName}'`);
      continue;
    }
    let facing: string | undefined;
    if (
      loader?.needsServerAddress && ip !== undefined &&
      (masterIp === undefined || tftpIp === undefined)
    ) {
      facing = facingAddress(local, ip);
      const master = universe.site("master");
      if (facing === undefined && master !== undefined) facing = await addresses.resolve(master);
      if (facing === undefined) {
        problems.add(
          node,
          "Unable to determine or reasonably guess the image server: set noderes.xcatmaster or site.master",
        );
        continue;
      }
    }
    const arch = image?.facts.osarch ?? universe.inheritedValue("nodetype", "arch", node) ??
      "x86_64";
    const settings: LoaderSettings = {
      server: masterIp ?? facing ?? "",
      tftpServer: tftpIp ?? facing ?? "",
      httpPort: site.httpPort,
      tftpDir: data.tftpDir,
      arch,
      debug,
      ipappend: image === undefined || !image.distro.noIpappend(image.facts.osvers),
    };
    const nodeAddresses: NodeAddresses = { node, ips, ...(macs?.mac ? { mac: macs.mac } : {}) };

    if (action.kind === "offline" || action.kind === "boot") {
      const state = action.kind;
      const plan: NodePlan = {
        node,
        state,
        entry: state === "boot" ? { kind: "local", state } : { kind: "offline" },
        ...(loader ? { loader } : {}),
        addresses: nodeAddresses,
        settings,
        chain: { currstate: state },
      };
      if (action.kind === "boot") {
        // `nodeset boot` blanks nodetype.provmethod unless the node's disk holds its image.
        const provmethod = universe.inheritedValue("nodetype", "provmethod", node);
        if (provmethod !== undefined) {
          const method = findProvmethod(provmethod) ??
            findProvmethod(data.images.get(provmethod)?.osimage.provmethod);
          if (!method?.boot?.keptOnBoot) plan.nodetype = { provmethod: "" };
        }
      }
      plans.push(plan);
      continue;
    }

    // osimage: the provmethod's arguments for this node.
    const img = image!;
    const imageServerName = named(noderes.nfsserver) ?? tftpName;
    const imageServerIp = imageServerName === undefined
      ? masterIp
      : await addresses.resolve(imageServerName);
    if (imageServerName !== undefined && imageServerIp === undefined) {
      problems.add(
        node,
        `Cannot resolve the image server '${imageServerName}' (noderes.nfsserver/tftpserver)`,
      );
      continue;
    }
    // A service node pool (noderes.servicenode naming several, "the first ... that is
    // accessible will be used"): the others serve the same /install, so the initrd may fail
    // over to them. One service node is the image server already, as xCAT writes it.
    const poolNames = commaList(noderes.servicenode);
    const poolImageServers: string[] = [];
    let poolProblem: string | undefined;
    for (const name of poolNames.length > 1 ? poolNames : []) {
      const poolIp = await addresses.resolve(name);
      if (poolIp === undefined) {
        poolProblem = `Cannot resolve the service node '${name}' (noderes.servicenode)`;
        break;
      }
      if (poolIp !== imageServerIp && !poolImageServers.includes(poolIp)) {
        poolImageServers.push(poolIp);
      }
    }
    if (poolProblem !== undefined) {
      problems.add(node, poolProblem);
      continue;
    }
    const nodehm = universe.inheritedRow("nodehm", node);
    const statelite = universe.inheritedRow("statelite", node);
    let statemnt: string | undefined;
    try {
      statemnt = statelite.statemnt === undefined
        ? undefined
        : substituteTableValues(statelite.statemnt, node, universe);
    } catch (error) {
      problems.add(node, (error as Error).message);
      continue;
    }
    const facts: BootNodeFacts = {
      name: node,
      mac: macs!.mac!,
      ...(noderes.installnic ? { installnic: noderes.installnic } : {}),
      ...(noderes.primarynic ? { primarynic: noderes.primarynic } : {}),
      master: masterIp ?? BOOT_SERVER,
      masterName: masterName ?? BOOT_SERVER,
      imageServer: imageServerIp ?? BOOT_SERVER,
      installServer: named(noderes.nfsserver) ?? masterName ?? BOOT_SERVER,
      ...(poolImageServers.length > 0 ? { poolImageServers } : {}),
      ...(nodehm.serialport !== undefined
        ? {
          serial: {
            port: nodehm.serialport,
            ...(nodehm.serialspeed ? { speed: nodehm.serialspeed } : {}),
            ...(nodehm.serialflow ? { flow: nodehm.serialflow } : {}),
          },
        }
        : {}),
      ...(statemnt !== undefined ? { statemnt } : {}),
      ...(statelite.mntopts !== undefined ? { mntopts: statelite.mntopts } : {}),
      ...(noderes.nfsdir !== undefined ? { nfsdir: noderes.nfsdir } : {}),
    };
    let args: KernelArgument[];
    try {
      args = img.method.args({
        image: img.facts,
        node: facts,
        site,
        distro: img.distro,
        found: img.found,
      });
      // addkcmdline: the node's bootparams.addkcmdline, then the image's; only the tokens for
      // the boot loader (R:: ones are for the installed system), #NODEATTRIB#/#TABLE# filled in.
      const add = [universe.inheritedValue("bootparams", "addkcmdline", node), img.addkcmdline]
        .filter((each): each is string => each !== undefined && each !== "").join(" ");
      if (add !== "") {
        const volatile = add.split(" ").filter((token) => !token.startsWith("R::")).join(" ");
        // xCAT writes nodetype before it renders, so the entry sees the image's values.
        const pending = { nodetype: nodetypeOf(img) };
        args = [
          ...args,
          ...parseKernelArguments(substituteNodeAttributes(volatile, node, universe, pending)),
        ];
      }
    } catch (error) {
      if (!(error instanceof OsimgError)) throw error;
      problems.add(node, error.message);
      continue;
    }
    for (const file of img.staged) staged.set(file.to, file);
    for (const file of loader!.loaderFiles(img.facts.osarch)) loaderFiles.add(file);
    plans.push({
      node,
      state: img.state,
      entry: {
        kind: "kernel",
        state: img.state,
        kernel: img.kernelPath,
        initrds: img.initrdPaths,
        args,
        efiStub: img.efiStub,
      },
      loader: loader!,
      addresses: nodeAddresses,
      settings,
      nodetype: nodetypeOf(img),
      chain: { currstate: img.state, ...(img.method.chainsToBoot ? { currchain: "boot" } : {}) },
    });
  }
  if (problems.size > 0) {
    const lines = problems.lines();
    throw new AggregateProblemsError(
      `nodeset found ${lines.length} problem${lines.length === 1 ? "" : "s"}; nothing was changed:`,
      lines,
    );
  }
  const missingLoaderFiles = [...loaderFiles].map((file) => `${data.tftpDir}/${file}`)
    .filter((path) => !isReadableFile(hostPath(options.root, path)));
  return { nodes: plans, staged: [...staged.values()], missingLoaderFiles };
}

/** Prepares an image's boot once: its facts, the files its nodes need, or why it cannot boot. */
function prepareImage(
  data: NodesetData,
  name: string,
  options: PlanOptions,
): ImageBoot | string {
  const rows = data.images.get(name);
  if (!rows) return `Cannot find the OS image ${name} in the osimage table (nodetype.provmethod)`;
  // The name becomes `<tftpdir>/xcat/osimage/<name>/`.
  const nameProblem = objectNameProblem("osimage", name);
  if (nameProblem !== undefined) return nameProblem;
  const { osimage, linuximage } = rows;
  const { provmethod, osvers, osarch } = osimage;
  const profile = osimage.profile ?? "";
  const method = provmethod ? findProvmethod(provmethod)?.boot : undefined;
  // A sysclone image has no profile (seed 002): only methods whose state names it need one.
  if (!provmethod || !osvers || !osarch || (profile === "" && method?.stateHasProfile !== false)) {
    return `osimage.provmethod, osimage.osvers, osimage.osarch and osimage.profile for ${name} must be set`;
  }
  if (!method) {
    return `osimage.provmethod '${provmethod}' of ${name} is not one nodeset can boot (install, netboot, statelite, sysclone)`;
  }
  const distro = distroBootOf(osvers);
  if (!distro) return `nodeset cannot boot ${osvers} images (osimage.osvers of ${name})`;
  let rootimgdir: string;
  try {
    rootimgdir = method.imageDir
      ? method.imageDir(data.installDir, name)
      : rootImgDir({ name, osimage, linuximage }, data.installDir);
  } catch (error) {
    return (error as Error).message;
  }
  const pkgdir = (linuximage.pkgdir ?? "").split(",")[0]?.trim().replace(/\/+$/, "") ||
    `${data.installDir}/${osvers}/${osarch}`;
  const facts: BootImageFacts = {
    name,
    provmethod,
    osvers,
    osarch,
    profile,
    rootimgdir,
    rootfstype: osimage.rootfstype || "nfs",
    ...(osimage.nfsrootopts ? { nfsrootopts: osimage.nfsrootopts } : {}),
    ...(linuximage.nodebootif ? { nodebootif: linuximage.nodebootif } : {}),
    ...(linuximage.dump ? { dump: linuximage.dump } : {}),
    ...(linuximage.crashkernelsize ? { crashkernelsize: linuximage.crashkernelsize } : {}),
    pkgdir,
    installDir: data.installDir,
    tftpDir: data.tftpDir,
    ...(linuximage.template ? { template: linuximage.template } : {}),
  };
  let needs: BootFileNeed[];
  try {
    needs = method.needs(facts, distro, options.packedRootNames);
  } catch (error) {
    if (!(error instanceof OsimgError)) throw error;
    return `${error.message} (osimage ${name})`;
  }
  const stagedDir = `xcat/osimage/${name}`;
  const found: Partial<Record<BootFileNeed["role"], string>> = {};
  const staged: StagedFile[] = [];
  let kernelPath = "";
  const initrdPaths: string[] = [];
  let efiStub = false;
  for (const need of needs) {
    const hit = need.candidates.find((candidate) =>
      isReadableFile(hostPath(options.root, `${need.dir}/${candidate}`))
    );
    if (hit === undefined) return need.missing;
    found[need.role] = hit;
    const source = hostPath(options.root, `${need.dir}/${hit}`);
    let path: string;
    if (need.stagedAs !== undefined) {
      path = `${stagedDir}/${need.stagedAs}`;
      staged.push({ from: source, to: path });
      if (
        options.noUpdateInitrd && !isReadableFile(hostPath(options.root, `${data.tftpDir}/${path}`))
      ) {
        return `Copying to ${data.tftpDir}/${stagedDir} failed: --noupdateinitrd was given and ${data.tftpDir}/${path} does not exist`;
      }
    } else if (need.role !== "root") {
      // Used in place: it must lie below the TFTP root.
      if (!need.dir.startsWith(`${data.tftpDir}/`)) {
        return `${need.dir}/${hit} is not under the TFTP root ${data.tftpDir}`;
      }
      path = `${need.dir.slice(data.tftpDir.length + 1)}/${hit}`;
    } else continue;
    if (need.role === "kernel") {
      kernelPath = path;
      efiStub = hasEfiStub(source) && !distro.efiStubBroken(osvers);
    } else initrdPaths.push(path);
  }
  const addkcmdline = linuximage.boottarget ? undefined : linuximage.addkcmdline;
  return {
    facts,
    method,
    distro,
    found,
    kernelPath,
    initrdPaths,
    efiStub,
    state: `${provmethod} ${osvers}-${osarch}${method.stateHasProfile ? `-${profile}` : ""}`,
    staged: options.noUpdateInitrd ? [] : staged,
    ...(addkcmdline ? { addkcmdline } : {}),
  };
}

/** The nodetype columns `nodeset osimage` writes (destiny.pm setdestiny). */
function nodetypeOf(image: ImageBoot): Row {
  return {
    provmethod: image.facts.name,
    profile: image.facts.profile,
    os: image.facts.osvers,
    arch: image.facts.osarch,
  };
}

/** Values about to be written, by table and column, that substitutions see first. */
type PendingValues = Readonly<Record<string, Readonly<Row>>>;

/** A node-keyed table's column for the node, checked to be one nodeset loaded. */
function nodeAttribute(
  universe: NodeUniverse,
  table: string,
  column: string,
  node: string,
  pending: PendingValues = {},
): string {
  const value = pending[table]?.[column];
  if (value !== undefined) return value;
  if (!universe.hasTable(table)) {
    throw new InvalidInputError(`'${table}.${column}' is not a column of a table keyed by node`);
  }
  return universe.inheritedValue(table, column, node) ?? "";
}

/**
 * addkcmdline's mini-template: `#NODEATTRIB:table:column#` and `#TABLE:table:$NODE:column#`
 * (or THISNODE) become the node's value (xnba.pm, pxe.pm setstate).
 */
export function substituteNodeAttributes(
  text: string,
  node: string,
  universe: NodeUniverse,
  pending: PendingValues = {},
): string {
  return text
    .replace(
      /#NODEATTRIB:([^:#]+):([^:#]+)#/g,
      (_, table: string, column: string) => nodeAttribute(universe, table, column, node, pending),
    )
    .replace(
      /#TABLE:([^:#]+):([^:#]+):([^:#]+)#/g,
      (_, table: string, key: string, column: string) => {
        if (!/THISNODE|\$NODE/.test(key)) {
          throw new InvalidInputError(
            `Table key of ${key} not yet supported by boottarget mini-template`,
          );
        }
        return nodeAttribute(universe, table, column, node, pending);
      },
    );
}

/**
 * statelite.statemnt's `$table.column` references filled in with the node's values (xCAT's
 * subVars); `#CMD=...#` (a command run on the management node) is refused.
 */
export function substituteTableValues(text: string, node: string, universe: NodeUniverse): string {
  if (/#CMD/.test(text)) {
    throw new InvalidInputError(
      `statelite.statemnt '${text}' runs a command (#CMD=...#), which osimg does not do; write the value itself`,
    );
  }
  if (!text.includes("$")) return text;
  const colon = text.indexOf(":");
  const fill = (part: string) =>
    part.replace(
      /\$([A-Za-z_]+)\.([A-Za-z_]+)/g,
      (_, table: string, column: string) => nodeAttribute(universe, table, column, node),
    );
  // xCAT collapses the `//` a substitution leaves in the directory part.
  return colon < 0
    ? fill(text).replace(/\/\//g, "/")
    : `${fill(text.slice(0, colon))}:${fill(text.slice(colon + 1)).replace(/\/\//g, "/")}`;
}
