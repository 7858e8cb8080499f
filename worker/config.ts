/**
 * The one reader of the Worker's configuration: wrangler.toml [vars] (and the
 * optional overrides and secrets beside them), each with its default. A value
 * that is not what its parser wants falls back to the default instead of
 * failing requests: a typo in a var must not take the edge down.
 */
import { DEFAULT_FULL_HEARTBEAT_INTERVAL_SECONDS, DEFAULT_HEARTBEAT_INTERVAL_SECONDS } from "../protocol/messages.ts";
import { addressList, emailAddress } from "./email/address.ts";
import type { Env } from "./env.ts";
import type { Timing } from "./node-session/live-state.ts";

const DEFAULT_ENROLLMENT_TTL_SECONDS = 7 * 24 * 3600;

/** Seconds that may be zero ("no wait"): a finite number ≥ 0, else the fallback. */
export function seconds(value: string | undefined, fallback: number): number {
  return nonNegative(value) ?? fallback;
}

/** Seconds that must pass (an interval, a lifetime): a finite number > 0, else the fallback. */
export function positiveSeconds(value: string | undefined, fallback: number): number {
  const n = nonNegative(value);
  return n !== null && n > 0 ? n : fallback;
}

/** A threshold count: a finite number ≥ 0, else the fallback; never below 1 (0 would trip on nothing). */
export function count(value: string | undefined, fallback: number): number {
  return Math.max(1, nonNegative(value) ?? fallback);
}

/** A percentage: a finite number ≥ 0, else the fallback (over 100 is allowed: a share that is never reached). */
export function percent(value: string | undefined, fallback: number): number {
  return nonNegative(value) ?? fallback;
}

function nonNegative(value: string | undefined): number | null {
  if (value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/** How long a new enrollment code lives unless the admin asks for less. */
export function enrollmentTtlSeconds(env: Env): number {
  return positiveSeconds(env.ENROLLMENT_TTL_SECONDS, DEFAULT_ENROLLMENT_TTL_SECONDS);
}

/** Raw telemetry older than this many days moves to R2 (worker/archive/); 30 unless TELEMETRY_RETENTION_DAYS says otherwise. */
export function archiveRetentionDays(env: Env): number {
  return positiveSeconds(env.TELEMETRY_RETENTION_DAYS, 30);
}

/**
 * One full heartbeat in this many is logged (activity-log.ts): 6 (with one every 10 minutes, about
 * a line per node-hour) unless HEARTBEAT_LOG_ONE_IN says otherwise, 0 for none. Pings are never seen.
 */
export function heartbeatLogOneIn(env: Env): number {
  return Math.floor(seconds(env.HEARTBEAT_LOG_ONE_IN, 6));
}

/**
 * An open socket is looked at for silence every 20 minutes: with a full heartbeat every 10, that
 * keeps a steady node at about 9 wakes and 4 storage rows an hour (docs/scale.md). A node whose
 * socket closes is still judged at the grace's end.
 */
const DEFAULT_SILENCE_CHECK_SECONDS = 1200;

/** The liveness clock of every NodeSession. */
export function liveTiming(env: Env): Timing {
  const interval = positiveSeconds(env.HEARTBEAT_INTERVAL_SECONDS, DEFAULT_HEARTBEAT_INTERVAL_SECONDS);
  return {
    heartbeatIntervalMs: interval * 1000,
    fullHeartbeatIntervalMs: positiveSeconds(env.FULL_HEARTBEAT_INTERVAL_SECONDS, DEFAULT_FULL_HEARTBEAT_INTERVAL_SECONDS) * 1000,
    silenceCheckMs: seconds(env.SILENCE_CHECK_SECONDS, DEFAULT_SILENCE_CHECK_SECONDS) * 1000,
    // Three missed beats plus a little slack for a slow network.
    offlineGraceMs: positiveSeconds(env.OFFLINE_GRACE_SECONDS, interval * 3 + 5) * 1000,
    flapWindowMs: positiveSeconds(env.FLAP_WINDOW_SECONDS, 600) * 1000,
    rollupMs: 3600 * 1000,
  };
}

/** The node's chart history: one sample per slot of this length, 5 minutes unless HISTORY_SLOT_SECONDS says otherwise. */
export const DEFAULT_HISTORY_SLOT_SECONDS = 300;

export function historySlotMs(env: Env): number {
  return positiveSeconds(env.HISTORY_SLOT_SECONDS, DEFAULT_HISTORY_SLOT_SECONDS) * 1000;
}

export type TriageSettings = {
  /** At most one escalation per crash group per this period. */
  escalationPeriodMs: number;
  webhookUrl: string | null;
  webhookSecret: string | null;
  /** A fix is verified when the node runs it healthy this long. */
  healthyWindowMs: number;
  /** Halt a release after this many rollbacks… */
  rollbackHaltCount: number;
  /** …or when rollbacks reach this percentage of its installs. */
  rollbackHaltPercent: number;
};

export function triageSettings(env: Env): TriageSettings {
  return {
    escalationPeriodMs: seconds(env.ESCALATION_PERIOD_SECONDS, 3600) * 1000,
    webhookUrl: env.ESCALATION_WEBHOOK_URL || null,
    webhookSecret: env.ESCALATION_WEBHOOK_SECRET || null,
    healthyWindowMs: seconds(env.VERIFY_HEALTHY_SECONDS, 60) * 1000,
    rollbackHaltCount: count(env.ROLLBACK_HALT_COUNT, 2),
    rollbackHaltPercent: percent(env.ROLLBACK_HALT_PERCENT, 5),
  };
}

export type EmailSettings = {
  /** The sender; null: no email is sent, for `reason`. */
  from: string | null;
  /** Why nothing is sent (no sender, or one that is not an address), for the API's answer and the logs. */
  reason: string | null;
  /** Who gets escalations by email (none: escalations go only to the webhook). */
  escalationTo: string[];
  /** Entries of ESCALATION_EMAIL_TO that are not addresses: left out, and logged. */
  invalidEscalationTo: string[];
  /** The edge's public origin for links in emails written off a request (escalations); null: no link. */
  publicUrl: string | null;
};

/** EMAIL_FROM, ESCALATION_EMAIL_TO and PUBLIC_URL; a bad value sends nothing rather than failing requests. */
export function emailSettings(env: Env): EmailSettings {
  const configured = env.EMAIL_FROM?.trim() ?? "";
  const from = emailAddress(configured);
  const reason = from
    ? null
    : configured === ""
      ? "EMAIL_FROM is not set: this edge sends no email"
      : "EMAIL_FROM is not a valid address: this edge sends no email";
  const { addresses, invalid } = addressList(env.ESCALATION_EMAIL_TO);
  return { from, reason, escalationTo: addresses, invalidEscalationTo: invalid, publicUrl: origin(env.PUBLIC_URL) };
}

/** `https://fleet.example.com/` → `https://fleet.example.com`; anything but an http(s) URL → null. */
function origin(value: string | undefined): string | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.origin : null;
  } catch {
    return null;
  }
}
