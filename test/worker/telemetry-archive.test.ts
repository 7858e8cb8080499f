import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { archiveKey } from "../../worker/archive/archive-key.ts";
import { type ArchivedLine, archiveOldTelemetry } from "../../worker/archive/archive-telemetry.ts";
import worker from "../../worker/index.ts";
import { call, crashReport, createOwner, type EnrolledNode, enrollNode, postTelemetry } from "./helpers.ts";

const DAY = 24 * 3600 * 1000;
const NOW = Date.parse("2026-12-02T12:00:00.000Z");
const LONG_LOG = Array.from({ length: 40 }, (_, i) => `    at frame${i} (C:\\Program Files\\buhdi\\dist\\main.mjs:${i}:7)`);

/** A stored report, moved back in time as if it had arrived `at`. */
async function reportAt(node: EnrolledNode, at: number, entries: string[] = ["Error: disk full", ...LONG_LOG]): Promise<string> {
  const res = await postTelemetry(node.node_key, crashReport({ type: "error", entries }));
  expect(res.status).toBe(202);
  const { id } = await res.json<{ id: string }>();
  await env.DB.prepare("UPDATE node_telemetry SET created_at = ? WHERE id = ?").bind(at, id).run();
  return id;
}

async function archivedLines(nodeId: string, at: number): Promise<ArchivedLine[]> {
  const object = await env.ARCHIVE.get(archiveKey(nodeId, at));
  if (!object) return [];
  return (await object.text())
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as ArchivedLine);
}

async function stored(id: string): Promise<{ archived_at: number | null; payload: string }> {
  return (await env.DB.prepare("SELECT archived_at, payload FROM node_telemetry WHERE id = ?").bind(id).first())!;
}

function getEntry(token: string, id: string): Promise<Response> {
  return call(`/api/node/telemetry/${id}`, { headers: { authorization: `Bearer ${token}` } });
}

describe("telemetry past its retention period moves to R2", () => {
  let nana: EnrolledNode;
  let den: EnrolledNode;
  const day40 = NOW - 40 * DAY;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    nana = await enrollNode(await createOwner("Nana"));
    den = await enrollNode({ owner_id: nana.owner_id, dashboard_token: nana.dashboard_token });
    ids.morning = await reportAt(nana, day40);
    ids.evening = await reportAt(nana, day40 + 3600_000);
    ids.dayBefore = await reportAt(nana, day40 - DAY);
    ids.den = await reportAt(den, day40);
    // The day the retention period ends in waits whole: 30 days ago to the minute is kept.
    ids.lastDay = await reportAt(nana, NOW - 30 * DAY);
    ids.recent = await reportAt(nana, NOW - DAY);
    await archiveOldTelemetry(env, NOW);
  });

  it("each node's day becomes one NDJSON object holding every event of that day in full", async () => {
    const day = await archivedLines(nana.node_id, day40);
    expect(day.map((l) => l.id).sort()).toEqual([ids.morning, ids.evening].sort());
    expect(day[0]).toMatchObject({ node_id: nana.node_id, type: "error", severity: "warning", node_version: "0.3.0" });
    expect((day[0]!.payload as { entries: string[] }).entries).toHaveLength(41);
    expect((await archivedLines(nana.node_id, day40 - DAY)).map((l) => l.id)).toEqual([ids.dayBefore]);
    expect((await archivedLines(den.node_id, day40)).map((l) => l.id)).toEqual([ids.den]);
  });

  it("D1 keeps a summary of each archived row: its first line, how many lines went, and when", async () => {
    const row = await stored(ids.morning!);
    expect(row.archived_at).toBe(NOW);
    const summary = JSON.parse(row.payload) as Record<string, unknown>;
    expect(summary).toMatchObject({ type: "error", node_version: "0.3.0", entries: ["Error: disk full"], entries_archived: 41 });
  });

  it("rows inside the retention period, and the whole day it ends in, stay in D1 untouched", async () => {
    for (const id of [ids.lastDay!, ids.recent!]) {
      const row = await stored(id);
      expect(row.archived_at).toBeNull();
      expect((JSON.parse(row.payload) as { entries: string[] }).entries).toHaveLength(41);
    }
  });

  it("the API finds an archived entry by id and returns the full event from the archive", async () => {
    const res = await getEntry(nana.dashboard_token, ids.morning!);
    expect(res.status).toBe(200);
    const entry = await res.json<{ id: string; archived_at: string; payload: { entries: string[] } }>();
    expect(entry.id).toBe(ids.morning);
    expect(entry.archived_at).toBe(new Date(NOW).toISOString());
    expect(entry.payload.entries).toHaveLength(41);

    const list = await call(`/api/node/telemetry?node_id=${nana.node_id}&limit=100`, {
      headers: { authorization: `Bearer ${nana.dashboard_token}` },
    });
    const listed = (await list.json<{ items: { id: string; archived_at: string | null; payload: { entries: string[] } }[] }>()).items;
    expect(listed.find((i) => i.id === ids.morning)).toMatchObject({
      archived_at: entry.archived_at,
      payload: { entries: ["Error: disk full"] },
    });
    expect(listed.find((i) => i.id === ids.recent)).toMatchObject({ archived_at: null });
  });

  it("an entry is found by id only by its owner and IT Support; a bad id is a 400 naming the path", async () => {
    const bob = await createOwner("Bob");
    expect((await getEntry(bob.dashboard_token, ids.morning!)).status).toBe(404);
    expect((await getEntry(env.ADMIN_TOKEN, ids.morning!)).status).toBe(200);
    const bad = await getEntry(nana.dashboard_token, "not-an-id");
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("id");
  });

  it("a second run archives nothing more and writes no event twice", async () => {
    const again = await archiveOldTelemetry(env, NOW);
    expect(again.archived).toBe(0);
    expect(await archivedLines(nana.node_id, day40)).toHaveLength(2);
  });
});

describe("an archive run cut short or repeated", () => {
  it("a day split across batches ends in one object with each event once", async () => {
    const node = await enrollNode();
    const at = NOW - 50 * DAY;
    const written = [await reportAt(node, at), await reportAt(node, at + 1000), await reportAt(node, at + 2000)];
    const run = await archiveOldTelemetry(env, NOW, { batchRows: 1 });
    expect(run.batches).toBeGreaterThanOrEqual(3);
    expect((await archivedLines(node.node_id, at)).map((l) => l.id).sort()).toEqual([...written].sort());
  });

  it("a run that died after writing R2 but before marking D1 is finished by the next, without duplicates", async () => {
    const node = await enrollNode();
    const at = NOW - 60 * DAY;
    const id = await reportAt(node, at);
    const original = (await stored(id)).payload;
    await archiveOldTelemetry(env, NOW);
    // Undo the D1 half only, as if the Worker had died between the two writes.
    await env.DB.prepare("UPDATE node_telemetry SET archived_at = NULL, payload = ? WHERE id = ?").bind(original, id).run();
    const run = await archiveOldTelemetry(env, NOW);
    expect(run.archived).toBe(1);
    expect((await archivedLines(node.node_id, at)).map((l) => l.id)).toEqual([id]);
    expect((await stored(id)).archived_at).toBe(NOW);
  });

  it("an object changed since the run read it is not overwritten; its rows wait for the next run", async () => {
    const node = await enrollNode();
    const at = NOW - 70 * DAY;
    const id = await reportAt(node, at);
    const key = archiveKey(node.node_id, at);
    const foreign = JSON.stringify({ id: crypto.randomUUID(), note: "written by another run" });
    await env.ARCHIVE.put(key, `${foreign}\n`);
    // The object changes between this run's read and its write.
    const racing = {
      get: async (k: string) => {
        const object = await env.ARCHIVE.get(k);
        if (k === key) await env.ARCHIVE.put(key, `${foreign}\n${foreign}\n`);
        return object;
      },
      put: (...args: Parameters<R2Bucket["put"]>) => env.ARCHIVE.put(...args),
    } as unknown as R2Bucket; // only the two methods the archiver calls
    const run = await archiveOldTelemetry({ ...env, ARCHIVE: racing }, NOW);
    expect(run.deferred).toBe(1);
    expect((await stored(id)).archived_at).toBeNull();
    const next = await archiveOldTelemetry(env, NOW);
    expect(next.archived).toBe(1);
    const lines = (await (await env.ARCHIVE.get(key))!.text()).split("\n").filter((l) => l !== "");
    expect(lines).toEqual([foreign, expect.stringContaining(id)]); // the duplicate foreign line merged by id
  });
});

describe("the hourly cron", () => {
  it("runs the archive with the retention period TELEMETRY_RETENTION_DAYS sets", async () => {
    const node = await enrollNode();
    const id = await reportAt(node, NOW - 10 * DAY);
    const controller = createScheduledController({ scheduledTime: NOW, cron: "17 * * * *" });
    await worker.scheduled(controller, { ...env });
    expect((await stored(id)).archived_at).toBeNull();

    await worker.scheduled(controller, { ...env, TELEMETRY_RETENTION_DAYS: "7" });
    expect((await stored(id)).archived_at).toBe(NOW);
    expect((await archivedLines(node.node_id, NOW - 10 * DAY)).map((l) => l.id)).toEqual([id]);
  });
});
