/**
 * The node's 24 h history for IT Support's charts lives in its Durable Object's storage: one
 * sample per 5-minute slot (no storage write per heartbeat, no D1 write at all), bounded to 24 h,
 * and drawn on the node detail page.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { HISTORY_SLOT_MS, type HistorySample, type NodeSession } from "../../worker/node-session/node-session.ts";
import { call, enrollNode } from "./helpers.ts";
import { connect, heartbeat, sessionOf } from "./live-helpers.ts";

const slot = (t: number) => t - (t % HISTORY_SLOT_MS);

async function supportCookie(): Promise<string> {
  const res = await call("/auth/support", {
    method: "POST",
    headers: { origin: "https://edge.test", "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ admin_token: env.ADMIN_TOKEN }).toString(),
    redirect: "manual",
  });
  return (res.headers.get("set-cookie") ?? "").split(";")[0]!;
}

describe("a node's 24 h history", () => {
  it("keeps one sample per 5-minute slot however many heartbeats arrive in it", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    const before = Date.now();
    for (const memory of [51, 60, 70]) {
      socket.send(heartbeat(node, { memory_mb: memory, error_count: 2 }));
      await socket.next("heartbeat_ack");
    }
    const slots = new Set([slot(before), slot(Date.now())]).size;
    const history = await sessionOf(node.node_id).history();
    expect(history.length).toBeGreaterThanOrEqual(1);
    expect(history.length).toBeLessThanOrEqual(slots);
    expect(history[0]).toMatchObject({ memory_mb: 51, error_count: 2 });
    socket.ws.close(1000, "done");
  });

  it("forgets samples older than 24 h", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    const old = Date.now() - 25 * 3600_000;
    await runInDurableObject(sessionOf(node.node_id), async (_i: NodeSession, state) => {
      await state.storage.put(`hist:${String(slot(old)).padStart(15, "0")}`, {
        at: old,
        memory_mb: 1,
        error_count: 0,
      } satisfies HistorySample);
    });
    const history = await sessionOf(node.node_id).history();
    expect(history.every((s) => s.at > Date.now() - 24 * 3600_000)).toBe(true);
    const keys = await runInDurableObject(sessionOf(node.node_id), async (_i: NodeSession, state) => [
      ...(await state.storage.list({ prefix: "hist:" })).keys(),
    ]);
    expect(keys).toHaveLength(history.length);
    socket.ws.close(1000, "done");
  });

  it("is drawn on IT Support's node detail page, with the node's commands and telemetry; a missing node is a 404 page", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    socket.send(heartbeat(node, { memory_mb: 64, error_count: 3 }));
    await socket.next("heartbeat_ack");
    const cookie = await supportCookie();
    const res = await call(`/support/nodes/${node.node_id}`, { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/aria-label="Memory: 1 samples over 24 h, latest 64 MB, highest 64 MB"/);
    expect(html).toMatch(/aria-label="Error count: 1 samples over 24 h, latest 3 errors/);
    expect(html).toContain("Kitchen Laptop");
    expect((await call(`/support/nodes/${crypto.randomUUID()}`, { headers: { cookie } })).status).toBe(404);
    expect((await call("/support/nodes/not-a-uuid", { headers: { cookie } })).status).toBe(400);
    socket.ws.close(1000, "done");
  });
});
