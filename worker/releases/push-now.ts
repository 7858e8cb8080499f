/**
 * "Roll this release out now": SOFTWARE_UPDATE to nodes that run an older version, without
 * waiting for a triage decision. Named nodes get it whatever the rollout percentage says (an
 * admin asked for exactly them); the whole rollout goes through the Queue (push-fanout.ts), a
 * page of nodes per message, with the rollout applied. Retired (uninstalled) nodes never get it.
 * Pushing twice is harmless: the command id is derived from (node, version) (push.ts).
 */
import { compareVersions } from "../../protocol/version.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { findNode } from "../db/nodes.ts";
import type { Release } from "../db/releases.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { pushRelease } from "./push.ts";
import { inRollout } from "./rollout.ts";

/** Nodes per call or message: one Durable Object call each keeps it well inside the subrequest budget. */
export const PUSH_PAGE = 100;

export type PushTarget = { id: string; ownerId: string; version: string; status: string };
export type Skipped = { node_id: string; reason: "retired" | "already_on_this_or_newer" | "not_in_rollout" };
export type PushOutcome = { pushed: string[]; skipped: Skipped[] };

/** The named nodes, all of them or none: an unknown id is a mistake in the request, not a node to skip. */
export async function pushToNamed(env: Env, release: Release, nodeIds: readonly string[]): Promise<PushOutcome> {
  // Named nodes may be any owner's: found by id, in the directory.
  const db = database(fleetDatabase(env));
  const found = await Promise.all(nodeIds.map((id) => findNode(db, id)));
  const missing = nodeIds.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) throw new ApiError(404, "node_not_found", `No node ${missing.join(", ")}; nothing was pushed.`);
  return pushTo(env, release, found as PushTarget[], { rollout: false });
}

/** The update to each node that should get it: not retired, on an older version, and (unless named) in the rollout. */
export async function pushTo(
  env: Env,
  release: Release,
  nodes: readonly PushTarget[],
  options: { rollout: boolean },
): Promise<PushOutcome> {
  const outcome: PushOutcome = { pushed: [], skipped: [] };
  for (const node of nodes) {
    // Uninstalled: there is nothing left on that computer to update, named or not.
    if (node.status === "retired") {
      outcome.skipped.push({ node_id: node.id, reason: "retired" });
    } else if (compareVersions(node.version, release.version) >= 0) {
      outcome.skipped.push({ node_id: node.id, reason: "already_on_this_or_newer" });
    } else if (options.rollout && !(await inRollout(node.id, release.version, release.rolloutPercent))) {
      outcome.skipped.push({ node_id: node.id, reason: "not_in_rollout" });
    } else {
      await pushRelease(env, { nodeId: node.id, ownerId: node.ownerId }, release);
      outcome.pushed.push(node.id);
    }
  }
  return outcome;
}
