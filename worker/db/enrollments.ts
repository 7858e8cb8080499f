/**
 * Enrollment codes and the enrollment itself. Redeeming a code and creating the
 * node happen in one D1 batch (one transaction): the node row is inserted only
 * if this very request claimed the code, so two racing enrollments with the
 * same code produce exactly one node.
 */
import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { enrollmentCodes, nodes } from "./schema.ts";

export async function insertEnrollmentCode(
  db: Database,
  code: { codeHash: string; ownerId: string; nodeName: string; expiresAt: Date },
): Promise<void> {
  await db.insert(enrollmentCodes).values({ ...code, createdAt: new Date() });
}

export type NewNode = { id: string; keyHash: string; os: string; arch: string; version: string };

export type RedeemResult = { ok: true } | { ok: false; reason: "unknown" | "used" | "expired" };

export async function redeemEnrollmentCode(db: Database, codeHash: string, node: NewNode, now: Date): Promise<RedeemResult> {
  const claim = db
    .update(enrollmentCodes)
    .set({ usedAt: now, nodeId: node.id })
    .where(
      and(eq(enrollmentCodes.codeHash, codeHash), isNull(enrollmentCodes.usedAt), gt(enrollmentCodes.expiresAt, now)),
    )
    .returning({ codeHash: enrollmentCodes.codeHash });
  // INSERT … SELECT: the owner and name come from the code row, and only if the claim above was ours.
  const create = db.insert(nodes).select(
    db
      .select({
        id: sql<string>`${node.id}`.as("id"),
        ownerId: enrollmentCodes.ownerId,
        name: enrollmentCodes.nodeName,
        keyHash: sql<string>`${node.keyHash}`.as("key_hash"),
        os: sql<string>`${node.os}`.as("os"),
        arch: sql<string>`${node.arch}`.as("arch"),
        version: sql<string>`${node.version}`.as("version"),
        createdAt: sql<number>`${now.getTime()}`.as("created_at"),
        lastSeenAt: sql<null>`NULL`.as("last_seen_at"),
      })
      .from(enrollmentCodes)
      .where(and(eq(enrollmentCodes.codeHash, codeHash), eq(enrollmentCodes.nodeId, node.id))),
  );
  const [claimed] = await db.batch([claim, create]);
  if (claimed.length === 1) return { ok: true };

  const code = await db.query.enrollmentCodes.findFirst({ where: eq(enrollmentCodes.codeHash, codeHash) });
  if (!code) return { ok: false, reason: "unknown" };
  return { ok: false, reason: code.usedAt ? "used" : "expired" };
}
