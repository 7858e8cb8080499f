/**
 * `GET /api/nodes` and `GET /api/nodes/:id`: the fleet as owners and IT
 * Support see it, with live status from each node's Durable Object (D1 has the
 * registry; the DO knows whether the node is there right now).
 */
import { Hono } from "hono";
import { z } from "zod";
import { requireViewer } from "../auth.ts";
import { database } from "../db/client.ts";
import { listNodes } from "../db/nodes.ts";
import { fleetDatabase, ownerDatabase } from "../db/shards.ts";
import type { nodes } from "../db/schema.ts";
import type { AppEnv, Env } from "../env.ts";
import { decodeCursor, encodeCursor, PageQuery } from "../http/cursor.ts";
import { readParams, readQuery } from "../http/query.ts";
import { withRegistryStatus } from "../node-session/registry-status.ts";
import { nodeSession } from "../node-session/stub.ts";
import type { Operation } from "../openapi/operation.ts";
import { visibleNode } from "../visible-node.ts";

const NodesQuery = PageQuery.extend({ limit: z.coerce.number().int().min(1).max(100).default(50) });
const NodeParams = z.object({ id: z.uuid() });

export const nodeRoutes = new Hono<AppEnv>()
  .use(requireViewer)
  .get("/", async (c) => {
    const query = readQuery(c, NodesQuery);
    const viewer = c.get("viewer");
    const ownerId = viewer.kind === "owner" ? viewer.ownerId : null;
    // IT Support's list is across owners.
    const page = await listNodes(database(ownerId ? ownerDatabase(c.env, ownerId) : fleetDatabase(c.env)), {
      ownerId,
      limit: query.limit,
      after: decodeCursor(query.cursor),
    });
    return c.json({
      items: await Promise.all(page.rows.map((node) => withLiveStatus(c.env, node))),
      next_cursor: page.next ? encodeCursor(page.next) : null,
    });
  })
  .get("/:id", async (c) => {
    const { id } = readParams(c, NodeParams);
    const node = await visibleNode(c.env, c.get("viewer"), id);
    return c.json(await withLiveStatus(c.env, node));
  });

async function withLiveStatus(env: Env, node: typeof nodes.$inferSelect) {
  const live = withRegistryStatus(await nodeSession(env, node.id).status(), node);
  return {
    id: node.id,
    owner_id: node.ownerId,
    name: node.name,
    os: node.os,
    arch: node.arch,
    enrolled_at: node.createdAt.toISOString(),
    ...live,
    // Before the first heartbeat the DO knows nothing: fall back to the registry.
    version: live.version ?? node.version,
    last_seen: live.last_seen ?? node.lastSeenAt?.toISOString() ?? null,
  };
}

const NODE =
  "The node: {id, owner_id, name, os, arch, enrolled_at, status (online, offline, asleep, degraded or retired), version, last_seen, retired_at, ...live status}";

export const nodeApi: Operation[] = [
  {
    method: "get",
    path: "/api/nodes",
    summary: "The nodes the caller may see (IT Support: all; an owner: theirs), with live status",
    auth: "viewer",
    query: NodesQuery,
    responses: { 200: { description: `{items: [${NODE}], next_cursor}` } },
  },
  {
    method: "get",
    path: "/api/nodes/{id}",
    summary: "One node, with live status",
    auth: "viewer",
    params: NodeParams,
    responses: { 200: { description: NODE } },
    errors: { 404: "No such node visible to the caller (node_not_found)." },
  },
];
