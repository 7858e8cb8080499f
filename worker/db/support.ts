/** The support API's reads: crash groups, tickets, resolutions and bridge messages, newest first. */
import { and, desc, eq, type SQL } from "drizzle-orm";
import type { Database } from "./client.ts";
import { afterCursor, type PageCursor, pageOf } from "./page.ts";
import { bridgeComms, crashGroups, resolutions, tickets } from "./schema.ts";

type Page = { limit: number; after?: PageCursor };

export async function listCrashGroups(db: Database, page: Page) {
  const rows = await db
    .select()
    .from(crashGroups)
    .where(page.after ? afterCursor(crashGroups.createdAt, crashGroups.id, page.after) : undefined)
    .orderBy(desc(crashGroups.createdAt), desc(crashGroups.id))
    .limit(page.limit + 1);
  return pageOf(rows, page.limit);
}

export async function listTickets(db: Database, page: Page) {
  const rows = await db
    .select()
    .from(tickets)
    .where(page.after ? afterCursor(tickets.createdAt, tickets.id, page.after) : undefined)
    .orderBy(desc(tickets.createdAt), desc(tickets.id))
    .limit(page.limit + 1);
  return pageOf(rows, page.limit);
}

export async function listResolutions(db: Database, query: Page & { nodeId?: string }) {
  const conditions: SQL[] = [];
  if (query.nodeId) conditions.push(eq(resolutions.nodeId, query.nodeId));
  if (query.after) conditions.push(afterCursor(resolutions.createdAt, resolutions.id, query.after));
  const rows = await db
    .select()
    .from(resolutions)
    .where(and(...conditions))
    .orderBy(desc(resolutions.createdAt), desc(resolutions.id))
    .limit(query.limit + 1);
  return pageOf(rows, query.limit);
}

export async function listBridgeMessages(db: Database, query: Page & { status?: "pending" | "acked" }) {
  const conditions: SQL[] = [];
  if (query.status) conditions.push(eq(bridgeComms.status, query.status));
  if (query.after) conditions.push(afterCursor(bridgeComms.createdAt, bridgeComms.id, query.after));
  const rows = await db
    .select()
    .from(bridgeComms)
    .where(and(...conditions))
    .orderBy(desc(bridgeComms.createdAt), desc(bridgeComms.id))
    .limit(query.limit + 1);
  return pageOf(rows, query.limit);
}

/** Acknowledges a bridge message; acknowledging twice is fine. Null if there is no such message. */
export async function ackBridgeMessage(db: Database, id: string, now: Date) {
  const existing = await db.query.bridgeComms.findFirst({ where: eq(bridgeComms.id, id) });
  if (!existing) return null;
  if (existing.status === "acked") return existing;
  const [updated] = await db
    .update(bridgeComms)
    .set({ status: "acked", ackedAt: now })
    .where(and(eq(bridgeComms.id, id), eq(bridgeComms.status, "pending")))
    .returning();
  return updated ?? (await db.query.bridgeComms.findFirst({ where: eq(bridgeComms.id, id) }))!;
}
