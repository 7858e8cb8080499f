/** Releases: registration, the admin controls, and "the newest release this node should run". */
import { and, eq, sql } from "drizzle-orm";
import { compareVersions } from "../../protocol/version.ts";
import type { Database } from "./client.ts";
import { releases } from "./schema.ts";

export type Release = typeof releases.$inferSelect;

export async function insertRelease(db: Database, release: typeof releases.$inferInsert): Promise<Release | null> {
  const [row] = await db.insert(releases).values(release).onConflictDoNothing().returning();
  return row ?? null;
}

export async function findRelease(db: Database, version: string) {
  return (await db.query.releases.findFirst({ where: eq(releases.version, version) })) ?? null;
}

export async function listReleases(db: Database): Promise<Release[]> {
  const rows = await db.select().from(releases);
  return rows.sort((a, b) => compareVersions(b.version, a.version));
}

export async function activeReleases(db: Database, channel: string): Promise<Release[]> {
  const rows = await db
    .select()
    .from(releases)
    .where(and(eq(releases.channel, channel as Release["channel"]), eq(releases.status, "active")));
  return rows.sort((a, b) => compareVersions(b.version, a.version));
}

export async function updateRelease(
  db: Database,
  version: string,
  fields: Partial<Pick<Release, "rolloutPercent" | "status" | "haltedReason">>,
) {
  const [row] = await db.update(releases).set(fields).where(eq(releases.version, version)).returning();
  return row ?? null;
}

export async function countInstall(db: Database, version: string): Promise<void> {
  await db
    .update(releases)
    .set({ installs: sql`${releases.installs} + 1` })
    .where(eq(releases.version, version));
}

/** Counts a rollback; returns the release as it is now (null if unknown). */
export async function countRollback(db: Database, version: string): Promise<Release | null> {
  const [row] = await db
    .update(releases)
    .set({ rollbacks: sql`${releases.rollbacks} + 1` })
    .where(eq(releases.version, version))
    .returning();
  return row ?? null;
}

/** In the triage batch: a rollback counted against its release, which is halted for everyone if `halt` gives the reason. */
export function rollbackStatements(d1: D1Database, rollback: { version: string; halt: string | null }): D1PreparedStatement[] {
  const statements = [d1.prepare("UPDATE releases SET rollbacks = rollbacks + 1 WHERE version = ?").bind(rollback.version)];
  if (rollback.halt) {
    statements.push(
      d1
        .prepare("UPDATE releases SET status = 'halted', halted_reason = ? WHERE version = ? AND status = 'active'")
        .bind(rollback.halt, rollback.version),
    );
  }
  return statements;
}

// ── Triage decisions that wait for a release (raw D1: resolutions joined with nodes) ──

/** Decisions still waiting for a release (oldest first, bounded per call); none for a retired (uninstalled) node. */
export async function waitingForRelease(d1: D1Database, limit: number) {
  const { results } = await d1
    .prepare(
      `SELECT r.id, r.node_id AS nodeId, n.owner_id AS ownerId, r.fix_version AS fixVersion, r.group_id AS groupId
       FROM resolutions r JOIN nodes n ON n.id = r.node_id
       WHERE r.state = 'waiting_for_release' AND n.status != 'retired' ORDER BY r.created_at LIMIT ?`,
    )
    .bind(limit)
    .all<{ id: string; nodeId: string; ownerId: string; fixVersion: string; groupId: string }>();
  return results;
}

/** A waiting decision carried out: the update was sent, the fix is now pending verification. */
export async function markUpdateSent(d1: D1Database, resolutionId: string, groupId: string, commandId: string): Promise<void> {
  await d1.batch([
    d1
      .prepare(
        "UPDATE resolutions SET action = 'software_update', state = 'pending', command_id = ? WHERE id = ? AND state = 'waiting_for_release'",
      )
      .bind(commandId, resolutionId),
    d1.prepare("UPDATE crash_groups SET state = 'fixing' WHERE id = ? AND state = 'waiting_for_release'").bind(groupId),
  ]);
}
