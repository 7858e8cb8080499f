/**
 * `POST /api/admin/nodes/:id/commands` queues a command for one node through
 * its Durable Object (sent now if connected, on reconnect otherwise);
 * `GET` lists the node's pending and acknowledged commands.
 */
import { Hono } from "hono";
import { z } from "zod";
import { COMMAND_TYPES } from "../../protocol/messages.ts";
import { requireAdmin } from "../auth.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import { readParams } from "../http/query.ts";
import { nodeSession } from "../node-session/stub.ts";
import type { Operation } from "../openapi/operation.ts";
import { visibleNode } from "../visible-node.ts";

const NodeParams = z.object({ id: z.uuid() });
const NewCommand = z.object({
  type: z.enum(COMMAND_TYPES),
  payload: z.record(z.string().max(64), z.json()).default({}),
  /** A command nobody acknowledged in this time is dropped (default a day, at most 30 days). */
  ttl_seconds: z
    .number()
    .int()
    .min(10)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
});

export const adminCommandRoutes = new Hono<AppEnv>()
  .use(requireAdmin)
  .post("/:id/commands", async (c) => {
    const { id } = readParams(c, NodeParams);
    const body = await readJsonBody(c, NewCommand, 8 * 1024);
    const node = await visibleNode(c.env, c.get("viewer"), id);
    if (node.status === "retired") throw new ApiError(409, "node_retired", `Node ${id} was uninstalled (retired); it takes no commands.`);
    const queued = await nodeSession(c.env, id).enqueueCommand(
      { nodeId: node.id, ownerId: node.ownerId },
      { type: body.type, payloadJson: JSON.stringify(body.payload), ttlSeconds: body.ttl_seconds },
    );
    return c.json(queued, 202);
  })
  .get("/:id/commands", async (c) => {
    const { id } = readParams(c, NodeParams);
    await visibleNode(c.env, c.get("viewer"), id);
    const commands = await nodeSession(c.env, id).commands();
    return c.json({
      items: commands.map((command) => ({
        id: command.id,
        type: command.type,
        payload: JSON.parse(command.payloadJson) as unknown,
        created_at: new Date(command.createdAt).toISOString(),
        expires_at: new Date(command.expiresAt).toISOString(),
        send_count: command.sendCount,
        first_sent_at: iso(command.firstSentAt ?? null),
        last_sent_at: iso(command.lastSentAt),
        ack: command.ack && { status: command.ack.status, detail: command.ack.detail ?? null, at: new Date(command.ack.at).toISOString() },
      })),
    });
  });

export const adminCommandApi: Operation[] = [
  {
    method: "post",
    path: "/api/admin/nodes/{id}/commands",
    summary: "Queue a command for a node: sent now if it is connected, on reconnect otherwise",
    auth: "admin",
    params: NodeParams,
    body: NewCommand,
    responses: { 202: { description: "Queued: {id, expires_at, sent}." } },
    errors: { 404: "No such node (node_not_found).", 409: "The node was uninstalled (node_retired): nothing is queued." },
  },
  {
    method: "get",
    path: "/api/admin/nodes/{id}/commands",
    summary: "A node's pending and acknowledged commands",
    auth: "admin",
    params: NodeParams,
    responses: {
      200: {
        description:
          "{items: [{id, type, payload, created_at, expires_at, send_count, first_sent_at, last_sent_at, ack: {status, detail, at}}]}",
      },
    },
    errors: { 404: "No such node (node_not_found)." },
  },
];

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
