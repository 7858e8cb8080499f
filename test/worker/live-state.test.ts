import { describe, expect, it } from "vitest";
import type { Heartbeat } from "../../protocol/messages.ts";
import { checkSilence, initialState, type LiveState, needsD1Sync, seen, type Timing } from "../../worker/node-session/live-state.ts";

const timing: Timing = { heartbeatIntervalMs: 30_000, offlineGraceMs: 95_000, flapWindowMs: 600_000, rollupMs: 3_600_000 };
const beat: Heartbeat = {
  node_id: "6f0b5a0e-1d1c-4b8e-9f57-4a4f0c7f2a11",
  version: "0.3.0",
  uptime: 1,
  connection_state: "connected",
  ws_failure_count: 0,
  last_task_at: null,
  memory_mb: 40,
  error_count: 0,
};

/** Simulates `hours` of heartbeats every 30 s, counting the D1 writes the rules ask for. */
function d1WritesOver(hours: number): number {
  let state: LiveState = initialState(beat.node_id, "owner");
  let writes = 0;
  for (let now = 0; now < hours * 3_600_000; now += 30_000) {
    state = seen(state, now, { beat, via: "ws" });
    if (needsD1Sync(state, now, timing)) {
      writes++;
      state = { ...state, pendingEvents: [], synced: { status: "online", version: beat.version, at: now } };
    }
  }
  return writes;
}

describe("live state rules", () => {
  it("steady heartbeats write D1 about once an hour, not once per beat", () => {
    // 1 for coming online + 1 per hourly rollup.
    expect(d1WritesOver(24)).toBeLessThanOrEqual(25);
    expect(d1WritesOver(24)).toBeGreaterThanOrEqual(24);
  });

  it("a node silent for exactly the grace is still online; one millisecond more is an outage", () => {
    const online = seen(initialState(beat.node_id, "owner"), 0, { beat, via: "ws" });
    expect(checkSilence(online, timing.offlineGraceMs, timing).presence).toBe("online");
    const offline = checkSilence(online, timing.offlineGraceMs + 1, timing);
    expect(offline.presence).toBe("offline");
    expect(offline.pendingEvents.map((e) => e.type)).toEqual(["node_offline"]);
  });

  it("an outage suppressed as a flap is counted into the next reported one", () => {
    let state = seen(initialState(beat.node_id, "owner"), 0, { beat, via: "ws" });
    state = checkSilence(state, 100_000, timing); // reported
    state = { ...seen(state, 110_000), pendingEvents: [] };
    state = checkSilence(state, 210_000, timing); // within the flap window: suppressed
    expect(state.pendingEvents).toEqual([]);
    state = seen(state, 220_000);
    state = checkSilence(state, 220_000 + 700_000, timing); // after the window: reported with the count
    expect(state.pendingEvents.at(-1)).toMatchObject({ type: "node_offline", details: { outages_not_reported_since_last: 1 } });
  });
});
