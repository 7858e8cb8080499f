import { describe, expect, it } from "vitest";
import type { Heartbeat } from "../../protocol/messages.ts";
import {
  checkSilence,
  displayStatus,
  goingAway,
  initialState,
  type LiveState,
  needsD1Sync,
  nextCheckAt,
  pinged,
  retire,
  seen,
  sleptThrough,
  type Timing,
  upgradeState,
  withSnapshot,
  worthPersisting,
} from "../../worker/node-session/live-state.ts";

const timing: Timing = {
  heartbeatIntervalMs: 30_000,
  fullHeartbeatIntervalMs: 600_000,
  silenceCheckMs: 1_200_000,
  offlineGraceMs: 95_000,
  flapWindowMs: 600_000,
  rollupMs: 3_600_000,
};
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

describe("an outage the node slept through", () => {
  /** Seen at 0, an outage raised at 100 s (grace 95 s), back at `backAt`, with the D1 write done. */
  function outageEndedAt(backAt: number): LiveState {
    let state = seen(initialState(beat.node_id, "owner"), 0, { beat, via: "ws" });
    state = { ...checkSilence(state, 100_000, timing), pendingEvents: [] };
    return { ...seen(state, backAt, { beat, via: "ws" }), pendingEvents: [] };
  }

  it("is marked as sleep when the sleep began before the silence counted as an outage", () => {
    // Asleep from about 20 s (after the last beat at 0) until 30 minutes: the whole outage.
    const state = sleptThrough(outageEndedAt(1_800_000), 1_800_000, 1_780_000, timing);
    expect(state.pendingSleepMarks).toEqual(["node_offline:0", "node_back_online:0"]);
    expect(state.lastOutage).toMatchObject({ asleep: true });
    expect(needsD1Sync(state, 1_800_000, timing)).toBe(true);
    // Said twice (a resent heartbeat): marked once.
    expect(sleptThrough(state, 1_801_000, 1_781_000, timing).pendingSleepMarks).toHaveLength(2);
  });

  it("marks events not yet in D1 in place, so they are written as sleep", () => {
    let state = seen(initialState(beat.node_id, "owner"), 0, { beat, via: "ws" });
    state = checkSilence(state, 100_000, timing); // node_offline still pending
    state = sleptThrough(seen(state, 200_000, { beat, via: "ws" }), 200_000, 199_000, timing);
    expect(state.pendingSleepMarks).toEqual([]);
    expect(state.pendingEvents.map((e) => [e.type, e.severity, e.details.asleep])).toEqual([
      ["node_offline", "info", true],
      ["node_back_online", "info", true],
    ]);
  });

  it("is left a warning when the sleep began after the silence was already an outage, or after the outage ended", () => {
    const late = sleptThrough(outageEndedAt(1_800_000), 1_800_000, 1_800_000 - 95_001, timing);
    expect(late.pendingSleepMarks).toEqual([]);
    const afterwards = sleptThrough(outageEndedAt(300_000), 1_800_000, 60_000, timing);
    expect(afterwards.pendingSleepMarks).toEqual([]);
  });
});

describe("pings the runtime answered", () => {
  const online = seen(initialState(beat.node_id, "owner"), 1_000, { beat, via: "ws" });

  it("a ping keeps an online node seen, and leaves the heartbeat and when it came alone", () => {
    const later = pinged(online, 500_000);
    expect(later.lastSeenAt).toBe(500_000);
    expect(later.heartbeatAt).toBe(1_000);
    expect(checkSilence(later, 560_000, timing).presence).toBe("online");
    expect(checkSilence(online, 560_000, timing).presence).toBe("offline");
  });

  it("a ping does not bring back a node judged offline, nor move the clock back", () => {
    const offline = checkSilence(online, 200_000, timing);
    expect(pinged(offline, 300_000)).toBe(offline);
    expect(pinged(online, 500)).toBe(online);
    expect(pinged(online, null)).toBe(online);
  });

  it("an open socket is looked at no sooner than the silence check; a closed one at the grace's end", () => {
    expect(nextCheckAt(online, timing, false, 2_000)).toBe(1_000 + 95_000 + 1);
    expect(nextCheckAt(online, timing, true, 2_000)).toBe(2_000 + 1_200_000);
    // 0: every open socket is judged at the grace's end too.
    expect(nextCheckAt(online, { ...timing, silenceCheckMs: 0 }, true, 2_000)).toBe(1_000 + 95_000 + 1);
  });

  it("a heartbeat that changes nothing but the clock is not worth a storage write however long ago the last one was", () => {
    const later = seen(online, 1_000 + 6 * 3_600_000, { beat: { ...beat, uptime: 99, memory_mb: 41 }, via: "ws" });
    expect(worthPersisting(online, later)).toBe(false);
    expect(worthPersisting(online, seen(online, 5_000, { beat: { ...beat, version: "0.4.0" }, via: "ws" }))).toBe(true);
  });

  it("the socket's snapshot brings the heartbeat's time and D1's last rollup back after hibernation", () => {
    const stored = { ...online, synced: { status: "online" as const, version: "0.3.0", at: 1_000 } };
    const woke = withSnapshot(stored, [{ lastSeenAt: 90_000, heartbeat: beat, heartbeatAt: 60_000, via: "ws", syncedAt: 50_000 }]);
    expect(woke).toMatchObject({ lastSeenAt: 90_000, heartbeatAt: 60_000, synced: { at: 50_000 } });
  });
});

describe("a retired node", () => {
  it("is retired for good: no sign of life, sleep or silence changes it, and nothing watches it", () => {
    const online = seen(initialState(beat.node_id, "owner"), 0, { beat, via: "ws" });
    const retired = retire(online, 5_000);
    expect(displayStatus(retired)).toBe("retired");
    expect(retired.retiredAt).toBe(5_000);
    expect(seen(retired, 6_000, { beat, via: "ws" })).toBe(retired);
    expect(goingAway(retired)).toBe(retired);
    expect(checkSilence(retired, 10_000_000, timing)).toBe(retired);
    expect(nextCheckAt(retired, timing, true, 10_000)).toBeNull();
    expect(nextCheckAt(retired, timing, false, 10_000)).toBeNull();
    expect(retire(retired, 9_000).retiredAt).toBe(5_000);
  });

  it("a state stored before retirement and sleep existed reads with their defaults", () => {
    const { lastOutage: _a, pendingSleepMarks: _b, retiredAt: _c, ...old } = initialState(beat.node_id, "owner");
    const upgraded = upgradeState(old as LiveState);
    expect(upgraded).toMatchObject({ lastOutage: null, pendingSleepMarks: [], retiredAt: null });
  });
});
