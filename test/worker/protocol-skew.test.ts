/**
 * Agents of other versions (protocol skew), over HTTP and WebSocket: a heartbeat, frame or report
 * from an older or newer agent is not refused for what it may legitimately differ in (unknown
 * fields, informational words this edge has not heard), and is stored as sent; identity,
 * version, types, sizes and the fields decisions depend on stay strict (400 or an error frame
 * naming the field). The rule is written next to the schemas in protocol/messages.ts.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  newerCommandAck,
  newerHealthReport,
  newerHeartbeat,
  OLDER_GOING_AWAY,
  olderCrashReport,
  olderHeartbeat,
} from "../fixtures/agent-versions.ts";
import { adminHeaders, call, type EnrolledNode, enrollNode, postTelemetry } from "./helpers.ts";
import { connect, heartbeat } from "./live-helpers.ts";

type ErrorBody = { error: { code: string; issues: { path: string; message: string }[] } };

async function liveStatus(nodeId: string) {
  const res = await call(`/api/nodes/${nodeId}`, { headers: adminHeaders() });
  expect(res.status).toBe(200);
  return res.json<{ status: string; version: string; connection_state: string | null; memory_mb: number }>();
}

function postHeartbeat(node: EnrolledNode, body: unknown): Promise<Response> {
  return call("/api/node/heartbeat", {
    method: "POST",
    headers: { "content-type": "application/json", "x-node-key": node.node_key },
    body: JSON.stringify(body),
  });
}

async function issuePaths(res: Response): Promise<string[]> {
  expect(res.status).toBe(400);
  return (await res.json<ErrorBody>()).error.issues.map((issue) => issue.path);
}

describe("heartbeats over HTTP from other agent versions", () => {
  it.each([
    ["an older agent", olderHeartbeat, "reconnecting", "0.2.9"],
    ["a newer agent", newerHeartbeat, "polling", "0.5.0"],
  ])("%s's heartbeat is accepted, its connection_state stored as sent", async (_who, beat, state, version) => {
    const node = await enrollNode();
    expect((await postHeartbeat(node, beat(node.node_id))).status).toBe(202);
    // Running, so not offline: on the HTTP fallback, so degraded.
    expect(await liveStatus(node.node_id)).toMatchObject({ status: "degraded", connection_state: state, version });
  });

  it("stays strict on identity, version, types and sizes", async () => {
    const node = await enrollNode();
    const beat = newerHeartbeat(node.node_id);
    expect(await issuePaths(await postHeartbeat(node, { ...beat, node_id: "node-1" }))).toEqual(["node_id"]);
    expect(await issuePaths(await postHeartbeat(node, { ...beat, version: "latest" }))).toEqual(["version"]);
    expect(await issuePaths(await postHeartbeat(node, { ...beat, uptime: "2h" }))).toEqual(["uptime"]);
    // A word, bounded: not a paragraph, not markup.
    expect(await issuePaths(await postHeartbeat(node, { ...beat, connection_state: "x".repeat(33) }))).toEqual(["connection_state"]);
    expect(await issuePaths(await postHeartbeat(node, { ...beat, connection_state: "<b>up</b>" }))).toEqual(["connection_state"]);
    expect(await issuePaths(await postHeartbeat(node, { ...beat, connection_state: 3 }))).toEqual(["connection_state"]);
  });
});

describe("frames over the WebSocket from other agent versions", () => {
  it("an older agent's heartbeat and going_away are taken without an error frame", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    socket.send({ type: "heartbeat", ...olderHeartbeat(node.node_id) });
    await socket.next("heartbeat_ack");
    expect(await liveStatus(node.node_id)).toMatchObject({ status: "online", connection_state: "reconnecting", version: "0.2.9" });
    socket.send(OLDER_GOING_AWAY);
    // A frame after it is answered, so the going_away was handled before it.
    socket.send({ type: "heartbeat", ...olderHeartbeat(node.node_id) });
    await socket.next("heartbeat_ack");
    expect(socket.frames.filter((frame) => frame.type === "error")).toEqual([]);
    socket.ws.close();
  });

  it("a newer agent's heartbeat and command_ack, with fields this edge does not know, are taken", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    socket.send({ type: "heartbeat", ...newerHeartbeat(node.node_id) });
    await socket.next("heartbeat_ack");
    expect(await liveStatus(node.node_id)).toMatchObject({ status: "online", connection_state: "polling", memory_mb: 48 });
    // Parsed and looked up (not refused as invalid): this edge just has no such command pending.
    socket.send(newerCommandAck(crypto.randomUUID()));
    expect((await socket.next("error")).code).toBe("unknown_command");
    socket.ws.close();
  });

  it("stays strict on identity and decision fields: an error frame names the field, the socket stays up", async () => {
    const node = await enrollNode();
    const socket = await connect(node);
    await socket.next("welcome");
    socket.send({ type: "heartbeat", ...newerHeartbeat(node.node_id), version: "next" });
    expect((await socket.next("error")).message).toContain("version");
    socket.send({ ...newerCommandAck(crypto.randomUUID()), status: "partly" });
    expect((await socket.next("error")).message).toContain("status");
    socket.send(heartbeat(node));
    await socket.next("heartbeat_ack");
    socket.ws.close();
  });
});

describe("telemetry from other agent versions", () => {
  async function stored(id: string): Promise<Record<string, unknown>> {
    const row = await env.DB.prepare("SELECT payload FROM node_telemetry WHERE id = ?").bind(id).first<{ payload: string }>();
    return JSON.parse(row!.payload) as Record<string, unknown>;
  }

  it("an older agent's crash report, without the fields it never had, is stored with its extra field in details", async () => {
    const node = await enrollNode();
    const res = await postTelemetry(node.node_key, olderCrashReport());
    expect(res.status).toBe(202);
    const payload = await stored((await res.json<{ id: string }>()).id);
    expect(payload).toMatchObject({
      type: "crash_report",
      node_version: "0.2.9",
      uptime_before_crash: null,
      details: { log_file: "crash.log" },
    });
    expect(payload).not.toHaveProperty("log_file");
  });

  it("a newer agent's report keeps its unknown fields in details, next to the details it sent", async () => {
    const node = await enrollNode();
    const res = await postTelemetry(node.node_key, newerHealthReport());
    expect(res.status).toBe(202);
    const payload = await stored((await res.json<{ id: string }>()).id);
    expect(payload.details).toEqual({ rss_mb: 48, battery_pct: 81, cpu: { load1: 0.4, cores: 8 } });
  });

  it("the report's own details win over an unknown field of the same name", async () => {
    const node = await enrollNode();
    const res = await postTelemetry(node.node_key, { ...newerHealthReport(), details: { battery_pct: 80 } });
    expect((await stored((await res.json<{ id: string }>()).id)).details).toMatchObject({ battery_pct: 80, cpu: { load1: 0.4, cores: 8 } });
  });

  it("stays strict on the type that decides severity, identity, sizes and field names", async () => {
    const node = await enrollNode();
    const report = newerHealthReport();
    const typeRes = await postTelemetry(node.node_key, { ...report, type: "battery_report" });
    expect(await issuePaths(typeRes.clone())).toEqual(["type"]);
    expect((await typeRes.json<ErrorBody>()).error.issues[0]!.message).toContain("crash_report");
    expect(await issuePaths(await postTelemetry(node.node_key, { ...report, event_id: "42" }))).toEqual(["event_id"]);
    expect(await issuePaths(await postTelemetry(node.node_key, { ...report, node_version: "five" }))).toEqual(["node_version"]);
    const longName = "x".repeat(65);
    expect(await issuePaths(await postTelemetry(node.node_key, { ...report, [longName]: 1 }))).toEqual([longName]);
  });
});
