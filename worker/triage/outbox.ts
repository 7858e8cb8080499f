/**
 * What a triage decision must tell the world after its D1 batch committed:
 * the node's Durable Object (a command, a fix to verify), the escalation
 * webhook and the escalation email. Each step is idempotent and marked done in
 * D1, so a redelivered message finishes what a failed attempt left, and never
 * does anything twice. The webhook and the email are both tried on every
 * attempt: one failing does not hold the other back.
 */
import type { CommandType } from "../../protocol/messages.ts";
import { triageSettings } from "../config.ts";
import { pendingEscalationEmails } from "../db/emails.ts";
import { clearNodeOutbox, pendingEscalations, pendingNodeOutbox, recordDelivery } from "../db/triage.ts";
import { EmailSendFailed, sendStoredEmail } from "../email/send.ts";
import type { Env } from "../env.ts";
import { fleetDatabase } from "../db/shards.ts";
import { nodeSession } from "../node-session/stub.ts";
import { UPDATE_COMMAND_TTL_SECONDS } from "../releases/push.ts";
import { deliverWebhook } from "./webhook.ts";

/** Commands from triage stay deliverable as long as updates do (a laptop may be off for two weeks). */
const COMMAND_TTL_SECONDS = UPDATE_COMMAND_TTL_SECONDS;

export class DeliveryFailed extends Error {}

type NodeOutbox = {
  /** `id`: set for updates (per node and version); otherwise the resolution's id is the command's. */
  command: { id: string | null; type: CommandType; payload: Record<string, unknown> } | null;
  verify: { fixVersion: string | null } | null;
};

export async function flushOutbox(env: Env, telemetryId: string, now: number): Promise<void> {
  const d1 = fleetDatabase(env);
  for (const row of await pendingNodeOutbox(d1, telemetryId)) {
    const outbox = JSON.parse(row.nodeOutbox) as NodeOutbox;
    const session = nodeSession(env, row.nodeId);
    const identity = { nodeId: row.nodeId, ownerId: row.ownerId };
    let commandId: string | null = null;
    if (outbox.command) {
      // A fixed command id: enqueuing it again is a no-op in the Durable Object.
      const queued = await session.enqueueCommand(identity, {
        id: outbox.command.id ?? row.id,
        type: outbox.command.type,
        payloadJson: JSON.stringify(outbox.command.payload),
        ttlSeconds: COMMAND_TTL_SECONDS,
      });
      commandId = queued.id;
    }
    // The window counts from when the edge heard of the crash, not from when triage got to it: a
    // report triaged after its fix is already running (a crash loop's later reports) waits no longer.
    if (outbox.verify)
      await session.expectHealthy(identity, { resolutionId: row.id, fixVersion: outbox.verify.fixVersion, since: row.reportedAt });
    await clearNodeOutbox(d1, row.id, commandId);
  }

  const failures = [...(await deliverEscalations(env, telemetryId, now)), ...(await sendEscalationEmails(env, telemetryId, now))];
  if (failures.length > 0) throw new DeliveryFailed(failures.join("; "));
}

/** The webhook, for each escalation of this message not yet delivered; what failed. */
async function deliverEscalations(env: Env, telemetryId: string, now: number): Promise<string[]> {
  const settings = triageSettings(env);
  const escalations = await pendingEscalations(fleetDatabase(env), telemetryId);
  if (escalations.length === 0) return [];
  if (!settings.webhookUrl || !settings.webhookSecret) {
    // Not configured: the escalation stays pending and visible; nothing to retry.
    console.warn(JSON.stringify({ msg: "escalation webhook not configured", telemetry_id: telemetryId }));
    return [];
  }
  const failures: string[] = [];
  for (const escalation of escalations) {
    const result = await deliverWebhook(settings.webhookUrl, settings.webhookSecret, escalation.body, now);
    await recordDelivery(fleetDatabase(env), escalation.id, now, result.ok ? null : result.error);
    if (!result.ok) failures.push(result.error);
  }
  return failures;
}

/** The escalation emails of this message still pending (never one being or already sent); what failed. */
async function sendEscalationEmails(env: Env, telemetryId: string, now: number): Promise<string[]> {
  const failures: string[] = [];
  for (const id of await pendingEscalationEmails(fleetDatabase(env), telemetryId)) {
    try {
      await sendStoredEmail(env, id, now);
    } catch (error) {
      if (!(error instanceof EmailSendFailed)) throw error;
      failures.push(error.message);
    }
  }
  return failures;
}
