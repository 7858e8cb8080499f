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
  /** Last sign of life, ms: a connect, a heartbeat, or a ping the runtime answered (folded in when the object wakes). */
  lastSeenAt: number | null;
  heartbeat: Heartbeat | null;
  /** When `heartbeat` arrived (its uptime counts from then); pings do not move it. */
  heartbeatAt: number | null;
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
  /** A node that pings sends its full heartbeat at least this often. */
  fullHeartbeatIntervalMs: number;
  /**
   * While a socket is open, the alarm looks for silence this often (0: at the grace's end, as
   * when no socket is open). A node's pings do not wake the object, so each look is a wake and
   * an alarm write; a socket that closes is judged at the grace's end whatever this says.
   */
  silenceCheckMs: number;
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
    heartbeatAt: null,
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
    heartbeatAt: stored.heartbeatAt ?? (stored.heartbeat ? stored.lastSeenAt : null),
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
    next.heartbeatAt = now;
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

/**
 * The runtime answered a ping at `at` (null: none) without waking the object: a sign of life as
 * good as a heartbeat for presence, folded in when the object next wakes. It does not end an
 * outage: a node judged offline comes back with its next connect or full heartbeat.
 */
export function pinged(state: LiveState, at: number | null): LiveState {
  if (at === null || state.presence !== "online" || at <= (state.lastSeenAt ?? 0)) return state;
  return { ...state, lastSeenAt: at };
}

/**
 * When the alarm should next look at this node, or null if nothing to watch. Without a socket,
 * right at the grace's end. With one, no sooner than `silenceCheckMs` from now: a node on an open
 * socket pings the runtime, not the object, and a node that dies usually takes its socket with it
 * (the close is judged at the grace's end); the check is for sockets left open by a vanished node.
 */
export function nextCheckAt(state: LiveState, timing: Timing, socketOpen: boolean, now: number): number | null {
  if (state.presence !== "online" || state.lastSeenAt === null) return null;
  const graceEnd = state.lastSeenAt + timing.offlineGraceMs + 1;
  return socketOpen ? Math.max(graceEnd, now + timing.silenceCheckMs) : graceEnd;
}

/** D1 hears about a node only when what it shows changes, or at the coarse rollup. */
export function needsD1Sync(state: LiveState, now: number, timing: Timing): boolean {
  if (state.pendingEvents.length > 0 || state.pendingSleepMarks.length > 0) return true;
  if (displayStatus(state) !== state.synced.status) return true;
  if ((state.heartbeat?.version ?? state.synced.version) !== state.synced.version) return true;
  return state.lastSeenAt !== null && state.lastSeenAt > state.synced.at && now - state.synced.at >= timing.rollupMs;
}

/**
 * The per-heartbeat part of the state, kept on the socket (attachment) instead of in storage,
 * with when D1 last heard (so the hourly rollup needs no storage write either).
 */
export type LiveSnapshot = Pick<LiveState, "lastSeenAt" | "heartbeat" | "heartbeatAt" | "via"> & { syncedAt?: number };

/**
 * Whether a change must reach durable storage now. A heartbeat that changes nothing but the
 * clock and the counters only updates the socket's attachment, which survives hibernation for
 * free, and a closing socket hands it to storage. Only an object reset with its sockets open (a
 * deploy) loses it: storage then has the last-seen of the last change, and the node reconnects.
 */
export function worthPersisting(persisted: LiveState | null, next: LiveState): boolean {
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
    persisted.synced.status !== next.synced.status ||
    persisted.synced.version !== next.synced.version
  );
}

/** The state as storage had it, brought up to date by the freshest socket attachment. */
export function withSnapshot(state: LiveState, snapshots: LiveSnapshot[]): LiveState {
  const freshest = snapshots.reduce<LiveSnapshot | null>((best, s) => ((s.lastSeenAt ?? 0) > (best?.lastSeenAt ?? 0) ? s : best), null);
  if (!freshest || (freshest.lastSeenAt ?? 0) <= (state.lastSeenAt ?? 0)) return state;
  return {
    ...state,
    lastSeenAt: freshest.lastSeenAt,
    heartbeat: freshest.heartbeat,
    heartbeatAt: freshest.heartbeatAt ?? freshest.lastSeenAt,
    via: freshest.via,
    synced: { ...state.synced, at: Math.max(state.synced.at, freshest.syncedAt ?? 0) },
  };
}
