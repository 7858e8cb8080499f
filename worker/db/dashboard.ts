/** The dashboard's reads: one owner's computers and their last 30 days, and the fleet page. */
import { and, asc, desc, eq, gte, inArray, sql, type SQL } from "drizzle-orm";
import type { Database } from "./client.ts";
import { crashGroups, nodeKnownIssues, nodes, nodeTelemetry, owners, resolutions, tickets, triageReceipts } from "./schema.ts";

export const HISTORY_DAYS = 30;

export async function ownerNodes(db: Database, ownerId: string) {
  return db.select().from(nodes).where(eq(nodes.ownerId, ownerId)).orderBy(asc(nodes.name), asc(nodes.id)).limit(100);
}

export async function ownerName(db: Database, ownerId: string): Promise<string | null> {
  const row = await db.query.owners.findFirst({ where: eq(owners.id, ownerId), columns: { name: true } });
  return row?.name ?? null;
}

/** Problems and outages of one owner's computers since `since`, newest first (at most 300). */
export async function ownerHistory(db: Database, ownerId: string, since: Date) {
  return db
    .select({
      id: nodeTelemetry.id,
      nodeId: nodeTelemetry.nodeId,
      type: nodeTelemetry.type,
      createdAt: nodeTelemetry.createdAt,
      payload: nodeTelemetry.payload,
    })
    .from(nodeTelemetry)
    .where(
      and(
        eq(nodeTelemetry.ownerId, ownerId),
        gte(nodeTelemetry.createdAt, since),
        inArray(nodeTelemetry.type, ["crash_report", "update_rolled_back", "node_offline", "node_back_online"]),
      ),
    )
    .orderBy(desc(nodeTelemetry.createdAt))
    .limit(300);
}

/** What triage decided for those reports, with whether the crash group's ticket is still open. */
export async function decisionsFor(db: Database, telemetryIds: string[]) {
  if (telemetryIds.length === 0) return [];
  return db
    .select({
      telemetryId: resolutions.telemetryId,
      action: resolutions.action,
      state: resolutions.state,
      fixVersion: resolutions.fixVersion,
      verifiedAt: resolutions.verifiedAt,
      ticketStatus: tickets.status,
    })
    .from(resolutions)
    .leftJoin(tickets, eq(tickets.groupId, resolutions.groupId))
    .where(inArray(resolutions.telemetryId, telemetryIds.slice(0, 90)));
}

export const FLEET_SORTS = ["name", "owner", "status", "version", "last_seen"] as const;
export type FleetSort = (typeof FLEET_SORTS)[number];

export type FleetQuery = {
  q?: string;
  status?: "online" | "offline" | "asleep" | "degraded" | "retired";
  sort: FleetSort;
  dir: "asc" | "desc";
  page: number;
  perPage: number;
};

/**
 * One page of the fleet, filtered and sorted in D1 (its status column changes with every status
 * change the node's Durable Object reports), with the owner's name. Live figures for the rows on
 * the page come from each node's Durable Object.
 */
export async function fleetPage(db: Database, query: FleetQuery) {
  const conditions: SQL[] = [];
  if (query.q) {
    const pattern = `%${query.q.replaceAll("\\", "\\\\").replaceAll("%", "\\%").replaceAll("_", "\\_")}%`;
    conditions.push(sql`(${nodes.name} LIKE ${pattern} ESCAPE '\\' OR ${owners.name} LIKE ${pattern} ESCAPE '\\')`);
  }
  if (query.status) conditions.push(eq(nodes.status, query.status));
  const column = { name: nodes.name, owner: owners.name, status: nodes.status, version: nodes.version, last_seen: nodes.lastSeenAt }[
    query.sort
  ];
  const order = query.dir === "asc" ? asc(column) : desc(column);
  const where = and(...conditions);
  const [rows, total] = await Promise.all([
    db
      .select({ node: nodes, ownerName: owners.name })
      .from(nodes)
      .innerJoin(owners, eq(owners.id, nodes.ownerId))
      .where(where)
      .orderBy(order, asc(nodes.id))
      .limit(query.perPage)
      .offset((query.page - 1) * query.perPage),
    db.select({ n: sql<number>`count(*)` }).from(nodes).innerJoin(owners, eq(owners.id, nodes.ownerId)).where(where),
  ]);
  return { rows, total: total[0]?.n ?? 0 };
}

/** The 50 crash groups seen most recently (or the one asked for), with the pattern of the known issue they matched. */
export async function recentGroups(db: Database, only?: string) {
  return db
    .select({ group: crashGroups, pattern: nodeKnownIssues.pattern })
    .from(crashGroups)
    .leftJoin(nodeKnownIssues, eq(nodeKnownIssues.id, crashGroups.knownIssueId))
    .where(only ? eq(crashGroups.id, only) : undefined)
    .orderBy(desc(crashGroups.lastSeenAt), desc(crashGroups.id))
    .limit(50);
}

/** Reports per hour over the 24 hours before `now`, per group (oldest hour first), from triage's receipts. */
export async function hourlyReports(db: Database, groupIds: string[], now: number): Promise<Map<string, number[]>> {
  const since = now - 24 * 3600_000;
  const hours = new Map(groupIds.map((id) => [id, Array.from({ length: 24 }, () => 0)]));
  if (groupIds.length === 0) return hours;
  const hour = sql<number>`CAST((${triageReceipts.processedAt} - ${since}) / 3600000 AS INTEGER)`;
  const rows = await db
    .select({ groupId: triageReceipts.groupId, hour, n: sql<number>`count(*)` })
    .from(triageReceipts)
    .where(and(gte(triageReceipts.processedAt, new Date(since)), inArray(triageReceipts.groupId, groupIds)))
    .groupBy(triageReceipts.groupId, hour);
  for (const row of rows) {
    const counts = row.groupId ? hours.get(row.groupId) : undefined;
    if (counts && row.hour >= 0 && row.hour < 24) counts[row.hour] = row.n;
  }
  return hours;
}

export async function openTickets(db: Database) {
  return db.select().from(tickets).where(eq(tickets.status, "open")).orderBy(desc(tickets.updatedAt)).limit(100);
}
