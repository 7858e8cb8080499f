/**
 * The node's 24 h history for IT Support's charts lives in its Durable Object: one sample per
 * 5-minute slot, on the socket until its hour is over, then one storage row per hour in a ring of
 * 24 (no storage write per heartbeat, no D1 write at all), and drawn on the node detail page.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { flushDue, type HistorySample, readHistory, writeSamples } from "../../worker/node-session/history.ts";
import type { NodeSession } from "../../worker/node-session/node-session.ts";
import { call, enrollNode } from "./helpers.ts";
import { connect, heartbeat, sessionOf } from "./live-helpers.ts";

const SLOT_MS = 300_000;
const HOUR_MS = 3_600_000;
const slot = (t: number) => t - (t % SLOT_MS);
const sample = (at: number, memory_mb = 50): HistorySample => ({ at, memory_mb, error_count: 0 });

async function supportCookie(): Promise<string> {
  const res = await call("/auth/support", {
    method: "POST",
    headers: { origin: "https://edge.test", "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ admin_token: env.ADMIN_TOKEN }).toString(),
    redirect: "manual",
  });
  return (res.headers.get("set-cookie") ?? "").split(";")[0]!;
}

async function storedKeys(nodeId: string): Promise<string[]> {
  return runInDurableObject(sessionOf(nodeId), async (_i: NodeSession, state) => [...(await state.storage.list()).keys()]);
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

  it("the hour's samples ride on the socket, not in storage, through hibernation; its close stores them", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node, { memory_mb: 61 }));
    await socket.next("heartbeat_ack");
    expect((await storedKeys(node.node_id)).filter((k) => k.startsWith("history:"))).toEqual([]);
    await evictDurableObject(sessionOf(node.node_id), { webSockets: "hibernate" });
    expect((await sessionOf(node.node_id).history()).map((s) => s.memory_mb)).toEqual([61]);

    socket.ws.close(1000, "done");
    await socket.closed;
    await expect.poll(async () => (await storedKeys(node.node_id)).filter((k) => k.startsWith("history:"))).toHaveLength(1);
    expect((await sessionOf(node.node_id).history()).map((s) => s.memory_mb)).toEqual([61]);
  });

  it("an hour is one storage row, added to when written again, and replaced by the same hour a day later", async () => {
    const node = await enrollNode();
    const hour = Date.now() - (Date.now() % HOUR_MS) - 30 * HOUR_MS;
    await runInDurableObject(sessionOf(node.node_id), async (_i: NodeSession, state) => {
      await writeSamples(state.storage, [sample(hour + 1), sample(hour + SLOT_MS)], SLOT_MS);
      await writeSamples(state.storage, [sample(hour + 2 * SLOT_MS), sample(hour + HOUR_MS)], SLOT_MS);
      const rows = await state.storage.list({ prefix: "history:" });
      expect(rows.size).toBe(2);
      expect(await readHistory(state.storage, [], hour + 2 * HOUR_MS)).toHaveLength(4);

      await writeSamples(state.storage, [sample(hour + 24 * HOUR_MS + 1, 99)], SLOT_MS);
      expect((await state.storage.list({ prefix: "history:" })).size).toBe(2);
      const now = hour + 24 * HOUR_MS + 2;
      // The day-old hour is gone (overwritten); the hour after it is still within 24 h.
      expect((await readHistory(state.storage, [], now)).map((s) => s.memory_mb)).toEqual([50, 99]);
    });
  });

  it("samples stored one key each by the older format are shown, and moved into hour rows by the first hourly write", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    const recent = Date.now() - 3 * HOUR_MS;
    const old = Date.now() - 25 * HOUR_MS;
    await runInDurableObject(sessionOf(node.node_id), async (_i: NodeSession, state) => {
      for (const at of [old, recent]) await state.storage.put(`hist:${String(slot(at)).padStart(15, "0")}`, sample(at, 7));
    });
    expect((await sessionOf(node.node_id).history()).map((s) => s.at)).toEqual([recent]);

    socket.send(heartbeat(node, { memory_mb: 62 }));
    await socket.next("heartbeat_ack");
    socket.ws.close(1000, "done");
    await socket.closed;
    await expect.poll(async () => (await storedKeys(node.node_id)).filter((k) => k.startsWith("hist:"))).toEqual([]);
    expect((await sessionOf(node.node_id).history()).map((s) => s.memory_mb)).toEqual([7, 62]);
  });

  it("a row spans 12 slots, so a shorter slot (a benchmark's faster clock) writes rows as often, relative to it", () => {
    const rowStart = 10 * HOUR_MS;
    const buffered = [sample(rowStart + 1)];
    expect(flushDue(buffered, rowStart + HOUR_MS - 1, SLOT_MS)).toBe(false);
    expect(flushDue(buffered, rowStart + HOUR_MS, SLOT_MS)).toBe(true);
    expect(flushDue(buffered, rowStart + 299_999, 25_000)).toBe(false);
    expect(flushDue(buffered, rowStart + 300_000, 25_000)).toBe(true);
    expect(flushDue([], rowStart + HOUR_MS, SLOT_MS)).toBe(false);
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
