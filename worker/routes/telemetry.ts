/**
 * `/api/node/telemetry`: nodes POST reports (crash reports, degraded
 * connections, errors, health); the dashboard GETs them back, newest first.
 *
 * Ingest stores first, then enqueues critical events for triage: an event the
 * edge answered 2xx for is in D1, whatever happens to the queue afterwards.
 * Events past the retention period are archived to R2 (worker/archive/): lists show their
 * summary, and GET /:id reads the full event back from the archive.
 */
import { Hono } from "hono";
import { z } from "zod";
import {
  MAX_TELEMETRY_BODY_BYTES,
  severityOf,
  TelemetryEventSchema,
  type TelemetryAccepted,
  TelemetryAcceptedSchema,
} from "../../protocol/telemetry.ts";
import { requireNode, requireViewer } from "../auth.ts";
import { database } from "../db/client.ts";
import { readArchived } from "../archive/archive-telemetry.ts";
import { fleetDatabase, ownerDatabase } from "../db/shards.ts";
import { findTelemetry, insertTelemetry, listTelemetry } from "../db/telemetry.ts";
import type { AppEnv, Env } from "../env.ts";
import { decodeCursor, encodeCursor, PageQuery } from "../http/cursor.ts";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/json-body.ts";
import { readParams, readQuery } from "../http/query.ts";
import { limitNodeRate } from "../rate-limit.ts";
import type { Operation } from "../openapi/operation.ts";
import { countReportedInstall } from "../releases/installs.ts";
import { visibleNode } from "../visible-node.ts";

const ListQuery = PageQuery.extend({
  node_id: z.uuid().optional(),
  unresolved: z.enum(["true", "false"]).optional(),
});
const EntryParams = z.object({ id: z.uuid() });

type TelemetryRow = NonNullable<Awaited<ReturnType<typeof findTelemetry>>>;

function itemOf(row: TelemetryRow, payload: unknown = JSON.parse(row.payload)) {
  return {
    id: row.id,
    node_id: row.nodeId,
    type: row.type,
    severity: row.severity,
    resolved: row.resolved,
    node_version: row.nodeVersion,
    created_at: row.createdAt.toISOString(),
    /** Set once the full event moved to R2; the list's payload is then its summary. */
    archived_at: row.archivedAt ? row.archivedAt.toISOString() : null,
    payload,
  };
}

export const telemetryRoutes = new Hono<AppEnv>()
  .post("/", requireNode, limitNodeRate, async (c) => {
    const event = await readJsonBody(c, TelemetryEventSchema, MAX_TELEMETRY_BODY_BYTES);
    const nodeId = c.get("nodeId");
    const ownerId = c.get("ownerId");
    const severity = severityOf(event.type);
    const stored = await insertTelemetry(database(ownerDatabase(c.env, ownerId)), {
      id: crypto.randomUUID(),
      nodeId,
      ownerId,
      severity,
      event,
      now: new Date(),
    });
    // Counted once per report: a retried one is not a second install.
    if (stored.created) await countReportedInstall(database(fleetDatabase(c.env)), event);
    // Also on a retry: the first attempt may have been stored but never enqueued
    // (the queue failed, the node saw a 503). Triage is idempotent per telemetry id.
    if (severity === "critical") await enqueueForTriage(c.env, { telemetry_id: stored.id, node_id: nodeId, type: event.type });
    const body: TelemetryAccepted = { id: stored.id, severity };
    return c.json(body, stored.created ? 202 : 200);
  })
  .get("/", requireViewer, async (c) => {
    const query = readQuery(c, ListQuery);
    const viewer = c.get("viewer");
    const node = query.node_id ? await visibleNode(c.env, viewer, query.node_id) : null;
    const ownerId = node?.ownerId ?? (viewer.kind === "owner" ? viewer.ownerId : null);
    // IT Support's list without a node is across owners.
    const page = await listTelemetry(database(ownerId ? ownerDatabase(c.env, ownerId) : fleetDatabase(c.env)), {
      scope: query.node_id ? { nodeId: query.node_id } : viewer.kind === "owner" ? { ownerId: viewer.ownerId } : "all",
      unresolvedOnly: query.unresolved === "true",
      limit: query.limit,
      after: decodeCursor(query.cursor),
    });
    return c.json({ items: page.rows.map((row) => itemOf(row)), next_cursor: page.next ? encodeCursor(page.next) : null });
  })
  .get("/:id", requireViewer, async (c) => {
    const { id } = readParams(c, EntryParams);
    const viewer = c.get("viewer");
    // IT Support may read any owner's entry: across owners.
    const d1 = viewer.kind === "owner" ? ownerDatabase(c.env, viewer.ownerId) : fleetDatabase(c.env);
    const row = await findTelemetry(database(d1), id);
    if (!row || (viewer.kind === "owner" && row.ownerId !== viewer.ownerId)) {
      throw new ApiError(404, "telemetry_not_found", `No telemetry entry ${id} is visible to you.`);
    }
    if (!row.archivedAt) return c.json(itemOf(row));
    const archived = await readArchived(c.env.ARCHIVE, row.nodeId, row.createdAt.getTime(), row.id);
    if (!archived) {
      // Never expected: rows are marked archived only after R2 holds them.
      console.error(JSON.stringify({ msg: "archived telemetry missing from R2", telemetry_id: row.id }));
      throw new ApiError(503, "archive_unavailable", `Entry ${id} is archived, but its archive could not be read; retry later.`);
    }
    return c.json(itemOf(row, archived.payload));
  });

async function enqueueForTriage(env: Env, message: { telemetry_id: string; node_id: string; type: string }) {
  try {
    await env.TRIAGE_QUEUE.send(message);
  } catch (error) {
    console.error(JSON.stringify({ msg: "triage enqueue failed", telemetry_id: message.telemetry_id, error: String(error) }));
    // Stored but not enqueued: ask the node to retry; the retry re-enqueues (see above).
    throw new ApiError(503, "triage_unavailable", "The report was stored but could not be queued for triage; retry later.", {
      headers: { "retry-after": "30" },
    });
  }
}

export const telemetryApi: Operation[] = [
  {
    method: "post",
    path: "/api/node/telemetry",
    summary: "Report telemetry (crash reports, degraded connections, errors, health, updates); the same event_id again is the same report",
    auth: "node",
    body: TelemetryEventSchema,
    responses: {
      202: { description: "Stored (and queued for triage if critical).", schema: TelemetryAcceptedSchema },
      200: { description: "Already stored: a retry of the same event_id.", schema: TelemetryAcceptedSchema },
    },
    errors: { 503: "Stored, but it could not be queued for triage; retry after the retry-after header (triage_unavailable)." },
  },
  {
    method: "get",
    path: "/api/node/telemetry",
    summary: "Telemetry the caller may see, newest first (optionally one node's, or unresolved only)",
    auth: "viewer",
    query: ListQuery,
    responses: {
      200: {
        description:
          "{items: [{id, node_id, type, severity, resolved, node_version, created_at, archived_at, payload}], next_cursor}; an archived entry's payload is its summary",
      },
    },
    errors: { 404: "node_id names a node not visible to the caller (node_not_found)." },
  },
  {
    method: "get",
    path: "/api/node/telemetry/{id}",
    summary: "One telemetry entry with its full payload, read back from the archive (R2) when it is past the retention period",
    auth: "viewer",
    params: EntryParams,
    responses: { 200: { description: "{id, node_id, type, severity, resolved, node_version, created_at, archived_at, payload}" } },
    errors: {
      404: "No such entry, or not the caller's (telemetry_not_found).",
      503: "The entry is archived and its archive could not be read (archive_unavailable).",
    },
  },
];
