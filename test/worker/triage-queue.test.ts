import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import type { TriageMessage } from "../../worker/triage/message.ts";
import { BASE, crashReport, enrollNode, telemetryRowCount } from "./helpers.ts";

/** The real queue binding, wrapped to record what ingest sends (or to fail like an outage). */
function recordingQueue(options: { failing?: boolean } = {}) {
  const sent: TriageMessage[] = [];
  const queue = {
    async send(message: TriageMessage) {
      if (options.failing) throw new Error("queue unavailable");
      sent.push(message);
      return env.TRIAGE_QUEUE.send(message);
    },
  } as unknown as Queue<TriageMessage>;
  return { sent, queue };
}

async function ingest(queue: Queue<TriageMessage>, nodeKey: string, body: unknown): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}/api/node/telemetry`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-node-key": nodeKey },
      body: JSON.stringify(body),
    }),
    { ...env, TRIAGE_QUEUE: queue },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

describe("critical events and the triage queue", () => {
  it("a crash report is put on the triage queue with its telemetry id", async () => {
    const node = await enrollNode();
    const { sent, queue } = recordingQueue();
    const res = await ingest(queue, node.node_key, crashReport());
    const { id } = await res.json<{ id: string }>();
    expect(sent).toEqual([{ telemetry_id: id, node_id: node.node_id, type: "crash_report" }]);
  });

  it("warnings and info events are not queued for triage", async () => {
    const node = await enrollNode();
    const { sent, queue } = recordingQueue();
    await ingest(queue, node.node_key, crashReport({ type: "health", entries: [] }));
    await ingest(queue, node.node_key, crashReport({ type: "connection_degraded", entries: [] }));
    expect(sent).toEqual([]);
  });

  it("when the queue fails the event is kept, the node is told to retry, and the retry queues it", async () => {
    const node = await enrollNode();
    const report = crashReport();
    const down = recordingQueue({ failing: true });
    const before = await telemetryRowCount();
    const failed = await ingest(down.queue, node.node_key, report);
    expect(failed.status).toBe(503);
    expect(failed.headers.get("retry-after")).toBeTruthy();
    expect(await telemetryRowCount()).toBe(before + 1);

    const up = recordingQueue();
    const retried = await ingest(up.queue, node.node_key, report);
    expect(retried.status).toBe(200);
    expect(up.sent).toHaveLength(1);
    expect(await telemetryRowCount()).toBe(before + 1);
  });

  it("the consumer acknowledges every message (triage itself is not built yet)", async () => {
    const batch = createMessageBatch<TriageMessage>("buhdi-triage", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { telemetry_id: "t1", node_id: "n1", type: "crash_report" } },
      { id: "m2", timestamp: new Date(), attempts: 1, body: { telemetry_id: "t2", node_id: "n1", type: "crash_report" } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
  });
});
