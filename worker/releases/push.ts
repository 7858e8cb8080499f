/**
 * Pushing a release to nodes through their Durable Objects. One SOFTWARE_UPDATE
 * per (node, version), whatever asks for it (triage, a newly published release,
 * a redelivered message): its command id is derived from both, and the Durable
 * Object ignores an id it already has.
 */
import { uuidFromSha256Hex } from "../../protocol/uuid.ts";
import { sha256Hex } from "../crypto.ts";
import type { Release } from "../db/releases.ts";
import type { Env } from "../env.ts";
import { nodeSession } from "../node-session/stub.ts";
import { signedRelease } from "./offer.ts";

/** Commands carrying an update stay deliverable this long (a laptop may be off for two weeks). */
export const UPDATE_COMMAND_TTL_SECONDS = 14 * 24 * 3600;

/** A UUID-shaped id from SHA-256 of node id and version (the command protocol wants UUIDs). */
export async function updateCommandId(nodeId: string, version: string): Promise<string> {
  return uuidFromSha256Hex(await sha256Hex(`update:${nodeId}:${version}`));
}

export async function pushRelease(env: Env, node: { nodeId: string; ownerId: string }, release: Release): Promise<string> {
  const id = await updateCommandId(node.nodeId, release.version);
  await nodeSession(env, node.nodeId).enqueueCommand(node, {
    id,
    type: "SOFTWARE_UPDATE",
    payloadJson: JSON.stringify(signedRelease(release)),
    ttlSeconds: UPDATE_COMMAND_TTL_SECONDS,
  });
  return id;
}
