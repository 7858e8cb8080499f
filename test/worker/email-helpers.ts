/**
 * The real send_email and Queue bindings of the test runtime, wrapped to record what the Worker
 * hands them (or to refuse like an outage), and the Worker called with settings of the test's own.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../worker/index.ts";
import type { QueueMessage } from "../../worker/queue.ts";
import { BASE } from "./helpers.ts";

export const SENDER = "it-support@buhdi.test";

/** The settings that turn email on, with the recording binding. */
export function emailOn(email: SendEmail, extra: Partial<Cloudflare.Env> = {}): Partial<Cloudflare.Env> {
  return { EMAIL_FROM: SENDER, EMAIL: email, ...extra };
}

export type SentEmail = {
  from: { email: string; name: string };
  to: string[];
  subject: string;
  text: string;
  html: string;
};

/** Each message the Worker gave the binding (the binding really gets it too); `failures` first refuse like an outage. */
export function recordingEmail(options: { failures?: number } = {}) {
  const sent: SentEmail[] = [];
  let refusals = options.failures ?? 0;
  const binding = {
    async send(message: EmailMessageBuilder) {
      if (refusals > 0) {
        refusals--;
        throw new Error("email service unavailable");
      }
      sent.push(message as unknown as SentEmail);
      return env.EMAIL.send(message);
    },
  } as SendEmail;
  return { sent, binding };
}

/** Records what goes on the Queue (and sends it to the real one), or refuses like an outage. */
export function recordingQueue(options: { failing?: boolean } = {}) {
  const sent: QueueMessage[] = [];
  const queue = {
    async send(message: QueueMessage) {
      if (options.failing) throw new Error("queue unavailable");
      sent.push(message);
      return env.TRIAGE_QUEUE.send(message);
    },
  } as unknown as Queue<QueueMessage>;
  return { sent, queue };
}

/** One request to the Worker with these settings in place of wrangler.toml's. */
export async function callWith(overrides: Partial<Cloudflare.Env>, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${BASE}${path}`, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

let counter = 0;

/** Runs the Queue consumer on these messages, as one batch; which were acknowledged and which retried. */
export async function deliverMessages(
  bodies: QueueMessage[],
  overrides: Partial<Cloudflare.Env>,
  attempts = 1,
): Promise<{ acked: string[]; retried: string[]; ids: string[] }> {
  const ids = bodies.map(() => `email-msg-${++counter}`);
  const batch = createMessageBatch<QueueMessage>(
    "buhdi-triage",
    bodies.map((body, i) => ({ id: ids[i]!, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...overrides });
  const result = await getQueueResult(batch, ctx);
  return { acked: result.explicitAcks, retried: result.retryMessages.map((m) => m.msgId), ids };
}
