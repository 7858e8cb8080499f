/** The liveness clock, from configuration (wrangler.toml [vars]) with the spec's defaults. */
import { DEFAULT_HEARTBEAT_INTERVAL_SECONDS } from "../../protocol/messages.ts";
import type { Env } from "../env.ts";
import type { Timing } from "./live-state.ts";

export function timingFrom(env: Env): Timing {
  const interval = positive(env.HEARTBEAT_INTERVAL_SECONDS) ?? DEFAULT_HEARTBEAT_INTERVAL_SECONDS;
  return {
    heartbeatIntervalMs: interval * 1000,
    // Three missed beats plus a little slack for a slow network.
    offlineGraceMs: (positive(env.OFFLINE_GRACE_SECONDS) ?? interval * 3 + 5) * 1000,
    flapWindowMs: (positive(env.FLAP_WINDOW_SECONDS) ?? 600) * 1000,
    rollupMs: 3600 * 1000,
  };
}

function positive(value: string | undefined): number | null {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : null;
}
