/**
 * Triage of one Queue message (worker/queue.ts routes it here): one critical telemetry event,
 * acknowledged once triaged (or found already triaged: delivery is at-least-once), retried with
 * growing delays when something failed.
 */
import type { KnownIssueRow } from "../db/triage.ts";
import type { Env } from "../env.ts";
import type { TriageMessage } from "./message.ts";
import { triageTelemetry } from "./triage.ts";

/** 30 s, 60 s, 2 min, … capped at an hour: room for a webhook receiver, the email service or D1 to come back. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(3600, 30 * 2 ** Math.max(0, attempts - 1));
}

export async function triageMessage(message: Message<TriageMessage>, env: Env, knownIssues: () => Promise<KnownIssueRow[]>): Promise<void> {
  try {
    const outcome = await triageTelemetry(env, message.body.telemetry_id, Date.now(), knownIssues);
    console.log(JSON.stringify({ msg: "triage", telemetry_id: message.body.telemetry_id, node_id: message.body.node_id, outcome }));
    message.ack();
  } catch (error) {
    console.error(
      JSON.stringify({ msg: "triage failed", telemetry_id: message.body.telemetry_id, attempts: message.attempts, error: String(error) }),
    );
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}
