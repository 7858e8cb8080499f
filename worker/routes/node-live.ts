/**
 * The node's live channel: `GET /api/node/connect` (WebSocket upgrade, key
 * checked before any upgrade) and `POST /api/node/heartbeat`, the HTTP fallback
 * with the same validation and status codes as telemetry.
 */
import { Hono } from "hono";
import { HeartbeatSchema, MAX_FRAME_BYTES } from "../../protocol/messages.ts";
import { requireNode } from "../auth.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import type { Operation } from "../openapi/operation.ts";
import { IDENTITY_HEADERS } from "../node-session/node-session.ts";
import { nodeSession } from "../node-session/stub.ts";
import { limitNodeRate } from "../rate-limit.ts";

export const nodeLiveRoutes = new Hono<AppEnv>()
  .get("/connect", requireNode, limitNodeRate, async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError(426, "upgrade_required", "Connect with a WebSocket (Upgrade: websocket).", {
        headers: { upgrade: "websocket" },
      });
    }
    const nodeId = c.get("nodeId");
    const headers = new Headers(c.req.raw.headers);
    headers.set(IDENTITY_HEADERS.nodeId, nodeId);
    headers.set(IDENTITY_HEADERS.ownerId, c.get("ownerId"));
    return nodeSession(c.env, nodeId).fetch(new Request(c.req.raw, { headers }));
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
