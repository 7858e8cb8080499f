/**
 * The node's live channel: `GET /api/node/connect` (WebSocket upgrade, key
 * checked by the node's Durable Object before any upgrade) and `POST /api/node/heartbeat`, the HTTP fallback
 * with the same validation and status codes as telemetry.
 */
import { Hono } from "hono";
import { NODE_KEY_HEADER } from "../../protocol/headers.ts";
import { HeartbeatSchema, MAX_FRAME_BYTES } from "../../protocol/messages.ts";
import { nodeKeyRefused, presentedNodeKey, requireNode } from "../auth.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import type { Operation } from "../openapi/operation.ts";
import { UPGRADE_HEADERS } from "../node-session/node-session.ts";
import { nodeSession } from "../node-session/stub.ts";
import { limitNodeRate, spendNodeBudget } from "../rate-limit.ts";

export const nodeLiveRoutes = new Hono<AppEnv>()
  .get("/connect", async (c) => {
    // No D1 read here: the node's Durable Object checks the key against what it keeps
    // (credential.ts), so a whole fleet reconnecting after a restart costs D1 nothing.
    const key = c.req.header(NODE_KEY_HEADER);
    const presented = await presentedNodeKey(key);
    if (!presented) throw nodeKeyRefused(key);
    // Keyed on the key's hash too: someone who knows a node's id but not its key cannot use up
    // the node's budget with wrong keys.
    await spendNodeBudget(c.env, `${presented.nodeId}:${presented.secretHash}`);
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError(426, "upgrade_required", "Connect with a WebSocket (Upgrade: websocket).", {
        headers: { upgrade: "websocket" },
      });
    }
    const headers = new Headers(c.req.raw.headers);
    headers.set(UPGRADE_HEADERS.nodeId, presented.nodeId);
    headers.set(UPGRADE_HEADERS.keyHash, presented.secretHash);
    headers.delete(NODE_KEY_HEADER); // the object needs the hash, never the secret
    const upgraded = await nodeSession(c.env, presented.nodeId).fetch(new Request(c.req.raw, { headers }));
    if (upgraded.status === 401) throw nodeKeyRefused(key);
    return upgraded;
  })
  .post("/heartbeat", requireNode, limitNodeRate, async (c) => {
    const beat = await readJsonBody(c, HeartbeatSchema, MAX_FRAME_BYTES);
    const nodeId = c.get("nodeId");
    if (beat.node_id !== nodeId) {
      throw new ApiError(400, "invalid_body", "The request body is not valid: node_id: must be this node's id.", {
        issues: [{ path: "node_id", message: "must be this node's id" }],
      });
    }
    const live = await nodeSession(c.env, nodeId).heartbeat({ nodeId, ownerId: c.get("ownerId") }, beat);
    return c.json(live, 202);
  });

export const nodeLiveApi: Operation[] = [
  {
    method: "get",
    path: "/api/node/connect",
    summary: "The node's live channel: a WebSocket upgrade (frames in protocol/messages.ts)",
    auth: "node",
    responses: { 101: { description: "Switching to the WebSocket; the edge says welcome first." } },
    errors: { 426: "Not a WebSocket upgrade request (upgrade_required)." },
  },
  {
    method: "post",
    path: "/api/node/heartbeat",
    summary: "A heartbeat over HTTP, when the WebSocket cannot connect",
    auth: "node",
    body: HeartbeatSchema,
    responses: { 202: { description: "The node's live status as the edge now sees it." } },
  },
];
