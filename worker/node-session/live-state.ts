/**
 * A node's live state and how it changes: pure functions of (state, event,
 * now), so the rules — when a node counts as offline, when that is worth an
 * event, when D1 must hear about it — are tested without a runtime.
 */
import type { Heartbeat, NodeStatus } from "../../protocol/messages.ts";
import type { NodeEvent } from "../db/node-status.ts";

/** "retired": uninstalled; nothing the node does changes it any more. */
export type Presence = "online" | "offline" | "asleep" | "retired";

/** The last outage that raised node_offline: kept so a node that slept through it can say so. */
export type Outage = {
  since: number;
  offlineEventId: string;
  /** When the node was seen again, and the node_back_online event that recorded it. */
  endedAt: number | null;
  backEventId: string | null;
  asleep: boolean;
};

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
  lastOutage: Outage | null;
  /** Outage events already in D1 that must be shown as sleep (kept until a write succeeds). */
  pendingSleepMarks: string[];
  /** When the node was retired (uninstalled), ms. */
  retiredAt: number | null;
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
    lastOutage: null,
    pendingSleepMarks: [],
    retiredAt: null,
    synced: { status: null, version: null, at: 0 },
  };
}

/** A state as stored by an older version of this object: the fields added since get their defaults. */
export function upgradeState(stored: LiveState): LiveState {
  return {
    ...stored,
    lastOutage: stored.lastOutage ?? null,
    pendingSleepMarks: stored.pendingSleepMarks ?? [],
    retiredAt: stored.retiredAt ?? null,
  };
}

export function isDegraded(state: LiveState): boolean {
  return state.presence === "online" && (state.via === "http" || state.heartbeat?.connection_state === "degraded");
}

export function displayStatus(state: LiveState): NodeStatus {
  return isDegraded(state) ? "degraded" : state.presence;
}

/** The node showed signs of life (socket opened or heartbeat). A retired node has none. */
export function seen(state: LiveState, now: number, heartbeat?: { beat: Heartbeat; via: "ws" | "http" }): LiveState {
  if (state.presence === "retired") return state;
  const next: LiveState = { ...state, presence: "online", lastSeenAt: now };
  if (heartbeat) {
    next.heartbeat = heartbeat.beat;
    next.via = heartbeat.via;
  }
  if (state.outageSince !== null) {
    const backEventId = `node_back_online:${state.outageSince}`;
    next.outageSince = null;
    next.pendingEvents = [
      ...state.pendingEvents,
      {
        eventId: backEventId,
        type: "node_back_online",
        severity: "info",
        at: now,
        details: { offline_since: new Date(state.outageSince).toISOString(), downtime_s: Math.round((now - state.outageSince) / 1000) },
      },
    ];
    if (state.lastOutage?.since === state.outageSince) next.lastOutage = { ...state.lastOutage, endedAt: now, backEventId };
  }
  return next;
}

/**
 * A heartbeat said the node had not run for `asleepForMs` (the computer slept, the process was
 * frozen). If that sleep began before the silence it caused counted as an outage, and the last
 * outage had not ended before it began, that outage was this sleep: its node_offline and
 * node_back_online events are shown as sleep (info, details.asleep), not as a problem. The sleep's
 * start is the node's estimate, measured on its own clock as a duration, so clock skew does not
 * matter; a late estimate only makes the rule stricter.
 */
export function sleptThrough(state: LiveState, now: number, asleepForMs: number, timing: Timing): LiveState {
  const outage = state.lastOutage;
  if (state.presence === "retired" || outage === null || outage.asleep) return state;
  const sleepStart = now - asleepForMs;
  if (sleepStart > outage.since + timing.offlineGraceMs) return state;
  if (outage.endedAt !== null && outage.endedAt < sleepStart) return state;
  const ids = [outage.offlineEventId, ...(outage.backEventId ? [outage.backEventId] : [])];
  return {
    ...state,
    lastOutage: { ...outage, asleep: true },
    // Events not in D1 yet are written as sleep; those already there are changed by the next sync.
    pendingEvents: state.pendingEvents.map((event) => (ids.includes(event.eventId) ? asSleep(event) : event)),
    pendingSleepMarks: [...state.pendingSleepMarks, ...ids.filter((id) => !state.pendingEvents.some((e) => e.eventId === id))],
  };
}

function asSleep(event: NodeEvent): NodeEvent {
  return { ...event, severity: "info", details: { ...event.details, asleep: true } };
}

/** The node said it is going to sleep or shutting down: silence from now on is expected. */
export function goingAway(state: LiveState): LiveState {
  if (state.presence === "retired") return state;
  return { ...state, presence: "asleep" };
}

/** The node was uninstalled: retired for good, never offline, never watched again. */
export function retire(state: LiveState, at: number): LiveState {
  if (state.presence === "retired") return state;
  return { ...state, presence: "retired", retiredAt: at, outageSince: null };
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
  const offlineEventId = `node_offline:${state.lastSeenAt}`;
  next.outageSince = state.lastSeenAt;
  next.lastOfflineEventAt = now;
  next.suppressedOutages = 0;
  next.lastOutage = { since: state.lastSeenAt, offlineEventId, endedAt: null, backEventId: null, asleep: false };
  next.pendingEvents = [
    ...state.pendingEvents,
    {
      eventId: offlineEventId,
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
  if (state.pendingEvents.length > 0 || state.pendingSleepMarks.length > 0) return true;
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
    persisted.lastOutage !== next.lastOutage ||
    persisted.pendingSleepMarks.length !== next.pendingSleepMarks.length ||
    persisted.retiredAt !== next.retiredAt ||
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
