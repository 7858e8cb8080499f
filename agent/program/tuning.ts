/**
 * The node's clocks, with the environment overrides tests use to run them fast. Production
 * values live here and nowhere else; an override that is not a sane number is ignored (the
 * default applies) rather than letting a typo make a node hammer the cloud.
 *   BUHDI_NODE_RETRY_TICK_MS        spool retry timer (default 5 s)
 *   BUHDI_NODE_HEARTBEAT_MS         heartbeat interval, wins over the cloud's welcome frame
 *   BUHDI_NODE_FULL_HEARTBEAT_MS    full heartbeat interval between pings, wins over the welcome frame's
 *   BUHDI_NODE_RECONNECT_BASE_MS    socket reconnect backoff base (1 s) ...
 *   BUHDI_NODE_RECONNECT_CAP_MS     ... and cap (60 s)
 *   BUHDI_NODE_RECONNECT_SPREAD_MS  the first reconnect after a lost socket, at random below this (10 × base)
 *   BUHDI_NODE_RESTART_BASE_MS      supervisor restart delay base (1 s; cap 60 s)
 *   BUHDI_NODE_CRASH_LOOP_WINDOW_MS crash-loop window (10 min)
 *   BUHDI_NODE_STABLE_RUN_MS        a program that ran this long starts the restart backoff again (60 s)
 *   BUHDI_NODE_UPDATE_HEALTHY_MS    an update's rollback window: a new version that dies sooner
 *                                   is rolled back, one that lives this long is healthy (60 s)
 *   BUHDI_NODE_DOWNLOAD_RETRY_MS    first wait between bundle download attempts, doubling (2 s) ...
 *   BUHDI_NODE_DOWNLOAD_RETRIES     ... for this many retries (9: 17 minutes)
 *   BUHDI_NODE_DOWNLOAD_IDLE_MS     no answer or no byte of a bundle for this long: attempt cut (30 s)
 *   BUHDI_NODE_UPDATE_DEADLINE_MS   a SOFTWARE_UPDATE command's deadline (30 min; commands/handler.ts)
 *   BUHDI_NODE_ENROLL_RETRY_MS      first wait before retrying a setup code saved offline (5 s) ...
 *   BUHDI_NODE_ENROLL_RETRY_CAP_MS  ... and the longest (5 min)
 *   BUHDI_NODE_WAKE_CHECK_MS        how often the wake detector looks at the clock (5 s) ...
 *   BUHDI_NODE_WAKE_LATENESS_MS     ... and how late a check must be to count as a wake (15 s)
 * The supervisor's (restart, crash loop, update healthy, enroll retry) are in supervisor/tuning.ts,
 * re-exported here, so that the supervisor does not load the protocol's schemas.
 */
import { DEFAULT_HEARTBEAT_INTERVAL_SECONDS, WS_FAILURE_THRESHOLD } from "../../protocol/index.ts";
import type { CommandName } from "../commands/handler.ts";
import type { LinkTiming } from "../link/live-link.ts";
import { msFrom } from "../supervisor/tuning.ts";
import { WAKE_CHECK_PERIOD_MS, WAKE_LATENESS_MS } from "./wake-detector.ts";

export { DEFAULT_UPDATE_HEALTHY_MS, restartTuning, updateHealthyMs } from "../supervisor/tuning.ts";

/** Matches the upload backoff base: an entry never waits much longer than its schedule says. */
const DEFAULT_RETRY_TICK_MS = 5_000;

export function retryTickMs(env: NodeJS.ProcessEnv): number {
  return msFrom(env, "BUHDI_NODE_RETRY_TICK_MS", 100) ?? DEFAULT_RETRY_TICK_MS;
}

export function linkTiming(env: NodeJS.ProcessEnv): LinkTiming {
  const reconnectBaseMs = msFrom(env, "BUHDI_NODE_RECONNECT_BASE_MS", 10) ?? 1_000;
  const reconnectCapMs = Math.max(reconnectBaseMs, msFrom(env, "BUHDI_NODE_RECONNECT_CAP_MS", 10) ?? 60_000);
  return {
    reconnectBaseMs,
    reconnectCapMs,
    reconnectSpreadMs: msFrom(env, "BUHDI_NODE_RECONNECT_SPREAD_MS", 0) ?? 10 * reconnectBaseMs,
    defaultIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_SECONDS * 1000,
    intervalOverrideMs: msFrom(env, "BUHDI_NODE_HEARTBEAT_MS", 100),
    fullIntervalOverrideMs: msFrom(env, "BUHDI_NODE_FULL_HEARTBEAT_MS", 100),
    stableSocketMs: 30_000,
    failureThreshold: WS_FAILURE_THRESHOLD,
  };
}

/**
 * Waits between bundle download attempts: from 2 s, doubling, 9 of them (17 minutes in all, inside
 * the command's 30-minute deadline). An edge restart or a dropped network during the download then
 * delays the update instead of failing it: a failed SOFTWARE_UPDATE is answered from the command
 * store when the cloud resends it, so it would never be tried again (the soak found this).
 */
export function downloadRetryDelaysMs(env: NodeJS.ProcessEnv): number[] {
  const base = msFrom(env, "BUHDI_NODE_DOWNLOAD_RETRY_MS", 10) ?? 2_000;
  const retries = msFrom(env, "BUHDI_NODE_DOWNLOAD_RETRIES", 0) ?? 9;
  return Array.from({ length: retries }, (_, i) => base * 2 ** i);
}

export function downloadIdleTimeoutMs(env: NodeJS.ProcessEnv): number | undefined {
  return msFrom(env, "BUHDI_NODE_DOWNLOAD_IDLE_MS", 100) ?? undefined;
}

/** Overrides of commands/handler.ts's per-command deadlines (none: its defaults). */
export function commandDeadlinesMs(env: NodeJS.ProcessEnv): Partial<Record<CommandName, number>> {
  const update = msFrom(env, "BUHDI_NODE_UPDATE_DEADLINE_MS", 100);
  return update === null ? {} : { SOFTWARE_UPDATE: update };
}

/** The wake detector's clock: tests freeze a node for seconds, not for a real night. */
export function wakeDetectorTiming(env: NodeJS.ProcessEnv): { periodMs: number; latenessMs: number } {
  return {
    periodMs: msFrom(env, "BUHDI_NODE_WAKE_CHECK_MS", 50) ?? WAKE_CHECK_PERIOD_MS,
    latenessMs: msFrom(env, "BUHDI_NODE_WAKE_LATENESS_MS", 100) ?? WAKE_LATENESS_MS,
  };
}
