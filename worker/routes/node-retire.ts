/**
 * `POST /api/node/retire`: the node says it is being uninstalled. Its key is revoked at once
 * (the stored hash becomes `retired:<ms>`, which no presented key can match), its status becomes
 * "retired" for good (status_changed_at: when), its Durable Object closes its socket and stops
 * watching it (no offline warning, no command, no release push), and its history stays. A retired
 * computer that wants back must enroll again with a new code, as a new node.
 * A key still cached by another isolate is accepted there for at most KEY_CACHE_TTL_MS (60 s),
 * but the Durable Object ignores a retired node's heartbeats and refuses its socket.
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { requireNode } from "../auth.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import { nodes } from "../db/schema.ts";
import type { AppEnv } from "../env.ts";
import { forgetNode } from "../node-key-cache.ts";
import { nodeSession } from "../node-session/stub.ts";
import type { Operation } from "../openapi/operation.ts";
import { limitNodeRate } from "../rate-limit.ts";

export const RETIRED_KEY_PREFIX = "retired:";

export const nodeRetireRoutes = new Hono<AppEnv>().post("/retire", requireNode, limitNodeRate, async (c) => {
  const nodeId = c.get("nodeId");
  const now = new Date();
  // The key is the directory's (db/shards.ts); the status goes with it while nodes is one table.
  await database(fleetDatabase(c.env))
    .update(nodes)
    .set({ keyHash: `${RETIRED_KEY_PREFIX}${now.getTime()}`, status: "retired", statusChangedAt: now })
    .where(eq(nodes.id, nodeId));
  forgetNode(nodeId);
  await nodeSession(c.env, nodeId).retire({ nodeId, ownerId: c.get("ownerId") }, now.getTime());
  return c.json({ node_id: nodeId, retired_at: now.toISOString() });
});

export const nodeRetireApi: Operation[] = [
  {
    method: "post",
    path: "/api/node/retire",
    summary: "The node is being uninstalled: its key is revoked and its status becomes retired for good; its history stays",
    auth: "node",
    responses: { 200: { description: "{node_id, retired_at}", schema: z.object({ node_id: z.uuid(), retired_at: z.iso.datetime() }) } },
  },
];
