/** The Worker's entry: HTTP through the Hono app, the Queue's messages (triage, emails), and the NodeSession class. */
import { app } from "./app.ts";
import type { Env } from "./env.ts";
import { handleQueueBatch, type QueueMessage } from "./queue.ts";

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleQueueBatch(batch, env),
} satisfies ExportedHandler<Env, QueueMessage>;

export { NodeSession } from "./node-session/node-session.ts";
