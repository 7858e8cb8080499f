/**
 * The enabled known issues, kept per isolate between queue batches. Every batch reads the
 * table's stamp (db/triage.ts: row count, newest creation, sum of edit times) in the round trip it
 * makes anyway, and reads the issues again only when the stamp moved: an issue created, edited,
 * enabled or disabled takes effect on the next batch. As a backstop for a write the stamp cannot
 * see (an edit by hand in SQL that leaves updated_at alone), a list is never used longer than
 * MAX_AGE_MS after it was read.
 */
import { enabledKnownIssues, type KnownIssueRow } from "../db/triage.ts";

const MAX_AGE_MS = 60_000;

let cached: { stamp: string; issues: KnownIssueRow[]; readAt: number } | null = null;

export async function knownIssuesFor(d1: D1Database, stamp: string, now: number): Promise<KnownIssueRow[]> {
  if (cached && cached.stamp === stamp && now - cached.readAt >= 0 && now - cached.readAt < MAX_AGE_MS) return cached.issues;
  const issues = await enabledKnownIssues(d1);
  cached = { stamp, issues, readAt: now };
  return issues;
}
