/**
 * Triage of the crash reports of one Queue batch (worker/queue.ts routes them here): the
 * reports are triaged together (batch.ts), and each message is acknowledged once triaged (or
 * found already triaged: delivery is at-least-once), retried with growing delays when something
 * failed. A failing message never holds up the rest of its batch.
 */
import type { Env } from "../env.ts";
import { triageBatch } from "./batch.ts";
import type { TriageMessage } from "./message.ts";

/** 30 s, 60 s, 2 min, … capped at an hour: room for a webhook receiver, the email service or D1 to come back. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(3600, 30 * 2 ** Math.max(0, attempts - 1));
}

export async function triageMessages(messages: readonly Message<TriageMessage>[], env: Env): Promise<void> {
  if (messages.length === 0) return;
  let results: Awaited<ReturnType<typeof triageBatch>>;
  try {
    results = await triageBatch(
      env,
      messages.map((m) => m.body.telemetry_id),
      Date.now(),
    );
  } catch (error) {
    // The batch's first reads failed (D1 unavailable): nothing was written; every message is retried.
    results = new Map(messages.map((m) => [m.body.telemetry_id, { ok: false, error }]));
  }
  for (const message of messages) {
    // Every id gets a result; the fallback only keeps a gap from acknowledging a message.
    const result = results.get(message.body.telemetry_id) ?? { ok: false, error: new Error("no triage result") };
    if (result.ok) {
      console.log(
        JSON.stringify({ msg: "triage", telemetry_id: message.body.telemetry_id, node_id: message.body.node_id, outcome: result.outcome }),
      );
      message.ack();
    } else {
      console.error(
        JSON.stringify({
          msg: "triage failed",
          telemetry_id: message.body.telemetry_id,
          attempts: message.attempts,
          error: String(result.error),
        }),
      );
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}
