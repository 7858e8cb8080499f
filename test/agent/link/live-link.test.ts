/**
 * The live link's rules with a scripted cloud (fake sockets) and fake timers, so backoff bounds,
 * once-per-outage reporting and dead-socket detection are checked to the millisecond. The same
 * link against the real edge is in live-connection.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PING_FRAME, PONG_FRAME } from "../../../protocol/index.ts";
import type { Heartbeat } from "../../../protocol/index.ts";
import type { CommandAck } from "../../../agent/commands/handler.ts";
import { LiveLink, SLEEP_HOLD_MS } from "../../../agent/link/live-link.ts";
import type { DegradedDetails, LinkConnectOutcome, LinkDeps, LinkSocket, LinkTiming } from "../../../agent/link/live-link.ts";
import type { HeartbeatOutcome } from "../../../agent/link/heartbeat-client.ts";
import type { WsHandlers } from "../../../agent/link/ws-client.ts";

type Sent = { type: string; [key: string]: unknown };

class FakeSocket implements LinkSocket {
  sent: Sent[] = [];
  /** The same frames as sent, byte for byte. */
  texts: string[] = [];
  handlers: WsHandlers | null = null;
  closedWith: { code: number; reason: string } | null = null;
  terminated = false;
  open = true;
  autoAck: boolean;
  /** Answer pings as the Workers runtime does (defaults to autoAck). */
  autoPong: boolean;
  constructor(autoAck: boolean, autoPong = autoAck) {
    this.autoAck = autoAck;
    this.autoPong = autoPong;
  }
  start(handlers: WsHandlers): void {
    this.handlers = handlers;
  }
  send(text: string): boolean {
    if (!this.open) return false;
    const frame = JSON.parse(text) as Sent;
    this.sent.push(frame);
    this.texts.push(text);
    if (this.autoAck && frame.type === "heartbeat")
      queueMicrotask(() => this.receive({ type: "heartbeat_ack", at: new Date().toISOString() }));
    if (this.autoPong && text === PING_FRAME) queueMicrotask(() => this.receive(PONG_FRAME));
    return true;
  }
  async close(code = 1000, reason = ""): Promise<void> {
    this.closedWith = { code, reason };
    this.open = false;
  }
  terminate(): void {
    this.terminated = true;
    this.open = false;
  }
  receive(frame: unknown): void {
    if (this.open) this.handlers?.onMessage(typeof frame === "string" ? frame : JSON.stringify(frame));
  }
  /** The cloud side ends the connection. */
  drop(code = 1006, reason = ""): void {
    this.open = false;
    this.handlers?.onClose({ code, reason });
  }
  sentOfType(type: string): Sent[] {
    return this.sent.filter((frame) => frame.type === type);
  }
}

const TIMING: LinkTiming = {
  reconnectBaseMs: 1_000,
  reconnectCapMs: 60_000,
  reconnectSpreadMs: 10_000,
  defaultIntervalMs: 30_000,
  intervalOverrideMs: null,
  fullIntervalOverrideMs: null,
  stableSocketMs: 30_000,
  failureThreshold: 5,
};

function harness(
  options: { timing?: Partial<LinkTiming>; random?: number; autoAck?: boolean; autoPong?: boolean; onCommand?: LinkDeps["onCommand"] } = {},
) {
  let cloud: "up" | "down" | Exclude<LinkConnectOutcome, { kind: "open" }> = "down";
  const connects: number[] = [];
  const sockets: FakeSocket[] = [];
  const degraded: DegradedDetails[] = [];
  const httpBeats: Heartbeat[] = [];
  let httpAnswer: HeartbeatOutcome = { kind: "unreachable", reason: "ECONNREFUSED" };
  let errors = 0;
  let connectedCalls = 0;
  let version = "0.3.0";
  const deps: LinkDeps = {
    connect: async () => {
      connects.push(Date.now());
      if (cloud === "up") {
        const socket = new FakeSocket(options.autoAck ?? true, options.autoPong ?? options.autoAck ?? true);
        sockets.push(socket);
        return { kind: "open", socket };
      }
      if (cloud === "down") return { kind: "failed", reason: "ECONNREFUSED" };
      return cloud;
    },
    postHeartbeat: async (beat) => {
      httpBeats.push(beat);
      return httpAnswer;
    },
    heartbeat: (state, wsFailureCount) => ({
      node_id: "8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34",
      version,
      uptime: 1,
      connection_state: state,
      ws_failure_count: wsFailureCount,
      last_task_at: null,
      memory_mb: 50,
      error_count: errors,
    }),
    onCommand: options.onCommand ?? (async () => ({ status: "done" })),
    onDegraded: (details) => degraded.push(details),
    onConnected: () => {
      connectedCalls += 1;
    },
    countError: () => {
      errors += 1;
    },
    log: () => undefined,
    random: () => options.random ?? 0.5,
    timing: { ...TIMING, ...options.timing },
  };
  const link = new LiveLink(deps);
  return {
    link,
    connects,
    sockets,
    degraded,
    httpBeats,
    setCloud: (state: typeof cloud) => (cloud = state),
    setHttpAnswer: (answer: HeartbeatOutcome) => (httpAnswer = answer),
    errors: () => errors,
    /** Something the program caught and survived, counted as the node's own counter does. */
    countError: () => deps.countError(),
    setVersion: (next: string) => (version = next),
    connectedCalls: () => connectedCalls,
    last: () => sockets.at(-1)!,
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse("2026-11-28T13:00:00.000Z") });
});
afterEach(() => {
  vi.useRealTimers();
});

const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe("reconnecting", () => {
  it("waits base·2^(n-1) at most per failed attempt, capped, with full jitter below it", async () => {
    const h = harness({ random: 0.999999 });
    h.link.start();
    await tick(10 * 60_000);
    const delays = gaps(h.connects);
    expect(delays.slice(0, 7)).toEqual([999, 1999, 3999, 7999, 15999, 31999, 59999]);
    expect(Math.max(...delays)).toBeLessThan(60_000);
    await h.link.stop();
  });

  it("full jitter: the delay scales with the random draw, it is not a fixed schedule", async () => {
    const h = harness({ random: 0.5 });
    h.link.start();
    await tick(60_000);
    expect(gaps(h.connects).slice(0, 5)).toEqual([500, 1000, 2000, 4000, 8000]);
    await h.link.stop();
  });

  it("never retries before a 429's Retry-After, even when its own backoff would", async () => {
    const h = harness({ random: 0 });
    h.setCloud({ kind: "refused", status: 429, reason: "429: slow down", retryAfterMs: 30_000 });
    h.link.start();
    await tick(29_999);
    expect(h.connects).toHaveLength(1);
    await tick(1);
    expect(h.connects).toHaveLength(2);
    await h.link.stop();
  });

  it("after a socket that stayed up, the first reconnect comes at random within the spread; sockets that keep dropping at once are backed off", async () => {
    const h = harness({ random: 0.999999 });
    h.setCloud("up");
    h.link.start();
    await tick(0);
    await tick(40_000); // stable
    const drops: number[] = [];
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = h.connects.length;
      drops.push(Date.now());
      h.last().drop(); // every socket after the first drops soon after it opens
      await tick(10_000);
      expect(h.connects.length).toBe(before + 1);
      delays.push(h.connects.at(-1)! - drops.at(-1)!);
    }
    expect(delays).toEqual([9999, 999, 1999, 3999, 7999]);
    await h.link.stop();
  });

  it("a socket replaced by a newer connection of the same node waits the cap before trying again", async () => {
    const h = harness({ random: 0 });
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().drop(4000, "replaced by a newer connection");
    await tick(59_999);
    expect(h.connects).toHaveLength(1);
    await tick(1);
    expect(h.connects).toHaveLength(2);
    expect(h.errors()).toBe(0);
    await h.link.stop();
  });
});

describe("ws_failure_count and connection_degraded", () => {
  it("counts consecutive failed connects, and resets to 0 on a successful connect", async () => {
    const h = harness({ random: 0.999999 });
    h.link.start();
    await tick(8_000); // attempts at 0, 1 s, 3 s, 7 s
    expect(h.link.status).toMatchObject({ ws_failure_count: 4, state: "degraded", connected: false });
    h.setCloud("up");
    await tick(16_000);
    expect(h.link.status).toMatchObject({ ws_failure_count: 0, state: "connected", connected: true });
    expect(h.connectedCalls()).toBe(1);
    await h.link.stop();
  });

  it("is reported once per outage at the threshold, with the count and when the node was last connected", async () => {
    const h = harness({ random: 0.999999 });
    h.link.start();
    await tick(10 * 60_000); // ~14 failures
    expect(h.link.status.ws_failure_count).toBeGreaterThan(10);
    expect(h.degraded).toEqual([{ failure_count: 5, last_connected: null }]);

    h.setCloud("up");
    await tick(60_000);
    const connectedAt = new Date(h.connects.at(-1)!).toISOString();
    expect(h.link.status.connected).toBe(true);
    expect(h.degraded).toHaveLength(1);

    // A new outage after a successful connect is a new report.
    h.setCloud("down");
    h.last().drop();
    await tick(10 * 60_000);
    expect(h.degraded).toEqual([
      { failure_count: 5, last_connected: null },
      { failure_count: 5, last_connected: connectedAt },
    ]);
    await h.link.stop();
  });

  it("fewer failures than the threshold report nothing", async () => {
    const h = harness({ random: 0.999999 });
    h.link.start();
    await tick(7_500); // 4 attempts
    expect(h.link.status.ws_failure_count).toBe(4);
    h.setCloud("up");
    await tick(20_000);
    expect(h.link.status.connected).toBe(true);
    expect(h.degraded).toEqual([]);
    await h.link.stop();
  });
});

describe("heartbeats", () => {
  it("use the welcome frame's interval, the first one right after the welcome", async () => {
    const h = harness();
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().receive({ type: "welcome", node_id: "n", heartbeat_interval_s: 2 });
    await tick(0);
    expect(h.last().sentOfType("heartbeat")).toHaveLength(1);
    await tick(10_000);
    const beats = h.last().sentOfType("heartbeat");
    expect(beats).toHaveLength(6);
    expect(beats[0]).toMatchObject({ connection_state: "connected", ws_failure_count: 0 });
    expect(h.link.status.heartbeat_interval_ms).toBe(2_000);
    await h.link.stop();
  });

  it("BUHDI_NODE_HEARTBEAT_MS (the override) wins over the welcome frame", async () => {
    const h = harness({ timing: { intervalOverrideMs: 500 } });
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().receive({ type: "welcome", node_id: "n", heartbeat_interval_s: 30 });
    await tick(5_000);
    expect(h.last().sentOfType("heartbeat").length).toBeGreaterThanOrEqual(10);
    await h.link.stop();
  });

  it("go over HTTP with connection_state degraded while the socket cannot connect, and stop once it can", async () => {
    const h = harness({ random: 0.999999, timing: { intervalOverrideMs: 1_000 } });
    h.link.start();
    await tick(5_000);
    expect(h.httpBeats.length).toBeGreaterThanOrEqual(4);
    expect(h.httpBeats.every((beat) => beat.connection_state === "degraded")).toBe(true);
    expect(h.httpBeats.at(-1)?.ws_failure_count).toBe(h.link.status.ws_failure_count);
    // Network failures of the fallback are the same outage, not extra errors.
    expect(h.errors()).toBe(0);

    h.setCloud("up");
    await tick(20_000);
    expect(h.link.status.connected).toBe(true);
    const httpCount = h.httpBeats.length;
    await tick(5_000);
    expect(h.httpBeats).toHaveLength(httpCount);
    expect(h.last().sentOfType("heartbeat").length).toBeGreaterThanOrEqual(5);
    await h.link.stop();
  });

  it("the first failed connect of an outage sends a fallback heartbeat at once, not an interval later", async () => {
    const h = harness({ random: 0.999999 });
    h.link.start();
    await tick(0);
    expect(h.httpBeats).toHaveLength(1);
    expect(h.httpBeats[0]).toMatchObject({ connection_state: "degraded", ws_failure_count: 1 });
    await h.link.stop();
  });

  it("a fallback heartbeat refused with 429 counts as an error and holds the fallback until Retry-After", async () => {
    const h = harness({ random: 0.999999, timing: { intervalOverrideMs: 1_000 } });
    h.setHttpAnswer({ kind: "refused", status: 429, reason: "429: slow down", retryAfterMs: 10_000 });
    h.link.start();
    await tick(0);
    expect(h.httpBeats).toHaveLength(1);
    await tick(9_999);
    expect(h.httpBeats).toHaveLength(1);
    await tick(1_000);
    expect(h.httpBeats).toHaveLength(2);
    expect(h.errors()).toBe(2);
    await h.link.stop();
  });

  it("a socket with no answer for 2 intervals is dropped as dead and reconnected", async () => {
    const h = harness({ autoAck: false, timing: { intervalOverrideMs: 1_000 } });
    h.setCloud("up");
    h.link.start();
    await tick(0);
    const first = h.last();
    await tick(2_999);
    expect(first.terminated).toBe(false);
    await tick(2);
    expect(first.terminated).toBe(true);
    await tick(5_000); // the reconnect waits half the spread (random 0.5)
    expect(h.sockets).toHaveLength(2);
    expect(h.link.status.connected).toBe(true);
    expect(h.errors()).toBe(1);
    await h.link.stop();
  });

  it("a socket that answers every heartbeat is kept", async () => {
    const h = harness({ autoAck: true, timing: { intervalOverrideMs: 1_000 } });
    h.setCloud("up");
    h.link.start();
    await tick(60_000);
    expect(h.sockets).toHaveLength(1);
    expect(h.sockets[0]?.terminated).toBe(false);
    expect(h.sockets[0]?.sentOfType("heartbeat").length).toBeGreaterThanOrEqual(59);
    await h.link.stop();
  });
});

describe("pings between full heartbeats, on a cloud that answers them", () => {
  const welcome = { type: "welcome", node_id: "n", heartbeat_interval_s: 1, full_heartbeat_interval_s: 5 };

  async function pinging(options: Parameters<typeof harness>[0] = {}) {
    const h = harness(options);
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().receive(welcome);
    await tick(0);
    return h;
  }
  const beats = (h: ReturnType<typeof harness>) => h.last().sent.filter((f) => f.type === "heartbeat" || f.type === "ping");

  it("sends the full heartbeat after the welcome, pings while nothing changes, and the full one again after the full interval", async () => {
    const h = await pinging();
    await tick(4_000);
    expect(beats(h).map((f) => f.type)).toEqual(["heartbeat", "ping", "ping", "ping", "ping"]);
    await tick(1_000);
    expect(beats(h).at(-1)?.type).toBe("heartbeat");
    expect(h.last().sentOfType("heartbeat")).toHaveLength(2);
    await h.link.stop();
  });

  it("a ping is the exact text the runtime answers, byte for byte", async () => {
    const h = await pinging();
    await tick(1_000);
    expect(h.last().texts.at(-1)).toBe(PING_FRAME);
    await h.link.stop();
  });

  it("a new error count goes out in full at the next beat, then pings resume", async () => {
    const h = await pinging();
    await tick(2_000);
    h.countError();
    await tick(1_000);
    expect(beats(h).at(-1)).toMatchObject({ type: "heartbeat", error_count: 1 });
    await tick(1_000);
    expect(beats(h).at(-1)?.type).toBe("ping");
    await h.link.stop();
  });

  it("a new version goes out in full at the next beat", async () => {
    const h = await pinging();
    await tick(1_000);
    h.setVersion("0.3.1");
    await tick(1_000);
    expect(beats(h).at(-1)).toMatchObject({ type: "heartbeat", version: "0.3.1" });
    await h.link.stop();
  });

  it("BUHDI_NODE_FULL_HEARTBEAT_MS (the override) wins over the welcome's full interval", async () => {
    const h = await pinging({ timing: { fullIntervalOverrideMs: 2_000 } });
    await tick(4_000);
    expect(beats(h).map((f) => f.type)).toEqual(["heartbeat", "ping", "heartbeat", "ping", "heartbeat"]);
    await h.link.stop();
  });

  it("an older cloud, whose welcome names no full interval, gets the full heartbeat every beat", async () => {
    const h = harness();
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().receive({ type: "welcome", node_id: "n", heartbeat_interval_s: 1 });
    await tick(3_000);
    expect(beats(h).map((f) => f.type)).toEqual(["heartbeat", "heartbeat", "heartbeat", "heartbeat"]);
    await h.link.stop();
  });

  it("pings with no pong for 2 intervals: the socket is dead and is reconnected", async () => {
    const h = await pinging({ autoPong: false });
    const first = h.last();
    await tick(1_000); // the first ping; the full heartbeat before it was acked
    await tick(1_999);
    expect(first.terminated).toBe(false);
    await tick(2);
    expect(first.terminated).toBe(true);
    expect(h.errors()).toBe(1);
    await h.link.stop();
  });

  it("a welcome with a full interval that is not a positive number of seconds is refused as malformed", async () => {
    const h = harness();
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().receive({ ...welcome, full_heartbeat_interval_s: 0 });
    await tick(3_000);
    expect(h.errors()).toBe(1);
    expect(h.last().sentOfType("ping")).toHaveLength(0);
    await h.link.stop();
  });
});

describe("sleep, wake and shutdown", () => {
  it("stop() says going_away shutdown on the socket before closing it, then goes quiet", async () => {
    const h = harness({ timing: { intervalOverrideMs: 1_000 } });
    h.setCloud("up");
    h.link.start();
    await tick(1_500);
    const socket = h.last();
    await h.link.stop();
    expect(socket.sent.at(-1)).toEqual({ type: "going_away", reason: "shutdown" });
    expect(socket.closedWith).toEqual({ code: 1000, reason: "node shutting down" });
    const sent = socket.sent.length;
    await tick(60_000);
    expect(socket.sent).toHaveLength(sent);
    expect(h.connects).toHaveLength(1);
    expect(h.link.status.state).toBe("disconnected");
  });

  it("sleep() says going_away sleep when connected, and reports false when it cannot", async () => {
    const down = harness();
    down.link.start();
    await tick(0);
    expect(down.link.sleep()).toBe(false);
    await down.link.stop();

    const h = harness();
    h.setCloud("up");
    h.link.start();
    await tick(0);
    expect(h.link.sleep()).toBe(true);
    expect(h.last().sent.at(-1)).toEqual({ type: "going_away", reason: "sleep" });
    await h.link.stop();
  });

  it("after going_away sleep no heartbeat goes out for the hold (the OS may take a moment to suspend), then they resume", async () => {
    const h = harness({ timing: { intervalOverrideMs: 1_000 } });
    h.setCloud("up");
    h.link.start();
    await tick(1_500);
    expect(h.link.sleep()).toBe(true);
    const beats = h.last().sentOfType("heartbeat").length;
    await tick(SLEEP_HOLD_MS - 1_000);
    expect(h.last().sentOfType("heartbeat")).toHaveLength(beats);
    expect(h.last().terminated).toBe(false); // no heartbeat, so no missing ack either
    await tick(2_000);
    expect(h.last().sentOfType("heartbeat").length).toBeGreaterThan(beats);
    await h.link.stop();
  });

  it("wake() ends the sleep hold at once", async () => {
    const h = harness({ timing: { intervalOverrideMs: 1_000 } });
    h.setCloud("up");
    h.link.start();
    await tick(1_500);
    h.link.sleep();
    h.link.wake();
    await tick(0);
    h.last().receive({ type: "welcome", node_id: "n", heartbeat_interval_s: 1 });
    await tick(2_000);
    expect(h.last().sentOfType("heartbeat").length).toBeGreaterThanOrEqual(2);
    await h.link.stop();
  });

  it("wake() connects at once instead of waiting out a long backoff", async () => {
    const h = harness({ random: 0.999999 });
    h.link.start();
    await tick(4 * 60_000); // backoff is now near the cap
    const attempts = h.connects.length;
    h.setCloud("up");
    h.link.wake();
    await tick(0);
    expect(h.connects).toHaveLength(attempts + 1);
    expect(h.link.status.connected).toBe(true);
    await h.link.stop();
  });

  it("after wake(slept) the next heartbeat says how long ago the node stopped running, once", async () => {
    const h = harness({ timing: { intervalOverrideMs: 1_000 } });
    h.setCloud("up");
    h.link.start();
    await tick(1_500);
    h.link.wake(600_000); // the detector saw 10 minutes without running
    await tick(0);
    h.last().receive({ type: "welcome", node_id: "n", heartbeat_interval_s: 1 });
    await tick(2_500);
    const beats = h.last().sentOfType("heartbeat");
    // Measured when the heartbeat left: the 10 minutes plus the time since the wake.
    expect(beats[0]?.asleep_for_ms).toBe(600_000);
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(beats.slice(1).every((beat) => beat.asleep_for_ms === undefined)).toBe(true);
    await h.link.stop();
  });

  it("a wake with no socket to tell it on says it over the HTTP fallback, and only once it was sent", async () => {
    const h = harness({ timing: { intervalOverrideMs: 1_000 } });
    h.link.start();
    await tick(1_500); // the cloud is down: heartbeats go over HTTP, unanswered
    h.link.wake(60_000);
    await tick(1_000);
    const unsent = h.httpBeats.at(-1)!;
    expect(unsent.asleep_for_ms).toBeGreaterThanOrEqual(60_000);
    h.setHttpAnswer({ kind: "sent" });
    await tick(1_000);
    expect(h.httpBeats.at(-1)!.asleep_for_ms).toBeGreaterThan(unsent.asleep_for_ms!); // still owed, now said
    await tick(1_000);
    expect(h.httpBeats.at(-1)!.asleep_for_ms).toBeUndefined();
    await h.link.stop();
  });

  it("wake() replaces a socket that looks open but may have died during sleep", async () => {
    const h = harness();
    h.setCloud("up");
    h.link.start();
    await tick(0);
    const before = h.last();
    h.link.wake();
    await tick(0);
    expect(before.terminated).toBe(true);
    expect(h.sockets).toHaveLength(2);
    expect(h.link.status.connected).toBe(true);
    expect(h.errors()).toBe(0);
    await h.link.stop();
  });
});

describe("frames from the cloud", () => {
  it("a command is acknowledged on its socket with the handler's result", async () => {
    const seen: string[] = [];
    const h = harness({
      onCommand: async (frame): Promise<CommandAck> => {
        seen.push(frame.id);
        return { status: "rejected", detail: "cannot" };
      },
    });
    h.setCloud("up");
    h.link.start();
    await tick(0);
    const id = "0b5c7d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e";
    h.last().receive({ type: "command", id, command: "SOFTWARE_UPDATE", payload: {}, expires_at: "2026-11-29T13:00:00.000Z" });
    await tick(0);
    expect(seen).toEqual([id]);
    expect(h.last().sentOfType("command_ack")).toEqual([{ type: "command_ack", id, status: "rejected", detail: "cannot" }]);
    await h.link.stop();
  });

  it("a command of a type this version does not know is acked as unsupported, and the link goes on with the next one", async () => {
    const seen: string[] = [];
    const h = harness({
      onCommand: async (frame): Promise<CommandAck> => {
        seen.push(frame.id);
        return { status: "done" };
      },
    });
    h.setCloud("up");
    h.link.start();
    await tick(0);
    // A newer cloud's command, with fields this version has never seen.
    h.last().receive({
      type: "command",
      id: "c-new",
      command: "REBOOT_AT",
      payload: { at: "03:00" },
      expires_at: "2026-11-29T13:00:00.000Z",
      priority: 2,
    });
    await tick(0);
    expect(h.last().sentOfType("command_ack")).toEqual([
      {
        type: "command_ack",
        id: "c-new",
        status: "rejected",
        detail: "unsupported command type REBOOT_AT: this node version does not know it",
      },
    ]);
    // Not handed to the handler, not counted as an error, and the link carries on.
    expect(seen).toEqual([]);
    expect(h.errors()).toBe(0);
    h.last().receive({ type: "command", id: "c2", command: "CONFIG_CHANGE", payload: {}, expires_at: "2026-11-29T13:00:00.000Z" });
    await tick(0);
    expect(seen).toEqual(["c2"]);
    expect(
      h
        .last()
        .sentOfType("command_ack")
        .map((ack) => ack.id),
    ).toEqual(["c-new", "c2"]);
    const beats = h.last().sentOfType("heartbeat").length;
    await tick(TIMING.defaultIntervalMs);
    expect(h.last().sentOfType("heartbeat").length).toBeGreaterThan(beats);
    expect(h.link.status.connected).toBe(true);
    await h.link.stop();
  });

  it("an unsupported command counts as handled for a welcome that announced it", async () => {
    const h = harness();
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().receive({ type: "welcome", node_id: "n", heartbeat_interval_s: 30, commands: 1 });
    h.last().receive({ type: "command", id: "c-new", command: "REBOOT_AT", payload: {}, expires_at: "2026-11-29T13:00:00.000Z" });
    await expect(h.link.firstContact({ connectMs: 5_000, commandsMs: 120_000 })).resolves.toBe("welcomed");
    await h.link.stop();
  });

  it("a command whose handling fails is not acknowledged (so the cloud resends it) and counts as an error", async () => {
    const h = harness({
      onCommand: async () => {
        throw new Error("disk full");
      },
    });
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().receive({ type: "command", id: "c1", command: "CONFIG_CHANGE", payload: {}, expires_at: "2026-11-29T13:00:00.000Z" });
    await tick(0);
    expect(h.last().sentOfType("command_ack")).toEqual([]);
    expect(h.errors()).toBe(1);
    await h.link.stop();
  });

  it("a malformed frame or an error frame counts as an error; a frame of an unknown type is ignored", async () => {
    const h = harness();
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().receive("not json");
    h.last().receive({ type: "command", id: "c1" });
    h.last().receive({ type: "error", code: "invalid_frame", message: "bad" });
    expect(h.errors()).toBe(3);
    h.last().receive({ type: "something_new", x: 1 });
    expect(h.errors()).toBe(3);
    expect(h.link.status.connected).toBe(true);
    await h.link.stop();
  });

  it("an unexpected close counts as an error; an orderly one (1000/1001) does not", async () => {
    const h = harness();
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().drop(1001, "going away");
    await tick(10_000); // reconnected within the spread
    expect(h.errors()).toBe(0);
    h.last().drop(1006, "connection lost");
    await tick(0);
    expect(h.errors()).toBe(1);
    await h.link.stop();
  });
});

describe("first contact (rescue before risk)", () => {
  const LIMITS = { connectMs: 5_000, commandsMs: 120_000 };
  const command = (id: string) => ({
    type: "command",
    id,
    command: "SOFTWARE_UPDATE",
    payload: {},
    expires_at: "2026-11-29T13:00:00.000Z",
  });

  it("ends only once every command the welcome announced is handled and acked", async () => {
    const releases: Array<() => void> = [];
    const h = harness({
      onCommand: () => new Promise<CommandAck>((resolve) => releases.push(() => resolve({ status: "done" }))),
    });
    h.setCloud("up");
    h.link.start();
    let outcome: string | null = null;
    void h.link.firstContact(LIMITS).then((o) => (outcome = o));
    await tick(0);
    h.last().receive({ type: "welcome", node_id: "n", heartbeat_interval_s: 30, commands: 2 });
    h.last().receive(command("c1"));
    h.last().receive(command("c2"));
    await tick(10_000); // longer than the connect limit: the commands limit applies now
    expect(outcome).toBeNull();
    releases.shift()!();
    await tick(0);
    expect(outcome).toBeNull();
    releases.shift()!();
    await tick(0);
    expect(outcome).toBe("welcomed");
    expect(
      h
        .last()
        .sentOfType("command_ack")
        .map((a) => a.id),
    ).toEqual(["c1", "c2"]);
    await h.link.stop();
  });

  it("a welcome with no commands (or from a cloud that does not count them) ends it at once", async () => {
    const h = harness();
    h.setCloud("up");
    h.link.start();
    await tick(0);
    h.last().receive({ type: "welcome", node_id: "n", heartbeat_interval_s: 30 });
    await expect(h.link.firstContact(LIMITS)).resolves.toBe("welcomed");
    await h.link.stop();
  });

  it("a failed connect ends it at once: no cloud must not hold the node back", async () => {
    const h = harness();
    h.link.start();
    const outcome = h.link.firstContact(LIMITS);
    await tick(0);
    await expect(outcome).resolves.toBe("no_contact");
    await h.link.stop();
  });

  it("a cloud that never welcomes ends it after the connect limit; slow commands after the commands limit", async () => {
    const silent = harness();
    silent.setCloud("up");
    silent.link.start();
    let outcome: string | null = null;
    void silent.link.firstContact(LIMITS).then((o) => (outcome = o));
    await tick(LIMITS.connectMs - 1);
    expect(outcome).toBeNull();
    await tick(1);
    expect(outcome).toBe("timeout");
    await silent.link.stop();

    const slow = harness({ onCommand: () => new Promise<CommandAck>(() => undefined) });
    slow.setCloud("up");
    slow.link.start();
    let slowOutcome: string | null = null;
    void slow.link.firstContact(LIMITS).then((o) => (slowOutcome = o));
    await tick(0);
    slow.last().receive({ type: "welcome", node_id: "n", heartbeat_interval_s: 30, commands: 1 });
    slow.last().receive(command("c1"));
    await tick(LIMITS.commandsMs - 1);
    expect(slowOutcome).toBeNull();
    await tick(1);
    expect(slowOutcome).toBe("timeout");
    await slow.link.stop();
  });
});
