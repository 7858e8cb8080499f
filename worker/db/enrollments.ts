/**
 * Enrollment codes and the enrollment itself. Redeeming a code and creating the
 * node happen in one D1 batch (one transaction): the node row is inserted only
 * if this very request claimed the code, so two racing enrollments with the
 * same code produce exactly one node.
 */
import { eq } from "drizzle-orm";
import type { Database } from "./client.ts";
import { newEmailRow, type NewEmail } from "./emails.ts";
import { enrollmentCodes, outgoingEmails, signInTokens } from "./schema.ts";

export type NewEnrollmentCode = { codeHash: string; ownerId: string; nodeName: string; expiresAt: Date; requestKey: string | null };

/** The code, and with an invitation its sign-in link and email, in one D1 batch: all of them or none. */
export async function insertEnrollmentCode(
  db: Database,
  code: NewEnrollmentCode,
  invitation: { email: NewEmail; signInToken: typeof signInTokens.$inferInsert } | null = null,
): Promise<void> {
  const now = new Date();
  const insertCode = db.insert(enrollmentCodes).values({ ...code, createdAt: now });
  if (!invitation) {
    await insertCode;
    return;
  }
  await db.batch([
    insertCode,
    db.insert(signInTokens).values({ ...invitation.signInToken, createdAt: now }),
    db.insert(outgoingEmails).values(newEmailRow(invitation.email, now)),
  ]);
}

/** Takes back what insertEnrollmentCode wrote when its invitation could not be queued (nothing was shown or sent). */
export async function deleteEnrollmentCode(
  db: Database,
  codeHash: string,
  invitation: { emailId: string; signInTokenId: string },
): Promise<void> {
  await db.batch([
    db.delete(outgoingEmails).where(eq(outgoingEmails.id, invitation.emailId)),
    db.delete(signInTokens).where(eq(signInTokens.id, invitation.signInTokenId)),
    db.delete(enrollmentCodes).where(eq(enrollmentCodes.codeHash, codeHash)),
  ]);
}

export async function findEnrollmentByRequestKey(db: Database, requestKey: string) {
  return (await db.query.enrollmentCodes.findFirst({ where: eq(enrollmentCodes.requestKey, requestKey) })) ?? null;
}

export type NewNode = { id: string; keyHash: string; os: string; arch: string; version: string };

export type RedeemResult = { ok: true } | { ok: false; reason: "unknown" | "used" | "expired" };

export async function redeemEnrollmentCode(
  db: Database,
  d1: D1Database,
  codeHash: string,
  node: NewNode,
  now: Date,
): Promise<RedeemResult> {
  const at = now.getTime();
  // Plain D1 statements: Drizzle's INSERT … SELECT insists on listing every column of the table.
  const [claimed] = await d1.batch([
    d1
      .prepare(
        `UPDATE enrollment_codes SET used_at = ?1, node_id = ?2
         WHERE code_hash = ?3 AND used_at IS NULL AND expires_at > ?1`,
      )
      .bind(at, node.id, codeHash),
    // The owner and name come from the code row, and only if the claim above was ours.
    d1
      .prepare(
        `INSERT INTO nodes (id, owner_id, name, key_hash, os, arch, version, created_at)
         SELECT ?1, owner_id, node_name, ?2, ?3, ?4, ?5, ?6 FROM enrollment_codes
         WHERE code_hash = ?7 AND node_id = ?1`,
      )
      .bind(node.id, node.keyHash, node.os, node.arch, node.version, at, codeHash),
  ]);
  if (claimed!.meta.changes === 1) return { ok: true };

  const code = await db.query.enrollmentCodes.findFirst({ where: eq(enrollmentCodes.codeHash, codeHash) });
  if (!code) return { ok: false, reason: "unknown" };
  return { ok: false, reason: code.usedAt ? "used" : "expired" };
}
