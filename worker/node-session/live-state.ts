/**
 * A node's live state and how it changes: pure functions of (state, event,
 * now), so the rules — when a node counts as offline, when that is worth an
 * event, when D1 must hear about it — are tested without a runtime.
 */
import type { Heartbeat, NodeStatus } from "../../protocol/messages.ts";
import type { NodeEvent } from "../db/node-status.ts";

export type Presence = "online" | "offline" | "asleep";

export type LiveState = {
  nodeId: string;
  ownerId: string;
  presence: Presence;
  /** Last heartbeat or connect, ms. */
  lastSeenAt: number | null;
  heartbeat: Heartbeat | null;
  /** How the last heartbeat came: a node on the HTTP fallback is degraded. */
  via: "ws" | "http" | null;
  /** Set while an outage that produced a node_offline event is open. */
  outageSince: number | null;
  lastOfflineEventAt: number | null;
  /** Outages not reported because they came too soon after the last one (flapping). */
  suppressedOutages: number;
  /** Events not yet in D1 (kept until a write succeeds). */
  pendingEvents: NodeEvent[];
  /** What D1's node row says, to know when it must change. */
  synced: { status: NodeStatus | null; version: string | null; at: number };
};

export type Timing = {
  heartbeatIntervalMs: number;
  /** Silence longer than this is an outage (about 3 intervals). */
  offlineGraceMs: number;
  /** At most one node_offline event per node in this window; more outages are counted into the next. */
  flapWindowMs: number;
  /** Steady state: D1's last_seen_at is refreshed at most this often. */
  rollupMs: number;
};

export function initialState(nodeId: string, ownerId: string): LiveState {
  return {
    nodeId,
    ownerId,
    presence: "offline",
    lastSeenAt: null,
    heartbeat: null,
    via: null,
    outageSince: null,
    lastOfflineEventAt: null,
    suppressedOutages: 0,
    pendingEvents: [],
    synced: { status: null, version: null, at: 0 },
  };
}

export function isDegraded(state: LiveState): boolean {
  return state.presence === "online" && (state.via === "http" || state.heartbeat?.connection_state === "degraded");
}

export function displayStatus(state: LiveState): NodeStatus {
  return isDegraded(state) ? "degraded" : state.presence;
}

/** The node showed signs of life (socket opened or heartbeat). */
export function seen(state: LiveState, now: number, heartbeat?: { beat: Heartbeat; via: "ws" | "http" }): LiveState {
  const next: LiveState = { ...state, presence: "online", lastSeenAt: now };
  if (heartbeat) {
    next.heartbeat = heartbeat.beat;
    next.via = heartbeat.via;
  }
  if (state.outageSince !== null) {
    next.outageSince = null;
    next.pendingEvents = [
      ...state.pendingEvents,
      {
        eventId: `node_back_online:${state.outageSince}`,
        type: "node_back_online",
        severity: "info",
        at: now,
        details: { offline_since: new Date(state.outageSince).toISOString(), downtime_s: Math.round((now - state.outageSince) / 1000) },
      },
    ];
  }
  return next;
}

/** The node said it is going to sleep or shutting down: silence from now on is expected. */
export function goingAway(state: LiveState): LiveState {
  return { ...state, presence: "asleep" };
}

/** The dead man's switch, run by the alarm: an online node silent past the grace is offline. */
export function checkSilence(state: LiveState, now: number, timing: Timing): LiveState {
  if (state.presence !== "online" || state.lastSeenAt === null) return state;
  if (now - state.lastSeenAt <= timing.offlineGraceMs) return state;

  const next: LiveState = { ...state, presence: "offline" };
  const flapping = state.lastOfflineEventAt !== null && now - state.lastOfflineEventAt < timing.flapWindowMs;
  if (flapping) {
    // No event now (and so none when it returns): counted into the next report instead.
    next.suppressedOutages = state.suppressedOutages + 1;
    return next;
  }
  next.outageSince = state.lastSeenAt;
  next.lastOfflineEventAt = now;
  next.suppressedOutages = 0;
  next.pendingEvents = [
    ...state.pendingEvents,
    {
      eventId: `node_offline:${state.lastSeenAt}`,
      type: "node_offline",
      severity: "warning",
      at: now,
      details: {
        last_seen_at: new Date(state.lastSeenAt).toISOString(),
        silent_s: Math.round((now - state.lastSeenAt) / 1000),
        outages_not_reported_since_last: state.suppressedOutages,
      },
    },
  ];
  return next;
}

/** When the alarm should next look at this node, or null if nothing to watch. */
export function nextCheckAt(state: LiveState, timing: Timing): number | null {
  if (state.presence !== "online" || state.lastSeenAt === null) return null;
  return state.lastSeenAt + timing.offlineGraceMs + 1;
}

/** D1 hears about a node only when what it shows changes, or at the coarse rollup. */
export function needsD1Sync(state: LiveState, now: number, timing: Timing): boolean {
  if (state.pendingEvents.length > 0) return true;
  if (displayStatus(state) !== state.synced.status) return true;
  if ((state.heartbeat?.version ?? state.synced.version) !== state.synced.version) return true;
  return state.lastSeenAt !== null && state.lastSeenAt > state.synced.at && now - state.synced.at >= timing.rollupMs;
}

/** The per-heartbeat part of the state, kept on the socket (attachment) instead of in storage. */
export type LiveSnapshot = Pick<LiveState, "lastSeenAt" | "heartbeat" | "via">;

/**
 * Whether a change must reach durable storage now. A heartbeat that changes nothing
 * but the clock and the counters only updates the socket's attachment, which survives
 * hibernation for free; storage is written when something that matters changed, or
 * every `everyMs` so that even a lost socket leaves a recent last-seen behind.
 */
export function worthPersisting(persisted: LiveState | null, next: LiveState, everyMs: number): boolean {
  if (!persisted) return true;
  return (
    persisted.presence !== next.presence ||
    persisted.via !== next.via ||
    persisted.heartbeat?.version !== next.heartbeat?.version ||
    persisted.heartbeat?.connection_state !== next.heartbeat?.connection_state ||
    persisted.outageSince !== next.outageSince ||
    persisted.lastOfflineEventAt !== next.lastOfflineEventAt ||
    persisted.suppressedOutages !== next.suppressedOutages ||
    persisted.pendingEvents.length !== next.pendingEvents.length ||
    persisted.synced.at !== next.synced.at ||
    (next.lastSeenAt ?? 0) - (persisted.lastSeenAt ?? 0) >= everyMs
  );
}

/** The state as storage had it, brought up to date by the freshest socket attachment. */
export function withSnapshot(state: LiveState, snapshots: LiveSnapshot[]): LiveState {
  const freshest = snapshots.reduce<LiveSnapshot | null>((best, s) => ((s.lastSeenAt ?? 0) > (best?.lastSeenAt ?? 0) ? s : best), null);
  if (!freshest || (freshest.lastSeenAt ?? 0) <= (state.lastSeenAt ?? 0)) return state;
  return { ...state, lastSeenAt: freshest.lastSeenAt, heartbeat: freshest.heartbeat, via: freshest.via };
}
