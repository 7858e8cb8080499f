/**
 * The safety net under "nothing accepted is lost". Ingest stores a critical report, then queues it
 * for triage, then answers (routes/telemetry.ts), so a report the node saw accepted is always
 * queued once. If the Queue loses it after that (an outage, a message that used up its retries and
 * went to the dead-letter queue, a local edge killed with messages in memory), nothing else would
 * ever triage it. Every few minutes the edge queues again each critical report that has been
 * waiting longer than any healthy queue takes and still has no triage receipt. Triage is
 * idempotent per telemetry id, so a report queued twice is triaged once.
 */
import { positiveSeconds } from "../config.ts";
import type { Env } from "../env.ts";
import { fleetDatabase } from "../db/shards.ts";
import type { TriageMessage } from "./message.ts";

/** The cron trigger (wrangler.toml) that runs requeueUntriaged. */
export const REQUEUE_CRON = "*/5 * * * *";
/**
 * Younger reports may still be on their way through a healthy queue (batch timeout, retries):
 * 120 s unless TRIAGE_REQUEUE_AFTER_SECONDS says otherwise.
 */
const DEFAULT_WAITING_AT_LEAST_S = 120;
/**
 * Older ones are left to IT Support: a report whose triage fails every time (it sits in the
 * dead-letter queue) is retried once per run for a day, not forever.
 */
const WAITING_AT_MOST_MS = 24 * 3_600_000;
/** Per run; the next run takes the rest. */
const MAX_PER_RUN = 500;
/** sendBatch takes at most 100 messages. */
const SEND_CHUNK = 100;

/** Reads only unresolved critical reports (idx_telemetry_unresolved): an untriaged one is never resolved. */
export async function requeueUntriaged(env: Env, now: number): Promise<{ requeued: number }> {
  // Across owners: with D1 sharded by owner (db/shards.ts) a run reads each shard.
  const d1 = fleetDatabase(env);
  const { results } = await d1
    .prepare(
      `SELECT t.id AS telemetry_id, t.node_id, t.type FROM node_telemetry t
       WHERE t.resolved = 0 AND t.severity = 'critical' AND t.created_at BETWEEN ?1 AND ?2
         AND NOT EXISTS (SELECT 1 FROM triage_receipts r WHERE r.telemetry_id = t.id)
       ORDER BY t.created_at LIMIT ?3`,
    )
    .bind(now - WAITING_AT_MOST_MS, now - positiveSeconds(env.TRIAGE_REQUEUE_AFTER_SECONDS, DEFAULT_WAITING_AT_LEAST_S) * 1000, MAX_PER_RUN)
    .all<TriageMessage>();
  for (let i = 0; i < results.length; i += SEND_CHUNK) {
    await env.TRIAGE_QUEUE.sendBatch(results.slice(i, i + SEND_CHUNK).map((body) => ({ body })));
  }
  return { requeued: results.length };
}
