/**
 * The supervisor's clocks (restart delay, crash-loop window, an update's rollback window) and the
 * override rule every clock shares. Part of tuning.ts (which re-exports them and lists every
 * override), in a module of their own only because tuning.ts needs the protocol's constants, and
 * importing the protocol evaluates zod and every schema, which the supervisor never uses (kept
 * out of everything it loads at start, that is 1.5 to 2 MB of its idle memory).
 */
import { DEFAULT_RESTART_TUNING } from "./restart-policy.ts";
import type { RestartTuning } from "./restart-policy.ts";

/** An override that is not a whole number of ms >= min reads as absent (the default applies). */
export function msFrom(env: NodeJS.ProcessEnv, name: string, min: number): number | null {
  const value = env[name];
  if (value === undefined || value.trim() === "") return null;
  const ms = Number(value);
  return Number.isInteger(ms) && ms >= min ? ms : null;
}

export function restartTuning(env: NodeJS.ProcessEnv): RestartTuning {
  return {
    ...DEFAULT_RESTART_TUNING,
    restartBaseMs: msFrom(env, "BUHDI_NODE_RESTART_BASE_MS", 10) ?? DEFAULT_RESTART_TUNING.restartBaseMs,
    loopWindowMs: msFrom(env, "BUHDI_NODE_CRASH_LOOP_WINDOW_MS", 100) ?? DEFAULT_RESTART_TUNING.loopWindowMs,
    stableRunMs: msFrom(env, "BUHDI_NODE_STABLE_RUN_MS", 100) ?? DEFAULT_RESTART_TUNING.stableRunMs,
  };
}

/** "Revert if the new version crashes within 60 s." */
export const DEFAULT_UPDATE_HEALTHY_MS = 60_000;

export function updateHealthyMs(env: NodeJS.ProcessEnv): number {
  return msFrom(env, "BUHDI_NODE_UPDATE_HEALTHY_MS", 100) ?? DEFAULT_UPDATE_HEALTHY_MS;
}

/** Retrying a setup code saved while offline: from 5 s, doubling with jitter, at most 5 min apart. */
export type EnrollRetryTiming = { baseMs: number; capMs: number };
export const DEFAULT_ENROLL_RETRY: EnrollRetryTiming = { baseMs: 5_000, capMs: 5 * 60_000 };

export function enrollRetryTiming(env: NodeJS.ProcessEnv): EnrollRetryTiming {
  const baseMs = msFrom(env, "BUHDI_NODE_ENROLL_RETRY_MS", 10) ?? DEFAULT_ENROLL_RETRY.baseMs;
  const capMs = Math.max(baseMs, msFrom(env, "BUHDI_NODE_ENROLL_RETRY_CAP_MS", 10) ?? DEFAULT_ENROLL_RETRY.capMs);
  return { baseMs, capMs };
}
