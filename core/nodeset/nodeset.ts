// nodeset: set nodes to boot an osimage, their disk, or nothing, by writing their boot-loader
// entries under the TFTP root and chain/nodetype as xCAT does; `stat` reports their state.
//
// Everything is validated before the first write (plan), then kernels are staged once per
// image, the entries rendered in memory and written compare-first (boot_tree), and the tables
// changed in one transaction.

import type { Context } from "../context.ts";
import { hostPath } from "../paths.ts";
import type { Row } from "../store/store.ts";
import { loadNodeUniverse } from "../nodes/node_universe.ts";
import { expandNoderange } from "../nodes/noderange.ts";
import { noderangeEnvironment } from "../nodes/noderange_environment.ts";
import { readInstallDir, readTftpDir } from "../image/osimage.ts";
import { objectNameProblem } from "../definitions/object_names.ts";
import { acquireImageLock, type ImageLock, LOCK_DIR_NAME } from "../image/image_lock.ts";
import { ROOTIMG_NAMES } from "../bundle/bundle_export.ts";
import { readEntryState } from "../../formats/boot/boot_entry.ts";
import { BOOTLOADERS, findBootloader } from "../../providers/bootloaders/bootloaders.ts";
import { type NodesetAction, type NodesetData, planNodeset } from "./nodeset_plan.ts";
import { applyBootTree, type BootTreeChanges, renderPlans, stageFiles } from "./boot_tree.ts";
import { type NodesetNetwork, systemNetwork } from "./network.ts";
import { findProvmethod } from "../../providers/provmethods/provmethods.ts";
import { buildSyscloneDeployEnvironment } from "../sysclone/deploy_environment.ts";

export type { NodesetAction };

/** A nodeset command line, its flags parsed. */
export interface NodesetRequest {
  range: string;
  action: NodesetAction;
  /** --noupdateinitrd: leave the staged kernel and initrd as they are. */
  noUpdateInitrd: boolean;
}

/** What nodeset did. */
export interface NodesetResult {
  /** Each node with its chain.currstate, in noderange order. */
  nodes: { node: string; state: string }[];
  /** Kernels and initrds copied into the TFTP root. */
  staged: string[];
  changes: BootTreeChanges;
  /** Boot-loader binaries the nodes fetch first that the TFTP root lacks (warn: they cannot boot). */
  missingLoaderFiles: string[];
}

/** Reads everything nodeset needs: one read of each table, whatever the number of nodes. */
async function loadNodesetData(ctx: Pick<Context, "store">): Promise<NodesetData> {
  const store = await ctx.store();
  return await store.read(async (reader) => {
    const universe = await loadNodeUniverse(reader);
    const images = new Map<string, { osimage: Row; linuximage: Row }>();
    const linuximages = new Map<string, Row>();
    for (const row of await reader.rows("linuximage")) {
      if (row.imagename) linuximages.set(row.imagename, row);
    }
    for (const row of await reader.rows("osimage")) {
      if (row.imagename) {
        images.set(row.imagename, {
          osimage: row,
          linuximage: linuximages.get(row.imagename) ?? {},
        });
      }
    }
    const own = async (table: string) => {
      const rows = new Map<string, Row>();
      for (const row of await reader.rows(table)) if (row.node) rows.set(row.node, row);
      return rows;
    };
    return {
      universe,
      images,
      ownRows: { nodetype: await own("nodetype"), chain: await own("chain") },
      installDir: await readInstallDir(reader),
      tftpDir: await readTftpDir(reader),
    };
  });
}

function expand(ctx: Pick<Context, "cwd" | "env">, data: NodesetData, range: string): string[] {
  return expandNoderange(range, data.universe, { ...noderangeEnvironment(ctx), verify: true });
}

/** The columns of `wanted` that differ from the node's own row (only those are written). */
function differing(own: Row | undefined, wanted: Row): Row | undefined {
  let changed: Row | undefined;
  for (const [column, value] of Object.entries(wanted)) {
    if ((own?.[column] ?? "") !== value) (changed ??= {})[column] = value;
  }
  return changed;
}

/**
 * nodeset: validates every node first (one AggregateProblemsError naming each problem's nodes
 * and attribute; nothing written), then stages kernels, writes the entries and the tables.
 *
 * @example
 * ```ts
 * const result = await nodeset(ctx, { range: "compute", action: { kind: "osimage" }, noUpdateInitrd: false });
 * for (const { node, state } of result.nodes) ctx.reporter.line(`${node}: ${state}`);
 * ```
 */
export async function nodeset(
  ctx: Pick<Context, "store" | "root" | "cwd" | "env" | "progress" | "runner">,
  request: NodesetRequest,
  network: NodesetNetwork = systemNetwork,
): Promise<NodesetResult> {
  const data = await loadNodesetData(ctx);
  const nodes = expand(ctx, data, request.range);
  // The images' locks, so packimage or rmimage cannot swap the files nodeset checks and stages
  // under it (a busy image fails at once, like the image verbs).
  const locks: ImageLock[] = [];
  const progress = ctx.progress("nodeset", nodes.length * 2);
  try {
    const lockDir = hostPath(ctx.root, `${data.installDir}/${LOCK_DIR_NAME}`);
    for (const image of imagesOf(data, nodes, request.action)) {
      locks.push(await acquireImageLock(lockDir, image, "nodeset"));
      // An image whose nodes boot an environment built from it (sysclone) gets it built or
      // brought up to date now, under its lock; the plan then checks and stages its files.
      const osimage = data.images.get(image)!.osimage;
      if (findProvmethod(osimage.provmethod)?.boot?.deployEnvironment && !request.noUpdateInitrd) {
        progress.label(`building the deploy environment of ${image}`);
        await buildSyscloneDeployEnvironment(ctx.runner, ctx.root, data.installDir, image, osimage);
      }
    }
    const plan = await planNodeset(data, nodes, request.action, {
      root: ctx.root,
      network,
      noUpdateInitrd: request.noUpdateInitrd,
      packedRootNames: ROOTIMG_NAMES,
      advance: () => progress.advance(1),
    });
    const tftpHost = hostPath(ctx.root, data.tftpDir);
    const staged = stageFiles(tftpHost, plan.staged);
    const changes = applyBootTree(
      tftpHost,
      plan.nodes,
      renderPlans(plan.nodes),
      () => progress.advance(1),
    );
    // The tables last: a failure writing files leaves them saying what the nodes booted before.
    const updates: { table: string; row: Row }[] = [];
    for (const node of plan.nodes) {
      const nodetype = node.nodetype &&
        differing(data.ownRows.nodetype.get(node.node), node.nodetype);
      if (nodetype) updates.push({ table: "nodetype", row: { node: node.node, ...nodetype } });
      const chain = differing(data.ownRows.chain.get(node.node), node.chain);
      if (chain) updates.push({ table: "chain", row: { node: node.node, ...chain } });
    }
    if (updates.length > 0) {
      const store = await ctx.store();
      await store.write(async (writer) => {
        for (const { table, row } of updates) await writer.upsert(table, row);
      });
    }
    return {
      nodes: plan.nodes.map((node) => ({ node: node.node, state: node.state })),
      staged,
      changes,
      missingLoaderFiles: plan.missingLoaderFiles,
    };
  } finally {
    progress.done();
    for (const lock of locks.reverse()) await lock.release();
  }
}

/** The defined images `nodeset osimage` boots these nodes into, sorted. */
function imagesOf(data: NodesetData, nodes: readonly string[], action: NodesetAction): string[] {
  if (action.kind !== "osimage") return [];
  const names = new Set<string>();
  for (const node of nodes) {
    const name = action.image ?? data.universe.inheritedValue("nodetype", "provmethod", node);
    // A name that cannot be a file name is refused by the plan, with its message.
    if (name !== undefined && data.images.has(name) && !objectNameProblem("osimage", name)) {
      names.add(name);
    }
  }
  return [...names].sort();
}

/**
 * nodeset stat: each node's state as its loader's entry says (the state line xCAT writes),
 * chain.currstate for an entry without one, or the loader's word for no entry.
 */
export async function nodesetStat(
  ctx: Pick<Context, "store" | "root" | "cwd" | "env">,
  range: string,
): Promise<{ node: string; state: string }[]> {
  const data = await loadNodesetData(ctx);
  const tftpHost = hostPath(ctx.root, data.tftpDir);
  const read = (path: string): string | undefined => {
    try {
      return Deno.readTextFileSync(`${tftpHost}/${path}`);
    } catch {
      return undefined;
    }
  };
  return expand(ctx, data, range).map((node) => {
    const loader = findBootloader(data.universe.inheritedValue("noderes", "netboot", node));
    const loaders = loader ? [loader] : BOOTLOADERS;
    for (const each of loaders) {
      for (const path of each.stateFiles(node)) {
        const text = read(path);
        if (text === undefined) continue;
        const state = readEntryState(text) ??
          data.universe.inheritedValue("chain", "currstate", node) ?? "unknown";
        return { node, state };
      }
    }
    const word = (loader ?? BOOTLOADERS[0]!).noEntryState;
    return {
      node,
      state: word === "table"
        ? data.universe.inheritedValue("chain", "currstate", node) ?? "offline"
        : word,
    };
  });
}
