/**
 * The outgoing_emails table: the durable record that makes "never sent twice" hold. A row is
 * written once per thing an email is about (its dedupe key), claimed by one attempt
 * (pending → sending, a compare-and-set), and marked sent after the binding accepted it, when its
 * bodies are cleared. Plain statements where they join triage's batch or must be a single UPDATE.
 */
import { and, desc, eq, type SQL } from "drizzle-orm";
import type { Database } from "./client.ts";
import { afterCursor, type PageCursor, pageOf } from "./page.ts";
import { type EMAIL_KINDS, type EMAIL_STATUSES, outgoingEmails } from "./schema.ts";

export type NewEmail = {
  id: string;
  dedupeKey: string;
  kind: (typeof EMAIL_KINDS)[number];
  escalationId?: string | null;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
};

export function newEmailRow(email: NewEmail, now: Date): typeof outgoingEmails.$inferInsert {
  return {
    id: email.id,
    dedupeKey: email.dedupeKey,
    kind: email.kind,
    escalationId: email.escalationId ?? null,
    fromAddress: email.from,
    toAddresses: JSON.stringify(email.to),
    subject: email.subject,
    textBody: email.text,
    htmlBody: email.html,
    createdAt: now,
  };
}

/**
 * For triage's batch: the escalation's email, written only if the escalation row was (its insert is
 * a compare-and-set that a racing consumer may lose), and once (the dedupe key).
 */
export function escalationEmailStatement(d1: D1Database, email: NewEmail & { escalationId: string }, now: number): D1PreparedStatement {
  return d1
    .prepare(
      `INSERT INTO outgoing_emails (id, dedupe_key, kind, escalation_id, from_address, to_addresses, subject, text_body, html_body,
                                    status, attempts, created_at)
       SELECT ?1, ?2, 'escalation', ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9
       WHERE EXISTS (SELECT 1 FROM escalations WHERE id = ?3)
       ON CONFLICT (dedupe_key) DO NOTHING`,
    )
    .bind(email.id, email.dedupeKey, email.escalationId, email.from, JSON.stringify(email.to), email.subject, email.text, email.html, now);
}

export type ClaimedEmail = {
  id: string;
  kind: (typeof EMAIL_KINDS)[number];
  fromAddress: string;
  toAddresses: string;
  subject: string;
  textBody: string | null;
  htmlBody: string | null;
};

/** Pending → sending for exactly one caller; null if it is not pending (sent, being sent, or not there). */
export async function claimEmail(d1: D1Database, id: string, now: number): Promise<ClaimedEmail | null> {
  return d1
    .prepare(
      `UPDATE outgoing_emails SET status = 'sending', attempts = attempts + 1, claimed_at = ?2
       WHERE id = ?1 AND status = 'pending'
       RETURNING id, kind, from_address AS fromAddress, to_addresses AS toAddresses, subject, text_body AS textBody, html_body AS htmlBody`,
    )
    .bind(id, now)
    .first<ClaimedEmail>();
}

/** The binding accepted it: sent, and its bodies (an invitation's hold live links) are dropped. */
export async function markEmailSent(d1: D1Database, id: string, now: number, messageId: string): Promise<void> {
  await d1
    .prepare(
      `UPDATE outgoing_emails SET status = 'sent', sent_at = ?2, message_id = ?3, last_error = NULL, text_body = NULL, html_body = NULL
       WHERE id = ?1 AND status = 'sending'`,
    )
    .bind(id, now, messageId)
    .run();
}

/** The binding refused it: pending again, for the next attempt. */
export async function releaseEmail(d1: D1Database, id: string, error: string): Promise<void> {
  await d1
    .prepare("UPDATE outgoing_emails SET status = 'pending', last_error = ?2 WHERE id = ?1 AND status = 'sending'")
    .bind(id, error.slice(0, 1000))
    .run();
}

export async function emailStatus(d1: D1Database, id: string): Promise<(typeof EMAIL_STATUSES)[number] | null> {
  const row = await d1
    .prepare("SELECT status FROM outgoing_emails WHERE id = ?")
    .bind(id)
    .first<{ status: (typeof EMAIL_STATUSES)[number] }>();
  return row?.status ?? null;
}

/** The escalation emails a triage message raised that are still to send. */
export async function pendingEscalationEmails(d1: D1Database, telemetryId: string): Promise<string[]> {
  const { results } = await d1
    .prepare(
      `SELECT o.id FROM outgoing_emails o JOIN escalations e ON e.id = o.escalation_id
       WHERE e.telemetry_id = ? AND o.status = 'pending' ORDER BY o.created_at, o.id`,
    )
    .bind(telemetryId)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

export async function findEmailByDedupeKey(db: Database, dedupeKey: string) {
  return (await db.query.outgoingEmails.findFirst({ where: eq(outgoingEmails.dedupeKey, dedupeKey) })) ?? null;
}

export async function listEmails(
  db: Database,
  query: { limit: number; after?: PageCursor; kind?: (typeof EMAIL_KINDS)[number]; status?: (typeof EMAIL_STATUSES)[number] },
) {
  const conditions: SQL[] = [];
  if (query.kind) conditions.push(eq(outgoingEmails.kind, query.kind));
  if (query.status) conditions.push(eq(outgoingEmails.status, query.status));
  if (query.after) conditions.push(afterCursor(outgoingEmails.createdAt, outgoingEmails.id, query.after));
  const rows = await db
    .select()
    .from(outgoingEmails)
    .where(and(...conditions))
    .orderBy(desc(outgoingEmails.createdAt), desc(outgoingEmails.id))
    .limit(query.limit + 1);
  return pageOf(rows, query.limit);
}
