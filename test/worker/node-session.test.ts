import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PING_FRAME } from "../../protocol/messages.ts";
import type { NodeSession } from "../../worker/node-session/node-session.ts";
import type { LiveState } from "../../worker/node-session/live-state.ts";
import { adminHeaders, call, enrollNode } from "./helpers.ts";
import { connect, eventsOf, heartbeat, nodeRow, sessionOf } from "./live-helpers.ts";

async function liveStatus(nodeId: string) {
  const res = await call(`/api/nodes/${nodeId}`, { headers: adminHeaders() });
  expect(res.status).toBe(200);
  return res.json<{
    status: string;
    connected: boolean;
    version: string;
    uptime_s: number;
    memory_mb: number;
    error_count: number;
    ws_failure_count: number;
    last_seen: string;
  }>();
}

/** Pretends the node's last sign of life was `ms` ago (time does not pass in a test). */
async function silentFor(nodeId: string, ms: number) {
  await runInDurableObject(sessionOf(nodeId), async (_instance: NodeSession, state) => {
    const live = (await state.storage.get<LiveState>("live"))!;
    await state.storage.put("live", { ...live, lastSeenAt: Date.now() - ms });
    // Heartbeats also ride on the socket's attachment: age that too.
    for (const ws of state.getWebSockets()) {
      const snapshot = ws.deserializeAttachment() as { lastSeenAt: number } | null;
      if (snapshot) ws.serializeAttachment({ ...snapshot, lastSeenAt: Date.now() - ms });
    }
  });
  // The instance caches its state: evict so the alarm reads what storage says.
  await evictDurableObject(sessionOf(nodeId));
}

describe("the live socket", () => {
  it("a missing or wrong node key gets 401 before any upgrade", async () => {
    const missing = await call("/api/node/connect", { headers: { upgrade: "websocket" } });
    expect(missing.status).toBe(401);
    expect(missing.webSocket).toBeNull();
    const wrong = await call("/api/node/connect", { headers: { upgrade: "websocket", "x-node-key": "bnk.x.y" } });
    expect(wrong.status).toBe(401);
  });

  it("a plain GET without an upgrade is refused with 426", async () => {
    const node = await enrollNode();
    const res = await call("/api/node/connect", { headers: { "x-node-key": node.node_key } });
    expect(res.status).toBe(426);
  });

  it("a connected node is welcomed with the heartbeat intervals (pings between full heartbeats) and shows online", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    expect(await socket.next("welcome")).toEqual({
      type: "welcome",
      node_id: node.node_id,
      heartbeat_interval_s: 30,
      full_heartbeat_interval_s: 600,
      commands: 0,
    });
    expect(await liveStatus(node.node_id)).toMatchObject({ status: "online", connected: true });
    socket.ws.close();
  });

  it("a heartbeat updates the live status and is acknowledged", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node, { version: "0.3.0", uptime: 3_600_000, memory_mb: 51, error_count: 2, ws_failure_count: 1 }));
    await socket.next("heartbeat_ack");
    expect(await liveStatus(node.node_id)).toMatchObject({
      status: "online",
      version: "0.3.0",
      uptime_s: 3600,
      memory_mb: 51,
      error_count: 2,
      ws_failure_count: 1,
    });
    socket.ws.close();
  });

  it("the first heartbeat, on the version D1 already has, writes nothing to D1", async () => {
    const node = await enrollNode(); // enrolled on 0.3.0
    const socket = await connect(node);
    const connected = await nodeRow(node.node_id);
    expect(connected).toMatchObject({ status: "online", version: "0.3.0" });
    // A later millisecond, so a rewrite of last_seen_at would show.
    await new Promise((resolve) => setTimeout(resolve, 5));
    socket.send(heartbeat(node, { version: "0.3.0" }));
    await socket.next("heartbeat_ack");
    expect(await nodeRow(node.node_id)).toEqual(connected);
    socket.ws.close();
  });

  it("heartbeats do not write D1 each time; a version change does", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    // The connect tells D1 the node is online (and learns its version); after that, only changes do.
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    const first = await nodeRow(node.node_id);
    expect(first).toMatchObject({ status: "online", version: "0.3.0" });
    for (let i = 0; i < 5; i++) {
      socket.send(heartbeat(node, { uptime: 1000 * i }));
      await socket.next("heartbeat_ack");
    }
    expect(await nodeRow(node.node_id)).toEqual(first);
    socket.send(heartbeat(node, { version: "0.3.1" }));
    await socket.next("heartbeat_ack");
    expect((await nodeRow(node.node_id))!.version).toBe("0.3.1");
    socket.ws.close();
  });

  it("steady heartbeats ride on the socket, not in storage; a version change is stored", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node, { uptime: 1_000 }));
    await socket.next("heartbeat_ack");
    for (let i = 2; i <= 5; i++) {
      socket.send(heartbeat(node, { uptime: i * 1_000 }));
      await socket.next("heartbeat_ack");
    }
    const stored = async () =>
      runInDurableObject(
        sessionOf(node.node_id),
        async (_i: NodeSession, state) => (await state.storage.get<LiveState>("live"))!.heartbeat!,
      );
    expect((await stored()).uptime).toBe(1_000);
    expect((await liveStatus(node.node_id)).uptime_s).toBe(5);
    socket.send(heartbeat(node, { version: "0.3.1", uptime: 6_000 }));
    await socket.next("heartbeat_ack");
    expect(await stored()).toMatchObject({ version: "0.3.1", uptime: 6_000 });
    socket.ws.close();
  });

  it("live state survives hibernation", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node, { memory_mb: 77 }));
    await socket.next("heartbeat_ack");
    await evictDurableObject(sessionOf(node.node_id), { webSockets: "hibernate" });
    expect(await liveStatus(node.node_id)).toMatchObject({ status: "online", memory_mb: 77, connected: true });
    // The hibernated socket still works.
    socket.send(heartbeat(node, { memory_mb: 78 }));
    await socket.next("heartbeat_ack");
    expect((await liveStatus(node.node_id)).memory_mb).toBe(78);
    socket.ws.close();
  });

  it("the HTTP heartbeat fallback is validated like telemetry and shows the node degraded", async () => {
    const node = await enrollNode();
    const post = (body: unknown, key = node.node_key) =>
      call("/api/node/heartbeat", {
        method: "POST",
        headers: { "content-type": "application/json", "x-node-key": key },
        body: JSON.stringify(body),
      });
    const { type: _t, ...beat } = heartbeat(node, { connection_state: "degraded", ws_failure_count: 6 });
    expect((await post(beat)).status).toBe(202);
    expect(await liveStatus(node.node_id)).toMatchObject({ status: "degraded", ws_failure_count: 6 });
    expect((await nodeRow(node.node_id))!.status).toBe("degraded");
    expect((await post({ ...beat, memory_mb: "lots" })).status).toBe(400);
    expect((await post({ ...beat, node_id: crypto.randomUUID() })).status).toBe(400);
    expect((await post(beat, "bnk.nope")).status).toBe(401);
  });
});

describe("the dead man's switch", () => {
  it("a silent node turns offline with one warning, and back online with one info event", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    await silentFor(node.node_id, 10 * 60_000);
    expect(await runDurableObjectAlarm(sessionOf(node.node_id))).toBe(true);
    expect((await liveStatus(node.node_id)).status).toBe("offline");
    expect((await nodeRow(node.node_id))!.status).toBe("offline");
    const offline = await eventsOf(node.node_id, "node_offline");
    expect(offline).toHaveLength(1);
    expect(offline[0]!.severity).toBe("warning");

    // An alarm delivered twice (at-least-once) records nothing more.
    await runDurableObjectAlarm(sessionOf(node.node_id));
    expect(await eventsOf(node.node_id, "node_offline")).toHaveLength(1);

    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    expect((await liveStatus(node.node_id)).status).toBe("online");
    const back = await eventsOf(node.node_id, "node_back_online");
    expect(back).toHaveLength(1);
    expect(back[0]!.severity).toBe("info");
    socket.ws.close();
  });

  it("a node heard from within the grace stays online", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    await silentFor(node.node_id, 60_000);
    await runDurableObjectAlarm(sessionOf(node.node_id));
    expect((await liveStatus(node.node_id)).status).toBe("online");
    expect(await eventsOf(node.node_id, "node_offline")).toHaveLength(0);
    socket.ws.close();
  });

  it("a node that said it is going to sleep is asleep, not an outage", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send({ type: "going_away", reason: "sleep" });
    socket.send(heartbeat(node)); // ordering: the ack tells us going_away was handled
    await socket.next("heartbeat_ack");
    socket.send({ type: "going_away", reason: "sleep" });
    socket.ws.close(1000, "sleeping");
    await silentFor(node.node_id, 60 * 60_000);
    await runDurableObjectAlarm(sessionOf(node.node_id));
    expect((await liveStatus(node.node_id)).status).toBe("asleep");
    expect((await nodeRow(node.node_id))!.status).toBe("asleep");
    expect(await eventsOf(node.node_id, "node_offline")).toHaveLength(0);
  });

  it("a node that says it slept through its outage gets the outage shown as sleep: info, asleep, no warning left", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    socket.ws.close();
    // Frozen, with no going_away: the alarm can only call it an outage.
    await silentFor(node.node_id, 10 * 60_000);
    await runDurableObjectAlarm(sessionOf(node.node_id));
    expect((await eventsOf(node.node_id, "node_offline"))[0]!.severity).toBe("warning");

    // It wakes, reconnects, and its first heartbeat says it had not run for those 10 minutes.
    const woke = await connect(node);
    woke.send(heartbeat(node, { asleep_for_ms: 10 * 60_000 + 2_000 }));
    await woke.next("heartbeat_ack");
    expect((await liveStatus(node.node_id)).status).toBe("online");
    const [offline] = await eventsOf(node.node_id, "node_offline");
    const [back] = await eventsOf(node.node_id, "node_back_online");
    expect(offline!.severity).toBe("info");
    expect(JSON.parse(offline!.payload).details).toMatchObject({ asleep: true, silent_s: expect.any(Number) });
    expect(back!.severity).toBe("info");
    expect(JSON.parse(back!.payload).details).toMatchObject({ asleep: true });
    woke.ws.close();
  });

  it("a short sleep long after the outage began does not excuse it: the warning stays", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    socket.ws.close();
    await silentFor(node.node_id, 10 * 60_000);
    await runDurableObjectAlarm(sessionOf(node.node_id));
    const woke = await connect(node);
    woke.send(heartbeat(node, { asleep_for_ms: 30_000 })); // asleep for the last 30 s of 10 silent minutes
    await woke.next("heartbeat_ack");
    const [offline] = await eventsOf(node.node_id, "node_offline");
    expect(offline!.severity).toBe("warning");
    expect(JSON.parse(offline!.payload).details.asleep).toBeUndefined();
    woke.ws.close();
  });

  it("a node that bounces repeatedly produces one offline event per flap window, not a storm", async () => {
    const node = await enrollNode();
    for (let i = 0; i < 4; i++) {
      const socket = await connect(node);
      socket.send(heartbeat(node));
      await socket.next("heartbeat_ack");
      socket.ws.close();
      await silentFor(node.node_id, 5 * 60_000);
      await runDurableObjectAlarm(sessionOf(node.node_id));
    }
    expect(await eventsOf(node.node_id, "node_offline")).toHaveLength(1);
    expect(await eventsOf(node.node_id, "node_back_online")).toHaveLength(1);
  });
});

describe("pings between full heartbeats", () => {
  const alarmOf = (nodeId: string) => runInDurableObject(sessionOf(nodeId), async (_i: NodeSession, state) => state.storage.getAlarm());
  const pingedAt = (nodeId: string) =>
    runInDurableObject(sessionOf(nodeId), async (_i: NodeSession, state) =>
      state.getWebSockets().map((ws) => state.getWebSocketAutoResponseTimestamp(ws)),
    );

  it("a hibernated object's runtime answers a ping with a pong, and the ping keeps the node online past the grace", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    await evictDurableObject(sessionOf(node.node_id), { webSockets: "hibernate" });
    expect((await pingedAt(node.node_id))[0]).toBeNull();
    socket.send(PING_FRAME);
    await socket.next("pong");
    // The runtime answered (it keeps the time); the object's own handler would not have.
    expect((await pingedAt(node.node_id))[0]).toBeInstanceOf(Date);

    // The last heartbeat was 10 minutes ago, the last ping just now: still online, no outage.
    await silentFor(node.node_id, 10 * 60_000);
    await runDurableObjectAlarm(sessionOf(node.node_id));
    expect((await liveStatus(node.node_id)).status).toBe("online");
    expect(await eventsOf(node.node_id, "node_offline")).toHaveLength(0);
    socket.ws.close();
  });

  it("a ping that reaches the object (other spacing) is answered there too", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    socket.send('{ "type": "ping" }');
    expect(await socket.next("pong")).toEqual({ type: "pong" });
    socket.ws.close();
  });

  it("an open socket is looked at for silence every 20 minutes; one that closes is judged at the grace's end", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    const opened = Date.now();
    expect(await alarmOf(node.node_id)).toBeGreaterThanOrEqual(opened + 1_200_000 - 1_000);
    socket.ws.close(1000, "bye");
    await socket.closed;
    await expect.poll(() => alarmOf(node.node_id)).toBeLessThanOrEqual(Date.now() + 95_000 + 1);
  });

  it("the node page judges silence when it is read, without waiting for the alarm's next look", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    await silentFor(node.node_id, 10 * 60_000);
    expect((await liveStatus(node.node_id)).status).toBe("offline");
    expect(await eventsOf(node.node_id, "node_offline")).toHaveLength(1);
    expect((await nodeRow(node.node_id))!.status).toBe("offline");
    socket.ws.close();
  });
});

describe("commands", () => {
  async function queueCommand(nodeId: string, body: unknown) {
    return call(`/api/admin/nodes/${nodeId}/commands`, { method: "POST", headers: adminHeaders(), body: JSON.stringify(body) });
  }

  it("a command for a connected node is sent at once and its ack recorded", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    const res = await queueCommand(node.node_id, { type: "CONFIG_CHANGE", payload: { port: 9848 } });
    expect(res.status).toBe(202);
    const queued = await res.json<{ id: string; sent: boolean }>();
    expect(queued.sent).toBe(true);
    const frame = await socket.next("command");
    expect(frame).toMatchObject({ id: queued.id, command: "CONFIG_CHANGE", payload: { port: 9848 } });
    socket.send({ type: "command_ack", id: queued.id, status: "done" });
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    const list = await (await call(`/api/admin/nodes/${node.node_id}/commands`, { headers: adminHeaders() })).json<{
      items: { id: string; ack: { status: string } | null }[];
    }>();
    expect(list.items).toEqual([expect.objectContaining({ id: queued.id, ack: expect.objectContaining({ status: "done" }) })]);
    socket.ws.close();
  });

  it("an unacknowledged command is resent on reconnect; an acknowledged one is not", async () => {
    const node = await enrollNode();
    const queued = await (await queueCommand(node.node_id, { type: "CONFIG_CHANGE", payload: { a: 1 } })).json<{
      id: string;
      sent: boolean;
    }>();
    expect(queued.sent).toBe(false);
    const first = await connect(node);
    // The welcome announces the command that follows it.
    expect(await first.next("welcome")).toMatchObject({ commands: 1 });
    expect((await first.next("command")).id).toBe(queued.id);
    first.ws.close();
    const second = await connect(node);
    expect((await second.next("command")).id).toBe(queued.id);
    second.send({ type: "command_ack", id: queued.id, status: "done" });
    // A duplicate ack (the node handled a redelivery once, and says so again) changes nothing.
    second.send({ type: "command_ack", id: queued.id, status: "failed" });
    second.send(heartbeat(node));
    await second.next("heartbeat_ack");
    second.ws.close();
    const third = await connect(node);
    expect(await third.next("welcome")).toMatchObject({ commands: 0 });
    third.send(heartbeat(node));
    await third.next("heartbeat_ack");
    expect(third.frames.filter((f) => f.type === "command")).toEqual([]);
    const list = await (await call(`/api/admin/nodes/${node.node_id}/commands`, { headers: adminHeaders() })).json<{
      items: { ack: { status: string } }[];
    }>();
    expect(list.items[0]!.ack.status).toBe("done");
    third.ws.close();
  });

  it("an expired command is dropped, not sent", async () => {
    const node = await enrollNode();
    const queued = await (await queueCommand(node.node_id, { type: "CONFIG_CHANGE", payload: {}, ttl_seconds: 10 })).json<{ id: string }>();
    await runInDurableObject(sessionOf(node.node_id), async (_i: NodeSession, state) => {
      const key = `command:${queued.id}`;
      const command = await state.storage.get<{ expiresAt: number }>(key);
      await state.storage.put(key, { ...command, expiresAt: Date.now() - 1 });
    });
    const socket = await connect(node);
    await socket.next("welcome");
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    expect(socket.frames.filter((f) => f.type === "command")).toEqual([]);
    socket.ws.close();
  });

  it("a bad command request names the problem; another owner's node is 404", async () => {
    const node = await enrollNode();
    const bad = await queueCommand(node.node_id, { type: "REFORMAT_DISK" });
    expect(bad.status).toBe(400);
    expect((await queueCommand(crypto.randomUUID(), { type: "CONFIG_CHANGE" })).status).toBe(404);
  });
});

describe("bad frames", () => {
  it("malformed JSON and unknown frames get an error frame; nothing is stored and the socket stays up", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    socket.send("{not json");
    expect((await socket.next("error")).code).toBe("invalid_json");
    socket.send({ type: "self_destruct" });
    expect((await socket.next("error")).code).toBe("invalid_frame");
    socket.send({ ...heartbeat(node), memory_mb: -5 });
    expect((await socket.next("error")).message).toContain("memory_mb");
    socket.send({ type: "command_ack", id: crypto.randomUUID(), status: "done" });
    expect((await socket.next("error")).code).toBe("unknown_command");
    socket.send(heartbeat(node, { memory_mb: 12 }));
    await socket.next("heartbeat_ack");
    expect((await liveStatus(node.node_id)).memory_mb).toBe(12);
    socket.ws.close();
  });

  it("a binary frame closes the socket with 1003", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.ws.send(new Uint8Array([1, 2, 3]));
    expect((await socket.closed).code).toBe(1003);
  });

  it("an oversized frame closes the socket with 1009", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send("x".repeat(20_000));
    expect((await socket.closed).code).toBe(1009);
  });

  it("the last of many steady heartbeats (answered with no write) is what shows after hibernation", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    for (const memory_mb of [70, 71, 72, 73]) {
      socket.send(heartbeat(node, { memory_mb, uptime: memory_mb * 1_000 }));
      await socket.next("heartbeat_ack");
    }
    await evictDurableObject(sessionOf(node.node_id), { webSockets: "hibernate" });
    expect(await liveStatus(node.node_id)).toMatchObject({ status: "online", memory_mb: 73, uptime_s: 73, connected: true });
    socket.ws.close();
  });

  it("a heartbeat for another node closes the socket with 1008 and is not stored", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    socket.send(heartbeat(node, { memory_mb: 10 }));
    await socket.next("heartbeat_ack");
    socket.send(heartbeat(node, { node_id: crypto.randomUUID(), memory_mb: 999 }));
    expect((await socket.closed).code).toBe(1008);
    expect((await liveStatus(node.node_id)).memory_mb).toBe(10);
  });
});

describe("GET /api/nodes", () => {
  it("an owner lists only their nodes with live status; another owner's node is 404", async () => {
    const mine = await enrollNode();
    const theirs = await enrollNode();
    const socket = await connect(mine);
    await socket.next("welcome");
    const res = await call("/api/nodes", { headers: { authorization: `Bearer ${mine.dashboard_token}` } });
    const { items } = await res.json<{ items: { id: string; status: string; name: string }[] }>();
    expect(items).toEqual([expect.objectContaining({ id: mine.node_id, status: "online", name: "Kitchen Laptop" })]);
    const other = await call(`/api/nodes/${theirs.node_id}`, { headers: { authorization: `Bearer ${mine.dashboard_token}` } });
    expect(other.status).toBe(404);
    expect((await call(`/api/nodes/${crypto.randomUUID()}`, { headers: { authorization: `Bearer ${mine.dashboard_token}` } })).status).toBe(
      404,
    );
    socket.ws.close();
  });

  it("a node never connected shows offline with its enrolled version", async () => {
    const node = await enrollNode();
    expect(await liveStatus(node.node_id)).toMatchObject({ status: "offline", connected: false, version: "0.3.0", last_seen: null });
  });

  it("admin lists every node", async () => {
    const res = await call("/api/nodes?limit=100", { headers: adminHeaders() });
    expect(res.status).toBe(200);
    const { items } = await res.json<{ items: unknown[] }>();
    expect(items.length).toBeGreaterThan(1);
    expect(env.ADMIN_TOKEN).toBeTruthy();
  });
});
