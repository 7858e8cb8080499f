/** Opening a node's live socket inside workerd and reading its frames. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { CloudFrame, Heartbeat } from "../../protocol/messages.ts";
import { call, type EnrolledNode } from "./helpers.ts";

export type LiveSocket = {
  ws: WebSocket;
  frames: CloudFrame[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first frame (seen or future) that matches. */
  next<T extends CloudFrame["type"]>(type: T): Promise<Extract<CloudFrame, { type: T }>>;
  send(frame: unknown): void;
};

export async function connect(node: EnrolledNode): Promise<LiveSocket> {
  const res = await call("/api/node/connect", { headers: { upgrade: "websocket", "x-node-key": node.node_key } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: CloudFrame[] = [];
  const waiters: { type: string; resolve: (f: CloudFrame) => void; from: number }[] = [];
  ws.addEventListener("message", (event) => {
    frames.push(JSON.parse(event.data as string) as CloudFrame);
    for (const w of [...waiters]) {
      const hit = frames.slice(w.from).find((f) => f.type === w.type);
      if (hit) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  let consumed = 0;
  return {
    ws,
    frames,
    closed,
    next(type) {
      const from = consumed;
      const seen = frames.slice(from).find((f) => f.type === type);
      if (seen) {
        consumed = frames.indexOf(seen) + 1;
        return Promise.resolve(seen as never);
      }
      return new Promise((resolve) =>
        waiters.push({
          type,
          from,
          resolve: (f) => {
            consumed = frames.indexOf(f) + 1;
            resolve(f as never);
          },
        }),
      );
    },
    send(frame) {
      ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    },
  };
}

export function heartbeat(node: EnrolledNode, overrides: Partial<Heartbeat> = {}): Heartbeat & { type: "heartbeat" } {
  return {
    type: "heartbeat",
    node_id: node.node_id,
    version: "0.3.0",
    uptime: 120_000,
    connection_state: "connected",
    ws_failure_count: 0,
    last_task_at: null,
    memory_mb: 42,
    error_count: 0,
    ...overrides,
  };
}

export function sessionOf(nodeId: string) {
  return env.NODE_SESSION.get(env.NODE_SESSION.idFromName(nodeId));
}

export async function nodeRow(nodeId: string) {
  return env.DB.prepare("SELECT status, version, last_seen_at FROM nodes WHERE id = ?")
    .bind(nodeId)
    .first<{ status: string; version: string; last_seen_at: number | null }>();
}

export async function eventsOf(nodeId: string, type: string) {
  const { results } = await env.DB.prepare("SELECT * FROM node_telemetry WHERE node_id = ? AND type = ? ORDER BY created_at")
    .bind(nodeId, type)
    .all<{ severity: string; payload: string }>();
  return results;
}
