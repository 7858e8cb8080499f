/** The heartbeat payload and the wake detector: small rules with exact answers. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HeartbeatSchema } from "../../../protocol/index.ts";
import { buildHeartbeat, newStats } from "../../../agent/link/heartbeat.ts";
import { startWakeDetector } from "../../../agent/program/wake-detector.ts";

describe("heartbeat payload", () => {
  it("is the extended heartbeat payload: uptime in ms since start, memory in MB (rss), the counters as they are", () => {
    const stats = newStats(1_000);
    stats.errorCount = 3;
    const beat = buildHeartbeat({
      nodeId: "8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34",
      version: "0.3.0",
      stats,
      now: 61_500,
      state: "degraded",
      wsFailureCount: 7,
      rssBytes: 150.6 * 1024 * 1024,
    });
    expect(beat).toEqual({
      node_id: "8a0c6a56-52a3-4f39-9e9b-0b6c1c4f6f34",
      version: "0.3.0",
      uptime: 60_500,
      connection_state: "degraded",
      ws_failure_count: 7,
      last_task_at: null,
      memory_mb: 151,
      error_count: 3,
    });
    expect(HeartbeatSchema.safeParse(beat).success).toBe(true);
  });
});

describe("wake detector", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse("2026-11-28T13:00:00.000Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fires when a timer comes far later than scheduled (the computer slept), with how long", async () => {
    const woke: number[] = [];
    const detector = startWakeDetector((ms) => woke.push(ms), 5_000, 15_000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(woke).toEqual([]);
    vi.setSystemTime(Date.now() + 120_000); // the clock jumps; no timer ran meanwhile
    await vi.advanceTimersByTimeAsync(5_000);
    expect(woke).toHaveLength(1);
    expect(woke[0]).toBeGreaterThanOrEqual(120_000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(woke).toHaveLength(1);
    detector.stop();
  });

  it("ordinary lateness (a busy event loop) is not a wake", async () => {
    const woke: number[] = [];
    const detector = startWakeDetector((ms) => woke.push(ms), 5_000, 15_000);
    vi.setSystemTime(Date.now() + 10_000);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(woke).toEqual([]);
    detector.stop();
  });
});
