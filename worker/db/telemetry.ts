/** node_telemetry: idempotent inserts and the dashboard's paged, newest-first reads. */
import { and, desc, eq, getTableName, type SQL } from "drizzle-orm";
import type { Severity, TelemetryEvent } from "../../protocol/telemetry.ts";
import type { Database } from "./client.ts";
import { afterCursor, type PageCursor, pageOf } from "./page.ts";
import { nodeTelemetry } from "./schema.ts";

export type StoredTelemetry = { id: string; created: boolean };

/**
 * Stores the event once per (node, event_id): a retried report returns the
 * first report's id with created=false. (Liveness — nodes.last_seen_at — is
 * the node's Durable Object's business, not one more write per report.)
 */
export async function insertTelemetry(
  db: Database,
  row: { id: string; nodeId: string; ownerId: string; severity: Severity; event: TelemetryEvent; now: Date },
): Promise<StoredTelemetry> {
  // The one statement every report runs, written once (from the schema's own column names)
  // instead of built by the query builder per request: the statement Drizzle built, same
  // columns and values (resolved = false is 0, as Drizzle binds it).
  const inserted = await db.$client
    .prepare(insertSql())
    .bind(
      row.id,
      row.nodeId,
      row.ownerId,
      row.event.event_id,
      row.event.type,
      JSON.stringify(row.event),
      row.event.node_version,
      row.severity,
      0,
      row.now.getTime(),
    )
    .first<{ id: string }>();
  if (inserted) return { id: row.id, created: true };

  const existing = await db
    .select({ id: nodeTelemetry.id })
    .from(nodeTelemetry)
    .where(and(eq(nodeTelemetry.nodeId, row.nodeId), eq(nodeTelemetry.eventId, row.event.event_id)));
  // The conflict proves the row exists, and rows are never deleted by this API.
  return { id: existing[0]!.id, created: false };
}

let insertSqlText: string | null = null;

function insertSql(): string {
  if (insertSqlText !== null) return insertSqlText;
  const t = nodeTelemetry;
  const columns = [t.id, t.nodeId, t.ownerId, t.eventId, t.type, t.payload, t.nodeVersion, t.severity, t.resolved, t.createdAt];
  insertSqlText =
    `insert into "${getTableName(t)}" (${columns.map((c) => `"${c.name}"`).join(", ")}) ` +
    `values (${columns.map(() => "?").join(", ")}) ` +
    `on conflict ("${t.nodeId.name}", "${t.eventId.name}") do nothing returning "${t.id.name}" as id`;
  return insertSqlText;
}

/** One row by its id, archived or not. */
export async function findTelemetry(db: Database, id: string) {
  const [row] = await db.select().from(nodeTelemetry).where(eq(nodeTelemetry.id, id));
  return row ?? null;
}

export type TelemetryQuery = {
  /** Exactly one scope: a node, an owner's nodes, or (admin) everything. */
  scope: { nodeId: string } | { ownerId: string } | "all";
  unresolvedOnly: boolean;
  limit: number;
  after?: PageCursor;
};

export async function listTelemetry(db: Database, query: TelemetryQuery) {
  const conditions: SQL[] = [];
  if (query.scope !== "all") {
    conditions.push(
      "nodeId" in query.scope ? eq(nodeTelemetry.nodeId, query.scope.nodeId) : eq(nodeTelemetry.ownerId, query.scope.ownerId),
    );
  }
  if (query.unresolvedOnly) conditions.push(eq(nodeTelemetry.resolved, false));
  if (query.after) conditions.push(afterCursor(nodeTelemetry.createdAt, nodeTelemetry.id, query.after));
  const rows = await db
    .select()
    .from(nodeTelemetry)
    .where(and(...conditions))
    .orderBy(desc(nodeTelemetry.createdAt), desc(nodeTelemetry.id))
    .limit(query.limit + 1);
  return pageOf(rows, query.limit);
}
