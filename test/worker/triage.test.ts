import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EADDRINUSE_CRASH_LOOP, ENOENT_CRASH, JSON_PARSE_REJECTION, TYPE_ERROR_CRASH, WATCHDOG_EXIT } from "../fixtures/crashes.ts";
import type { HealthExpectation, NodeSession } from "../../worker/node-session/node-session.ts";
import { adminHeaders, adminPost, call, createOwner, enrollNode } from "./helpers.ts";
import { connect, heartbeat, type LiveSocket, sessionOf } from "./live-helpers.ts";
import type { LiveState } from "../../worker/node-session/live-state.ts";
import { count, deliver, ingestCrash, row } from "./triage-helpers.ts";

const EADDRINUSE_ISSUE = "5f1f0a8e-6a39-4c38-9a53-6c1c7d1e0001";
const WATCHDOG_ISSUE = "5f1f0a8e-6a39-4c38-9a53-6c1c7d1e0002";

describe("triage of known issues", () => {
  it("a real EADDRINUSE crash on 0.3.0 matches the seeded issue and waits for the 0.3.1 release, escalating once", async () => {
    const node = await enrollNode();
    const first = await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0");
    const { acked, ids } = await deliver([first]);
    expect(acked).toEqual(ids);

    const resolution = await row<Record<string, unknown>>("SELECT * FROM resolutions WHERE telemetry_id = ?", first);
    expect(resolution).toMatchObject({
      known_issue_id: EADDRINUSE_ISSUE,
      action: "waiting_for_release",
      state: "waiting_for_release",
      from_version: "0.3.0",
      fix_version: "0.3.1",
      node_id: node.node_id,
    });
    const group = await row<Record<string, unknown>>("SELECT * FROM crash_groups WHERE id = ?", resolution.group_id);
    expect(group).toMatchObject({ state: "waiting_for_release", report_count: 1, node_count: 1, known_issue_id: EADDRINUSE_ISSUE });
    expect(await count("SELECT hit_count AS n FROM node_known_issues WHERE id = ?", EADDRINUSE_ISSUE)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM escalations WHERE group_id = ? AND reason = 'waiting_for_release'", group.id)).toBe(1);

    // The same crash again: counted, not escalated again.
    await deliver([await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0")]);
    expect(await count("SELECT report_count AS n FROM crash_groups WHERE id = ?", group.id)).toBe(2);
    expect(await count("SELECT count(*) AS n FROM escalations WHERE group_id = ?", group.id)).toBe(1);
  });

  it("a real watchdog exit matches the seeded watchdog issue", async () => {
    const node = await enrollNode();
    const id = await ingestCrash(node, WATCHDOG_EXIT, "0.3.0");
    await deliver([id]);
    expect(
      (await row<{ known_issue_id: string }>("SELECT known_issue_id FROM resolutions WHERE telemetry_id = ?", id)).known_issue_id,
    ).toBe(WATCHDOG_ISSUE);
  });

  it("the same crash from a node already on the fix version is a regression: no push, escalated", async () => {
    const node = await enrollNode();
    const id = await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.1");
    // This group was escalated by the test above; a period of 0 lets this report escalate too.
    await deliver([id], { ESCALATION_PERIOD_SECONDS: "0" });
    const resolution = await row<Record<string, unknown>>("SELECT * FROM resolutions WHERE telemetry_id = ?", id);
    expect(resolution).toMatchObject({ action: "regression", state: "regressed", command_id: null });
    expect(await count("SELECT count(*) AS n FROM escalations WHERE telemetry_id = ? AND reason = 'regression'", id)).toBe(1);
    expect((await row<{ state: string }>("SELECT state FROM crash_groups WHERE id = ?", resolution.group_id)).state).toBe("regressed");
  });
});

describe("triage of unknown crashes", () => {
  it("an unknown crash reported 5 times gives 1 ticket, 1 escalation, count 5 and 5 bridge messages", async () => {
    const node = await enrollNode();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await ingestCrash(node, TYPE_ERROR_CRASH));
    await deliver(ids.slice(0, 2));
    await deliver(ids.slice(2));
    const groupId = (await row<{ group_id: string }>("SELECT group_id FROM resolutions WHERE telemetry_id = ?", ids[0])).group_id;
    expect(await count("SELECT report_count AS n FROM crash_groups WHERE id = ?", groupId)).toBe(5);
    expect(await count("SELECT count(*) AS n FROM tickets WHERE group_id = ?", groupId)).toBe(1);
    expect(await row("SELECT report_count, tags, status FROM tickets WHERE group_id = ?", groupId)).toEqual({
      report_count: 5,
      tags: '["engineering-review"]',
      status: "open",
    });
    expect(await count("SELECT count(*) AS n FROM escalations WHERE group_id = ?", groupId)).toBe(1);
    expect(
      await count(`SELECT count(*) AS n FROM bridge_comms WHERE telemetry_id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids)),
    ).toBe(5);
  });

  it("a redelivered message changes nothing: no second ticket, escalation, bridge message or count", async () => {
    const node = await enrollNode();
    const id = await ingestCrash(node, JSON_PARSE_REJECTION);
    await deliver([id]);
    const snapshot = async () => ({
      groups: await count("SELECT sum(report_count) AS n FROM crash_groups"),
      tickets: await count("SELECT sum(report_count) AS n FROM tickets"),
      escalations: await count("SELECT count(*) AS n FROM escalations"),
      bridge: await count("SELECT count(*) AS n FROM bridge_comms"),
      resolutions: await count("SELECT count(*) AS n FROM resolutions"),
    });
    const before = await snapshot();
    const again = await deliver([id, id], {}, 2);
    expect(again.acked).toEqual(again.ids);
    expect(await snapshot()).toEqual(before);
  });

  it("different crashes form different groups; the same crash from two nodes is one group with two nodes", async () => {
    const owner = await createOwner();
    const a = await enrollNode(owner);
    const b = await enrollNode(owner);
    const ids = [
      await ingestCrash(a, ENOENT_CRASH, "0.3.0"),
      await ingestCrash(b, ENOENT_CRASH, "0.2.9"),
      await ingestCrash(a, TYPE_ERROR_CRASH),
    ];
    await deliver(ids);
    const groups = await Promise.all(
      ids.map((id) => row<{ group_id: string }>("SELECT group_id FROM resolutions WHERE telemetry_id = ?", id)),
    );
    expect(groups[0]!.group_id).toBe(groups[1]!.group_id);
    expect(groups[2]!.group_id).not.toBe(groups[0]!.group_id);
    expect(await row("SELECT node_count, versions FROM crash_groups WHERE id = ?", groups[0]!.group_id)).toEqual({
      node_count: 2,
      versions: '["0.3.0","0.2.9"]',
    });
  });

  it("a group's node count grows by one per new node and is never recounted from its node list", async () => {
    const owner = await createOwner();
    const first = await enrollNode(owner);
    const id = await ingestCrash(first, WATCHDOG_EXIT);
    await deliver([id]);
    const { group_id } = await row<{ group_id: string }>("SELECT group_id FROM resolutions WHERE telemetry_id = ?", id);
    // As if 999 more nodes had reported already (their rows left out): a recount would say 2 below.
    await env.DB.prepare("UPDATE crash_groups SET node_count = 1000 WHERE id = ?").bind(group_id).run();

    const second = await enrollNode(owner);
    await deliver([await ingestCrash(second, WATCHDOG_EXIT), await ingestCrash(first, WATCHDOG_EXIT)]);
    expect(await count("SELECT node_count AS n FROM crash_groups WHERE id = ?", group_id)).toBe(1001);
    await deliver([await ingestCrash(second, WATCHDOG_EXIT)]);
    expect(await count("SELECT node_count AS n FROM crash_groups WHERE id = ?", group_id)).toBe(1001);
  });

  it("the bridge message has the FROM / CLASS / MSG format IT Support reads", async () => {
    const owner = await createOwner("Nana");
    const node = await enrollNode(owner);
    const id = await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0");
    await deliver([id]);
    const res = await call("/api/support/bridge?status=pending&limit=200", { headers: adminHeaders() });
    const { items } = await res.json<{ items: { telemetry_id: string; text: string }[] }>();
    const message = items.find((m) => m.telemetry_id === id)!;
    expect(message.text).toMatch(
      /^FROM: Telemetry System\nCLASS: node_issue\nMSG: Node "Kitchen Laptop" \(user: Nana\) crash report:\n {5}UNCAUGHT: Error: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+\n {5}EXIT code=1[^\n]*\n {5}Version: 0\.3\.0, OS: win32$/,
    );
  });
});

describe("fixes and verification", () => {
  it("a config_change issue sends a CONFIG_CHANGE command carrying its instructions to exactly that node", async () => {
    const created = await adminPost("/api/admin/known-issues", {
      pattern: "ENOENT.*settings\\.json",
      fix_type: "config_change",
      fix_instructions: { settings_path: "~/.buhdi-node/settings.json", recreate: true },
    });
    expect(created.status).toBe(201);
    const node = await enrollNode();
    const bystander = await enrollNode();
    const id = await ingestCrash(node, [
      "[t] UNCAUGHT: Error: ENOENT: no such file or directory, open '~/app/settings.json'",
      "EXIT code=1",
    ]);
    await deliver([id]);
    const list = await (await call(`/api/admin/nodes/${node.node_id}/commands`, { headers: adminHeaders() })).json<{
      items: { type: string; payload: unknown }[];
    }>();
    expect(list.items).toEqual([
      expect.objectContaining({ type: "CONFIG_CHANGE", payload: { settings_path: "~/.buhdi-node/settings.json", recreate: true } }),
    ]);
    const other = await (await call(`/api/admin/nodes/${bystander.node_id}/commands`, { headers: adminHeaders() })).json<{
      items: unknown[];
    }>();
    expect(other.items).toEqual([]);
    // Redelivery does not queue it twice.
    await deliver([id], {}, 2);
    const again = await (await call(`/api/admin/nodes/${node.node_id}/commands`, { headers: adminHeaders() })).json<{ items: unknown[] }>();
    expect(again.items).toHaveLength(1);
  });

  it("a fix is verified only when the node runs the fix version healthy for the window, then a recurrence reopens it", async () => {
    const node = await enrollNode();
    const id = await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0");
    await deliver([id]);
    const resolution = await row<{ id: string; group_id: string }>("SELECT id, group_id FROM resolutions WHERE telemetry_id = ?", id);

    const socket = await connect(node);
    // Still on the old version, or on the fix but just restarted: not verified.
    socket.send(heartbeat(node, { version: "0.3.0", uptime: 600_000 }));
    await socket.next("heartbeat_ack");
    socket.send(heartbeat(node, { version: "0.3.1", uptime: 5_000 }));
    await socket.next("heartbeat_ack");
    expect((await row<{ state: string }>("SELECT state FROM resolutions WHERE id = ?", resolution.id)).state).toBe("waiting_for_release");
    expect((await row<{ resolved: number }>("SELECT resolved FROM node_telemetry WHERE id = ?", id)).resolved).toBe(0);

    // The expectation was registered "now": pretend a minute has passed since (time does not pass in a test).
    await runInDurableObject(sessionOf(node.node_id), async (_i: NodeSession, state) => {
      const key = `expect:${resolution.id}`;
      const expectation = (await state.storage.get<HealthExpectation>(key))!;
      await state.storage.put(key, { ...expectation, since: expectation.since - 61_000 });
    });
    await evictDurableObject(sessionOf(node.node_id)); // the next instance reads the expectation from storage
    const fresh = await connect(node);
    fresh.send(heartbeat(node, { version: "0.3.1", uptime: 61_000 }));
    await fresh.next("heartbeat_ack");
    expect((await row<{ state: string }>("SELECT state FROM resolutions WHERE id = ?", resolution.id)).state).toBe("verified");
    expect((await row<{ resolved: number }>("SELECT resolved FROM node_telemetry WHERE id = ?", id)).resolved).toBe(1);
    expect((await row<{ state: string }>("SELECT state FROM crash_groups WHERE id = ?", resolution.group_id)).state).toBe("resolved");

    // The same crash on the fix version: regressed, and the resolved telemetry is open again.
    await deliver([await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.1")]);
    expect((await row<{ state: string }>("SELECT state FROM resolutions WHERE id = ?", resolution.id)).state).toBe("regressed");
    expect((await row<{ resolved: number }>("SELECT resolved FROM node_telemetry WHERE id = ?", id)).resolved).toBe(0);
    expect((await row<{ state: string }>("SELECT state FROM crash_groups WHERE id = ?", resolution.group_id)).state).toBe("regressed");
    socket.ws.close();
    fresh.ws.close();
  });
});

describe("verification of a node that is already connected", () => {
  it("a node heartbeating when triage asks for verification is verified by its next healthy heartbeat", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    // Heartbeats before there is anything to verify (the object has looked and found nothing).
    socket.send(heartbeat(node, { version: "0.3.0", uptime: 1_000 }));
    await socket.next("heartbeat_ack");

    const id = await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0");
    await deliver([id]);
    const resolution = await row<{ id: string }>("SELECT id FROM resolutions WHERE telemetry_id = ?", id);
    // As triage asks it, but registered a minute ago (time does not pass in a test).
    await sessionOf(node.node_id).expectHealthy(
      { nodeId: node.node_id, ownerId: node.owner_id },
      { resolutionId: resolution.id, fixVersion: "0.3.1", since: Date.now() - 61_000 },
    );
    socket.send(heartbeat(node, { version: "0.3.1", uptime: 61_000 }));
    await socket.next("heartbeat_ack");
    expect((await row<{ state: string }>("SELECT state FROM resolutions WHERE id = ?", resolution.id)).state).toBe("verified");
    expect((await row<{ resolved: number }>("SELECT resolved FROM node_telemetry WHERE id = ?", id)).resolved).toBe(1);
    socket.ws.close();
  });
});

describe("the health window counts from the report's arrival", () => {
  /**
   * An EADDRINUSE report that arrived `ageMs` ago and sat in the queue (time does not pass in a
   * test), triaged now; then one heartbeat on 0.3.1 with this uptime. The resolution's state after it.
   */
  async function stateAfterOneHeartbeat(ageMs: number, uptime: number): Promise<string> {
    const node = await enrollNode();
    const socket = await connect(node);
    const id = await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0");
    await env.DB.prepare("UPDATE node_telemetry SET created_at = created_at - ? WHERE id = ?").bind(ageMs, id).run();
    await deliver([id]);
    const resolution = await row<{ id: string }>("SELECT id FROM resolutions WHERE telemetry_id = ?", id);
    socket.send(heartbeat(node, { version: "0.3.1", uptime }));
    await socket.next("heartbeat_ack");
    const { state } = await row<{ state: string }>("SELECT state FROM resolutions WHERE id = ?", resolution.id);
    socket.ws.close();
    return state;
  }

  it("a report triaged a minute after it arrived is verified by a run on the fix that has lived the window since, without a new window from triage", async () => {
    expect(await stateAfterOneHeartbeat(61_000, 61_000)).toBe("verified");
  });

  it("a run on the fix shorter than the window is not enough, however long ago the report arrived", async () => {
    expect(await stateAfterOneHeartbeat(600_000, 59_000)).toBe("waiting_for_release");
  });
});

describe("verification at the end of the health window", () => {
  /** A node on 0.3.0 with a fix to 0.3.1 waiting to be verified, registered a minute ago (time does not pass in a test). */
  async function waitingFix() {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node, { version: "0.3.0", uptime: 1_000 }));
    await socket.next("heartbeat_ack");
    const id = await ingestCrash(node, EADDRINUSE_CRASH_LOOP, "0.3.0");
    await deliver([id]);
    const resolution = await row<{ id: string }>("SELECT id FROM resolutions WHERE telemetry_id = ?", id);
    await sessionOf(node.node_id).expectHealthy(
      { nodeId: node.node_id, ownerId: node.owner_id },
      { resolutionId: resolution.id, fixVersion: "0.3.1", since: Date.now() - 61_000 },
    );
    const state = async () => (await row<{ state: string }>("SELECT state FROM resolutions WHERE id = ?", resolution.id)).state;
    return { node, socket, telemetryId: id, state };
  }

  async function beat(socket: LiveSocket, node: Awaited<ReturnType<typeof enrollNode>>, version: string, uptime: number) {
    socket.send(heartbeat(node, { version, uptime }));
    await socket.next("heartbeat_ack");
  }

  /** As if `ms` had passed since the last heartbeat: it, the watched run's start and the fix's registration move back. */
  async function timePasses(nodeId: string, ms: number) {
    await runInDurableObject(sessionOf(nodeId), async (_instance: NodeSession, state) => {
      const run = await state.storage.get<{ startedAt: number }>("expect-run");
      if (run) await state.storage.put("expect-run", { ...run, startedAt: run.startedAt - ms });
      for (const [key, e] of await state.storage.list<HealthExpectation>({ prefix: "expect:" })) {
        await state.storage.put(key, { ...e, since: e.since - ms });
      }
      const live = (await state.storage.get<LiveState>("live"))!;
      const earlier = (at: number | null) => (at === null ? null : at - ms);
      await state.storage.put("live", { ...live, lastSeenAt: earlier(live.lastSeenAt), heartbeatAt: earlier(live.heartbeatAt) });
      for (const ws of state.getWebSockets()) {
        const snapshot = ws.deserializeAttachment() as { lastSeenAt: number; heartbeatAt: number | null } | null;
        if (snapshot)
          ws.serializeAttachment({ ...snapshot, lastSeenAt: snapshot.lastSeenAt - ms, heartbeatAt: earlier(snapshot.heartbeatAt) });
      }
    });
    await evictDurableObject(sessionOf(nodeId)); // the alarm runs on what storage says
  }

  it("a fix is verified by the alarm at the window's end, without another heartbeat", async () => {
    const { node, socket, telemetryId, state } = await waitingFix();
    await beat(socket, node, "0.3.1", 59_000);
    expect(await state()).toBe("waiting_for_release");
    // The alarm is set for the window's end (a second from now), not the silence check's 95 s.
    const alarm = await runInDurableObject(sessionOf(node.node_id), (_i: NodeSession, s) => s.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(Date.now() + 1_000);

    await timePasses(node.node_id, 2_000);
    expect(await runDurableObjectAlarm(sessionOf(node.node_id))).toBe(true);
    expect(await state()).toBe("verified");
    expect((await row<{ resolved: number }>("SELECT resolved FROM node_telemetry WHERE id = ?", telemetryId)).resolved).toBe(1);
    socket.ws.close();
  });

  it("a program whose socket closed before the window's end is not verified by the alarm", async () => {
    const { node, socket, state } = await waitingFix();
    await beat(socket, node, "0.3.1", 59_000);
    socket.ws.close(1000, "the program died");
    await socket.closed; // the object has handled the close when it echoes it
    await timePasses(node.node_id, 2_000);
    await runDurableObjectAlarm(sessionOf(node.node_id));
    expect(await state()).toBe("waiting_for_release");
  });

  it("a restart within the window moves its end: the alarm set for the first run verifies nothing", async () => {
    const { node, socket, state } = await waitingFix();
    await beat(socket, node, "0.3.1", 59_000);
    await beat(socket, node, "0.3.1", 1_000); // a new run: it started 58 s after the first
    await timePasses(node.node_id, 2_000);
    await runDurableObjectAlarm(sessionOf(node.node_id));
    expect(await state()).toBe("waiting_for_release");
    // Its own window's end is still ahead, and armed.
    const alarm = await runInDurableObject(sessionOf(node.node_id), (_i: NodeSession, s) => s.storage.getAlarm());
    expect(alarm!).toBeGreaterThan(Date.now() + 50_000);
    socket.ws.close();
  });

  it("a node whose heartbeats stopped before the window's end (hung) is not verified by the alarm", async () => {
    const { node, socket, state } = await waitingFix();
    await beat(socket, node, "0.3.1", 59_000);
    await timePasses(node.node_id, 2 * 60_000); // two intervals and more without a heartbeat, the socket still open
    await runDurableObjectAlarm(sessionOf(node.node_id));
    expect(await state()).toBe("waiting_for_release");
    // Its next heartbeat, healthy and past the window, verifies it as before.
    await beat(socket, node, "0.3.1", 181_000);
    expect(await state()).toBe("verified");
    socket.ws.close();
  });
});

describe("reliability", () => {
  it("a message whose escalation cannot be delivered is retried without holding up its batch", async () => {
    expect((await adminPost("/api/admin/known-issues", { pattern: "ECONNRESET", fix_type: "self_healing" })).status).toBe(201);
    const node = await enrollNode();
    const unknown = await ingestCrash(node, [
      "[t] UNCAUGHT: RangeError: Maximum call stack size exceeded",
      "    at recurse (~/app/x.js:1:1)",
      "EXIT code=1",
    ]);
    const selfHealing = await ingestCrash(node, ["[t] UNCAUGHT: Error: read ECONNRESET", "EXIT code=1"]);
    const unreachable = { ESCALATION_WEBHOOK_URL: "http://127.0.0.1:9/hook", ESCALATION_WEBHOOK_SECRET: "s3cret" };
    const result = await deliver([unknown, selfHealing], unreachable);
    expect(result.retried).toEqual([result.ids[0]]);
    expect(result.acked).toEqual([result.ids[1]]);
    expect((await row<{ action: string }>("SELECT action FROM resolutions WHERE telemetry_id = ?", selfHealing)).action).toBe(
      "self_healing",
    );
    const escalation = await row<{ status: string; attempts: number; last_error: string }>(
      "SELECT status, attempts, last_error FROM escalations WHERE telemetry_id = ?",
      unknown,
    );
    expect(escalation).toMatchObject({ status: "pending", attempts: 1, last_error: expect.stringContaining("unreachable") });
    // The retry finds the triage done and only tries the delivery again: still one ticket, one resolution.
    await deliver([unknown], unreachable, 2);
    expect(await count("SELECT attempts AS n FROM escalations WHERE telemetry_id = ?", unknown)).toBe(2);
    expect(await count("SELECT count(*) AS n FROM resolutions WHERE telemetry_id = ?", unknown)).toBe(1);
  });

  it("messages for telemetry that is not a crash report, or does not exist, are acknowledged", async () => {
    const result = await deliver([crypto.randomUUID()]);
    expect(result.acked).toEqual(result.ids);
  });
});
