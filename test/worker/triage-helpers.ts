/** Putting crash reports in D1 the way ingest does, and running the triage consumer on them by hand. */
import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import worker from "../../worker/index.ts";
import type { TriageMessage } from "../../worker/triage/message.ts";
import { BASE, crashReport, type EnrolledNode } from "./helpers.ts";

/** Ingest for real, but keep the message off the real queue: the test delivers it itself. */
export async function ingestCrash(node: EnrolledNode, entries: readonly string[], version = "0.3.0"): Promise<string> {
  const quietQueue = { send: async () => undefined } as unknown as Queue<TriageMessage>;
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}/api/node/telemetry`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-node-key": node.node_key },
      body: JSON.stringify(crashReport({ entries: [...entries], node_version: version })),
    }),
    { ...env, TRIAGE_QUEUE: quietQueue },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(202);
  return (await res.json<{ id: string }>()).id;
}

let messageCounter = 0;

export async function deliver(
  telemetryIds: string[],
  overrides: Partial<Cloudflare.Env> = {},
  attempts = 1,
): Promise<{ acked: string[]; retried: string[]; ids: string[] }> {
  const ids = telemetryIds.map(() => `msg-${++messageCounter}`);
  const batch = createMessageBatch<TriageMessage>(
    "buhdi-triage",
    telemetryIds.map((telemetry_id, i) => ({
      id: ids[i]!,
      timestamp: new Date(),
      attempts,
      body: { telemetry_id, node_id: "n", type: "crash_report" },
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...overrides });
  const result = await getQueueResult(batch, ctx);
  return { acked: result.explicitAcks, retried: result.retryMessages.map((m) => m.msgId), ids };
}

export async function count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row!.n;
}

export async function row<T>(sql: string, ...params: unknown[]): Promise<T> {
  return (await env.DB.prepare(sql)
    .bind(...params)
    .first<T>())!;
}
