/** Sign-in links and dashboard sessions: rows keyed by id, secrets stored as SHA-256 only. */
import { and, eq, gt, isNull } from "drizzle-orm";
import type { Database } from "./client.ts";
import { sessions, signInTokens } from "./schema.ts";

export type SessionRow = typeof sessions.$inferSelect;

export async function insertSignInToken(db: Database, row: typeof signInTokens.$inferInsert): Promise<void> {
  await db.insert(signInTokens).values(row);
}

export async function findSignInToken(db: Database, id: string) {
  return (await db.query.signInTokens.findFirst({ where: eq(signInTokens.id, id) })) ?? null;
}

/** Marks the token used if it still is unused and unexpired; false if another request spent it first. */
export async function spendSignInToken(db: Database, id: string, now: Date): Promise<boolean> {
  const spent = await db
    .update(signInTokens)
    .set({ usedAt: now })
    .where(and(eq(signInTokens.id, id), isNull(signInTokens.usedAt), gt(signInTokens.expiresAt, now)))
    .returning({ id: signInTokens.id });
  return spent.length === 1;
}

export async function insertSession(db: Database, row: typeof sessions.$inferInsert): Promise<void> {
  await db.insert(sessions).values(row);
}

export async function findSession(db: Database, id: string): Promise<SessionRow | null> {
  return (await db.query.sessions.findFirst({ where: eq(sessions.id, id) })) ?? null;
}

export async function revokeSession(db: Database, id: string, now: Date): Promise<void> {
  await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)));
}
