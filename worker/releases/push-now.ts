/**
 * "Roll this release out now": SOFTWARE_UPDATE to nodes that run an older version, without
 * waiting for a triage decision. Named nodes get it whatever the rollout percentage says (an
 * admin asked for exactly them); otherwise every node in the rollout does, a page at a time.
 * Retired (uninstalled) nodes never get it.
 * Pushing twice is harmless: the command id is derived from (node, version) (push.ts).
 */
import { compareVersions } from "../../protocol/version.ts";
import { database } from "../db/client.ts";
import { findNode, listNodes } from "../db/nodes.ts";
import type { PageCursor } from "../db/page.ts";
import type { Release } from "../db/releases.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { pushRelease } from "./push.ts";
import { inRollout } from "./rollout.ts";

/** Nodes per call: one Durable Object call each keeps a request well inside the subrequest budget. */
export const PUSH_PAGE = 100;

type Target = { id: string; ownerId: string; version: string; status: string };
export type Skipped = { node_id: string; reason: "retired" | "already_on_this_or_newer" | "not_in_rollout" };
export type PushOutcome = { pushed: string[]; skipped: Skipped[]; next: PageCursor | null };

export async function pushNow(env: Env, release: Release, targets: { nodeIds: string[] } | { after?: PageCursor }): Promise<PushOutcome> {
  const db = database(env.DB);
  let nodes: Target[];
  let next: PageCursor | null = null;
  const named = "nodeIds" in targets;
  if (named) {
    const found = await Promise.all(targets.nodeIds.map((id) => findNode(db, id)));
    // All or nothing: an unknown id is a mistake in the request, not a node to skip.
    const missing = targets.nodeIds.filter((_, i) => found[i] === undefined);
    if (missing.length > 0) throw new ApiError(404, "node_not_found", `No node ${missing.join(", ")}; nothing was pushed.`);
    nodes = found as Target[];
  } else {
    const page = await listNodes(db, { ownerId: null, limit: PUSH_PAGE, after: targets.after });
    nodes = page.rows;
    next = page.next;
  }
  const outcome: PushOutcome = { pushed: [], skipped: [], next };
  for (const node of nodes) {
    // Uninstalled: there is nothing left on that computer to update, named or not.
    if (node.status === "retired") {
      outcome.skipped.push({ node_id: node.id, reason: "retired" });
    } else if (compareVersions(node.version, release.version) >= 0) {
      outcome.skipped.push({ node_id: node.id, reason: "already_on_this_or_newer" });
    } else if (!named && !(await inRollout(node.id, release.version, release.rolloutPercent))) {
      outcome.skipped.push({ node_id: node.id, reason: "not_in_rollout" });
    } else {
      await pushRelease(env, { nodeId: node.id, ownerId: node.ownerId }, release);
      outcome.pushed.push(node.id);
    }
  }
  return outcome;
}
