/** Known issues: the admin API's reads and writes (triage reads them in db/triage.ts). */
import { asc, desc, eq } from "drizzle-orm";
import type { Database } from "./client.ts";
import { crashGroups, nodeKnownIssues } from "./schema.ts";

export type KnownIssue = typeof nodeKnownIssues.$inferSelect;
export type KnownIssueFields = Omit<typeof nodeKnownIssues.$inferInsert, "id" | "createdAt" | "hitCount" | "lastHitAt">;

export async function listKnownIssues(db: Database) {
  return db.select().from(nodeKnownIssues).orderBy(asc(nodeKnownIssues.createdAt), asc(nodeKnownIssues.id));
}

export async function findKnownIssue(db: Database, id: string) {
  return db.query.nodeKnownIssues.findFirst({ where: eq(nodeKnownIssues.id, id) });
}

export async function insertKnownIssue(db: Database, fields: KnownIssueFields & { id: string }): Promise<KnownIssue> {
  const [row] = await db
    .insert(nodeKnownIssues)
    .values({ ...fields, createdAt: new Date() })
    .returning();
  return row!;
}

export async function updateKnownIssue(db: Database, id: string, fields: Partial<KnownIssueFields>): Promise<KnownIssue | null> {
  const [row] = await db
    .update(nodeKnownIssues)
    .set({ ...fields, updatedAt: new Date() })
    .where(eq(nodeKnownIssues.id, id))
    .returning();
  return row ?? null;
}

/** The crash groups a pattern is tried on: the most recently created, bounded. */
export async function recentCrashGroups(db: Database, limit: number) {
  return db
    .select({
      id: crashGroups.id,
      title: crashGroups.title,
      latestSample: crashGroups.latestSample,
      reportCount: crashGroups.reportCount,
      knownIssueId: crashGroups.knownIssueId,
    })
    .from(crashGroups)
    .orderBy(desc(crashGroups.createdAt))
    .limit(limit);
}
