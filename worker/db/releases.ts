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
  const rows = await db.select().from(releases).where(and(eq(releases.channel, channel as Release["channel"]), eq(releases.status, "active")));
  return rows.sort((a, b) => compareVersions(b.version, a.version));
}

export async function updateRelease(db: Database, version: string, fields: Partial<Pick<Release, "rolloutPercent" | "status" | "haltedReason">>) {
  const [row] = await db.update(releases).set(fields).where(eq(releases.version, version)).returning();
  return row ?? null;
}

export async function countInstall(db: Database, version: string): Promise<void> {
  await db.update(releases).set({ installs: sql`${releases.installs} + 1` }).where(eq(releases.version, version));
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
