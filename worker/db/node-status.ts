/**
 * What a node's Durable Object tells D1: the node row's status/version/last
 * seen, the events the cloud records about the node, and outages that turned
 * out to be sleep, in one batch.
 */
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import type { NodeStatus } from "../../protocol/messages.ts";
import type { Database } from "./client.ts";
import { nodes, nodeTelemetry } from "./schema.ts";

/** A telemetry row the cloud writes about a node (not one the node sent). */
export type NodeEvent = {
  /** Deterministic, so a retried alarm stores the event once. */
  eventId: string;
  type: "node_offline" | "node_back_online";
  severity: "warning" | "info";
  at: number;
  details: Record<string, number | string | boolean | null>;
};

export type NodeStatusSync = {
  nodeId: string;
  ownerId: string;
  status: NodeStatus;
  statusChanged: boolean;
  version: string | null;
  lastSeenAt: number | null;
  events: NodeEvent[];
  /** Outage events already stored that turned out to be sleep (live-state.ts sleptThrough). */
  sleepMarks: string[];
};

/**
 * Returns the version the node row holds afterwards: on connect the object knows no version yet
 * (the first heartbeat brings it), and D1's, from enrollment or an earlier heartbeat, tells it
 * whether that heartbeat changes anything. Without it every connect cost a second write when the
 * first heartbeat came with the very version D1 already had.
 */
export async function syncNodeStatus(db: Database, sync: NodeStatusSync, now: number): Promise<{ version: string | null }> {
  const update = db
    .update(nodes)
    .set({
      status: sync.status,
      ...(sync.statusChanged ? { statusChangedAt: new Date(now) } : {}),
      ...(sync.version ? { version: sync.version } : {}),
      ...(sync.lastSeenAt ? { lastSeenAt: new Date(sync.lastSeenAt) } : {}),
    })
    // A retired node stays retired, whatever a Durable Object that has not heard of it says.
    .where(sync.status === "retired" ? eq(nodes.id, sync.nodeId) : and(eq(nodes.id, sync.nodeId), ne(nodes.status, "retired")))
    .returning({ version: nodes.version });
  const inserts = sync.events.map((event) =>
    db
      .insert(nodeTelemetry)
      .values({
        id: crypto.randomUUID(),
        nodeId: sync.nodeId,
        ownerId: sync.ownerId,
        eventId: event.eventId,
        type: event.type,
        payload: JSON.stringify({ type: event.type, details: event.details }),
        nodeVersion: sync.version,
        severity: event.severity,
        createdAt: new Date(event.at),
      })
      .onConflictDoNothing({ target: [nodeTelemetry.nodeId, nodeTelemetry.eventId] }),
  );
  const marks =
    sync.sleepMarks.length === 0
      ? []
      : [
          db
            .update(nodeTelemetry)
            .set({ severity: "info", payload: sql`json_set(${nodeTelemetry.payload}, '$.details.asleep', json('true'))` })
            .where(and(eq(nodeTelemetry.nodeId, sync.nodeId), inArray(nodeTelemetry.eventId, sync.sleepMarks))),
        ];
  const [updated] = await db.batch([update, ...inserts, ...marks]);
  return { version: updated[0]?.version ?? sync.version };
}
