/**
 * Triage Queue consumer.
 *
 * NOT FINISHED: known-issue matching, crash grouping, tickets and escalation
 * are the triage issue's work. Until then this consumer only acknowledges each
 * message, so the queue does not back up; the events themselves are safe in
 * node_telemetry (stored before they were enqueued).
 */
import type { Env } from "../env.ts";
import type { TriageMessage } from "./message.ts";

export async function handleTriageBatch(batch: MessageBatch<TriageMessage>, _env: Env): Promise<void> {
  for (const message of batch.messages) {
    message.ack();
  }
}
