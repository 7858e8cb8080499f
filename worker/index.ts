/**
 * The Worker's entry: HTTP through the Hono app, the Queue's messages (triage, emails), the two
 * cron jobs (every 5 minutes: critical reports the Queue lost go to triage again; hourly: old
 * telemetry to the archive), and the NodeSession class.
 */
import { app } from "./app.ts";
import { archiveOldTelemetry } from "./archive/archive-telemetry.ts";
import type { Env } from "./env.ts";
import { handleQueueBatch, type QueueMessage } from "./queue.ts";
import { REQUEUE_CRON, requeueUntriaged } from "./triage/requeue-untriaged.ts";

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleQueueBatch(batch, env),
  scheduled: async (controller, env) => {
    if (controller.cron === REQUEUE_CRON) {
      const run = await requeueUntriaged(env, controller.scheduledTime);
      // Routine when 0; anything else means the Queue lost messages, which is worth seeing.
      if (run.requeued > 0) console.warn(JSON.stringify({ msg: "untriaged reports queued again", cron: controller.cron, ...run }));
      return;
    }
    const run = await archiveOldTelemetry(env, controller.scheduledTime);
    console.log(JSON.stringify({ msg: "telemetry archive", cron: controller.cron, ...run }));
  },
} satisfies ExportedHandler<Env, QueueMessage>;

export { NodeSession } from "./node-session/node-session.ts";
