/**
 * The Worker's entry: HTTP through the Hono app, the Queue's messages (triage, emails), the
 * hourly archive of old telemetry, and the NodeSession class.
 */
import { app } from "./app.ts";
import { archiveOldTelemetry } from "./archive/archive-telemetry.ts";
import type { Env } from "./env.ts";
import { handleQueueBatch, type QueueMessage } from "./queue.ts";

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleQueueBatch(batch, env),
  scheduled: async (controller, env) => {
    const run = await archiveOldTelemetry(env, controller.scheduledTime);
    console.log(JSON.stringify({ msg: "telemetry archive", cron: controller.cron, ...run }));
  },
} satisfies ExportedHandler<Env, QueueMessage>;

export { NodeSession } from "./node-session/node-session.ts";
