/**
 * The 5-minute cron's safety net: a critical report that was stored and acknowledged but whose
 * Queue message was lost is queued again once it has waited two minutes without a triage
 * receipt, and is then triaged once; reports triaged already, too young, too old or not
 * critical are left alone.
 */
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import type { TriageMessage } from "../../worker/triage/message.ts";
import { REQUEUE_CRON } from "../../worker/triage/requeue-untriaged.ts";
import { crashReport, enrollNode, postTelemetry } from "./helpers.ts";
import { count, deliver, ingestCrash } from "./triage-helpers.ts";

const MINUTE = 60_000;
const TYPE_ERROR = ["Uncaught TypeError: Cannot read properties of undefined (reading 'host')", "    at relay (file:///app/relay.js:3:9)"];

/** The real queue binding, wrapped to record what the cron sends. */
function recordingQueue() {
  const sent: TriageMessage[] = [];
  const queue = {
    async sendBatch(messages: Iterable<MessageSendRequest<TriageMessage>>) {
      const batch = [...messages];
      sent.push(...batch.map((m) => m.body));
      return env.TRIAGE_QUEUE.sendBatch(batch);
    },
  } as unknown as Queue<TriageMessage>; // only the method the cron calls
  return { sent, queue };
}

async function runCron(at: number): Promise<TriageMessage[]> {
  const { sent, queue } = recordingQueue();
  await worker.scheduled(createScheduledController({ scheduledTime: at, cron: REQUEUE_CRON }), { ...env, TRIAGE_QUEUE: queue });
  return sent;
}

describe("critical reports the Queue lost are queued again", () => {
  it("a report stored but never triaged is queued again after two minutes, and triaged once", async () => {
    const node = await enrollNode();
    const lost = await ingestCrash(node, TYPE_ERROR); // stored and acknowledged; its message never reached the Queue
    const now = Date.now();

    expect(await runCron(now + MINUTE)).toEqual([]); // it may still be on its way
    const sent = await runCron(now + 3 * MINUTE);
    expect(sent).toEqual([{ telemetry_id: lost, node_id: node.node_id, type: "crash_report" }]);

    await deliver([lost]);
    expect(await count("SELECT count(*) AS n FROM triage_receipts WHERE telemetry_id = ?", lost)).toBe(1);
    expect(await runCron(now + 8 * MINUTE)).toEqual([]);
  });

  it("leaves triaged, older than a day and non-critical reports alone", async () => {
    const node = await enrollNode();
    const triaged = await ingestCrash(node, TYPE_ERROR);
    await deliver([triaged]);
    const old = await ingestCrash(node, [...TYPE_ERROR, "old"]);
    await env.DB.prepare("UPDATE node_telemetry SET created_at = ? WHERE id = ?")
      .bind(Date.now() - 25 * 60 * MINUTE, old)
      .run();
    const health = await postTelemetry(node.node_key, crashReport({ type: "health", entries: [] }));
    expect(health.status).toBe(202);

    const sent = await runCron(Date.now() + 3 * MINUTE);
    expect(sent.filter((m) => m.node_id === node.node_id)).toEqual([]);
  });

  it("TRIAGE_REQUEUE_AFTER_SECONDS sets how long a report may wait", async () => {
    const node = await enrollNode();
    const lost = await ingestCrash(node, TYPE_ERROR);
    const { sent, queue } = recordingQueue();
    const controller = createScheduledController({ scheduledTime: Date.now() + 20_000, cron: REQUEUE_CRON });
    await worker.scheduled(controller, { ...env, TRIAGE_QUEUE: queue, TRIAGE_REQUEUE_AFTER_SECONDS: "10" });
    expect(sent.map((m) => m.telemetry_id)).toContain(lost);
  });

  it("the hourly cron still archives and does not requeue", async () => {
    const node = await enrollNode();
    await ingestCrash(node, TYPE_ERROR);
    const { sent, queue } = recordingQueue();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 3 * MINUTE, cron: "17 * * * *" }), {
      ...env,
      TRIAGE_QUEUE: queue,
    });
    expect(sent).toEqual([]);
  });
});
