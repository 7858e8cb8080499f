/** The Worker's entry: HTTP through the Hono app, triage batches from the Queue, and the NodeSession class. */
import { app } from "./app.ts";
import type { Env } from "./env.ts";
import type { TriageMessage } from "./triage/message.ts";
import { handleTriageBatch } from "./triage/consumer.ts";

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleTriageBatch(batch, env),
} satisfies ExportedHandler<Env, TriageMessage>;

export { NodeSession } from "./node-session/node-session.ts";
