/** node_telemetry: idempotent inserts and the dashboard's paged, newest-first reads. */
import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import type { Severity, TelemetryEvent } from "../../protocol/telemetry.ts";
import type { Database } from "./client.ts";
import { nodes, nodeTelemetry } from "./schema.ts";

export type StoredTelemetry = { id: string; created: boolean };

/**
 * Stores the event once per (node, event_id) and marks the node as seen, in
 * one batch. A retried report returns the first report's id with created=false.
 */
export async function insertTelemetry(
  db: Database,
  row: { id: string; nodeId: string; ownerId: string; severity: Severity; event: TelemetryEvent; now: Date },
): Promise<StoredTelemetry> {
  const insert = db
    .insert(nodeTelemetry)
    .values({
      id: row.id,
      nodeId: row.nodeId,
      ownerId: row.ownerId,
      eventId: row.event.event_id,
      type: row.event.type,
      payload: JSON.stringify(row.event),
      nodeVersion: row.event.node_version,
      severity: row.severity,
      createdAt: row.now,
    })
    .onConflictDoNothing({ target: [nodeTelemetry.nodeId, nodeTelemetry.eventId] })
    .returning({ id: nodeTelemetry.id });
  const touch = db.update(nodes).set({ lastSeenAt: row.now }).where(eq(nodes.id, row.nodeId));
  const [inserted] = await db.batch([insert, touch]);
  if (inserted.length === 1) return { id: row.id, created: true };

  const existing = await db
    .select({ id: nodeTelemetry.id })
    .from(nodeTelemetry)
    .where(and(eq(nodeTelemetry.nodeId, row.nodeId), eq(nodeTelemetry.eventId, row.event.event_id)));
  // The conflict proves the row exists, and rows are never deleted by this API.
  return { id: existing[0]!.id, created: false };
}

export type TelemetryCursor = { createdAt: number; id: string };

export type TelemetryQuery = {
  /** Exactly one scope: a node, an owner's nodes, or (admin) everything. */
  scope: { nodeId: string } | { ownerId: string } | "all";
  unresolvedOnly: boolean;
  limit: number;
  after?: TelemetryCursor;
};

export async function listTelemetry(db: Database, query: TelemetryQuery) {
  const conditions: SQL[] = [];
  if (query.scope !== "all") {
    conditions.push(
      "nodeId" in query.scope
        ? eq(nodeTelemetry.nodeId, query.scope.nodeId)
        : eq(nodeTelemetry.ownerId, query.scope.ownerId),
    );
  }
  if (query.unresolvedOnly) conditions.push(eq(nodeTelemetry.resolved, false));
  if (query.after) {
    const at = new Date(query.after.createdAt);
    conditions.push(
      or(lt(nodeTelemetry.createdAt, at), and(eq(nodeTelemetry.createdAt, at), lt(nodeTelemetry.id, query.after.id)))!,
    );
  }
  // One extra row tells whether there is a next page without a COUNT.
  const rows = await db
    .select()
    .from(nodeTelemetry)
    .where(and(...conditions))
    .orderBy(desc(nodeTelemetry.createdAt), desc(nodeTelemetry.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  const next: TelemetryCursor | null =
    rows.length > query.limit && last ? { createdAt: last.createdAt.getTime(), id: last.id } : null;
  return { rows: page, next };
}
