/**
 * The edge's one Queue (buhdi-triage) carries three kinds of message: a critical telemetry event
 * to triage, an email to send (an owner's invitation), and a step of a release's push to its
 * rollout (releases/push-fanout.ts). Each is acknowledged once done (or found done already:
 * delivery is at-least-once), retried with growing delays when something failed, and
 * after max_retries (wrangler.toml) end in the dead-letter queue. A failing message never holds up
 * the rest of its batch.
 */
import { EmailSendFailed, sendStoredEmail } from "./email/send.ts";
import type { Env } from "./env.ts";
import { isPushMessage, type PushMessage, runPushMessage } from "./releases/push-fanout.ts";
import { retryDelaySeconds, triageMessages } from "./triage/consumer.ts";
import type { TriageMessage } from "./triage/message.ts";

/** An email to send: the outgoing_emails row it names holds everything. */
export type EmailMessage = { kind: "email"; email_id: string };

export type QueueMessage = TriageMessage | EmailMessage | PushMessage;

function isEmail(message: Message<QueueMessage>): message is Message<EmailMessage> {
  const body = message.body;
  return "kind" in body && body.kind === "email";
}

export async function handleQueueBatch(batch: MessageBatch<QueueMessage>, env: Env): Promise<void> {
  const reports: Message<TriageMessage>[] = [];
  for (const message of batch.messages) {
    if (isEmail(message)) await emailMessage(message, env);
    else if (isPushMessage(message.body)) await pushMessage(message as Message<PushMessage>, env);
    else reports.push(message as Message<TriageMessage>);
  }
  // The crash reports are triaged together: a few D1 round trips for the whole batch.
  await triageMessages(reports, env);
}

async function emailMessage(message: Message<EmailMessage>, env: Env): Promise<void> {
  const id = message.body.email_id;
  try {
    const outcome = await sendStoredEmail(env, id, Date.now());
    console.log(JSON.stringify({ msg: "email", email_id: id, outcome }));
    message.ack();
  } catch (error) {
    const expected = error instanceof EmailSendFailed;
    console.error(JSON.stringify({ msg: "email failed", email_id: id, attempts: message.attempts, error: String(error), expected }));
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}

async function pushMessage(message: Message<PushMessage>, env: Env): Promise<void> {
  try {
    const step = await runPushMessage(env, message.body);
    const { pushed, skipped, ...rest } = step;
    console.log(JSON.stringify({ msg: "release push", ...rest, pushed: pushed.length, skipped: skipped.length }));
    message.ack();
  } catch (error) {
    console.error(
      JSON.stringify({
        msg: "release push failed",
        kind: message.body.kind,
        version: message.body.version,
        attempts: message.attempts,
        error: String(error),
      }),
    );
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}
