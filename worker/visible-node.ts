/**
 * The one rule for reading a node: IT Support sees every node, an owner only
 * their own. Another owner's node gets the same 404 as a node that does not
 * exist, so node ids can't be probed.
 */
import { database } from "./db/client.ts";
import { findNode } from "./db/nodes.ts";
import { fleetDatabase, ownerDatabase } from "./db/shards.ts";
import type { Env, Viewer } from "./env.ts";
import { ApiError } from "./http/errors.ts";

export async function visibleNode(env: Env, viewer: Viewer, nodeId: string) {
  // IT Support's node may be any owner's: found by id, in the directory.
  const d1 = viewer.kind === "owner" ? ownerDatabase(env, viewer.ownerId) : fleetDatabase(env);
  const node = await findNode(database(d1), nodeId);
  if (!node || (viewer.kind === "owner" && node.ownerId !== viewer.ownerId)) {
    throw new ApiError(404, "node_not_found", `No node ${nodeId} is visible to you.`);
  }
  return node;
}
