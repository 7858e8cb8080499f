/**
 * The soak's simulated nodes: one WebSocket each, straight to the edge, sending a heartbeat
 * every few seconds the way the agent does, and reconnecting after a lost socket at random within
 * a spread (as the agent does), then with exponential backoff and full jitter while that fails, so
 * an edge restart is followed by a spread-out reconnect, not a stampede. They bring the edge its
 * load; the real agents bring the real behaviour.
 */
import WebSocket from "ws";
import { heartbeatFrame } from "../../bench/payload.ts";
import type { EnrolledNode } from "../../bench/fleet.ts";
import { NODE_KEY_HEADER } from "../../protocol/index.ts";

export type SimFleet = {
  total: number;
  connected(): number;
  /** Times a simulated node opened its socket again after losing it. */
  readonly reconnects: { count: number };
  /** Upgrades tried, successful or not (a stampede shows as many per reconnect). */
  readonly attempts: { count: number };
  /** Upgrade answers that were not 101, with when (the soak checks the 5xx). */
  readonly refused: { at: number; status: number }[];
  /** Error frames the edge sent (a heartbeat it refused). */
  readonly errorFrames: { count: number };
  stop(): void;
};

const RECONNECT_BASE_MS = 1_000;
const RECONNECT_CAP_MS = 30_000;

export function startSimFleet(
  edgeUrl: string,
  nodes: EnrolledNode[],
  /** spreadMs: the first connect, and the first reconnect after a lost socket, at random within it. */
  options: { heartbeatMs: number; spreadMs: number; random?: () => number },
): SimFleet {
  const random = options.random ?? Math.random;
  const wsUrl = `${edgeUrl.replace(/^http/, "ws")}/api/node/connect`;
  const reconnects = { count: 0 };
  const attempts = { count: 0 };
  const errorFrames = { count: 0 };
  const refused: { at: number; status: number }[] = [];
  const open = new Set<WebSocket>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };

  const connect = (node: EnrolledNode, failures: number, everOpened: boolean) => {
    if (stopped) return;
    const frame = heartbeatFrame(node.nodeId);
    attempts.count += 1;
    const ws = new WebSocket(wsUrl, { headers: { [NODE_KEY_HEADER]: node.key }, handshakeTimeout: 15_000 });
    let opened = false;
    let beat: NodeJS.Timeout | null = null;
    ws.on("open", () => {
      opened = true;
      open.add(ws);
      if (everOpened) reconnects.count += 1;
      ws.send(frame);
      beat = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(frame), options.heartbeatMs);
    });
    ws.on("message", (data: Buffer) => {
      if (data.toString().includes('"type":"error"')) errorFrames.count += 1;
    });
    ws.on("unexpected-response", (_req, res) => {
      refused.push({ at: Date.now(), status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on("error", () => undefined);
    ws.on("close", () => {
      open.delete(ws);
      if (beat) clearInterval(beat);
      if (stopped) return;
      // A lost socket: back within the spread (as the agent's first reconnect is); failed
      // attempts: exponential backoff with full jitter.
      const tries = opened ? 0 : failures + 1;
      const ceiling = opened ? options.spreadMs : Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** tries);
      later(random() * ceiling, () => connect(node, tries, everOpened || opened));
    });
  };

  for (const node of nodes) later(random() * options.spreadMs, () => connect(node, 0, false));
  return {
    total: nodes.length,
    connected: () => open.size,
    reconnects,
    attempts,
    refused,
    errorFrames,
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      for (const ws of open) ws.terminate();
    },
  };
}
