/** Triage configuration from wrangler.toml [vars] and secrets, with defaults. */
import type { Env } from "../env.ts";

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
    rollbackHaltCount: Math.max(1, seconds(env.ROLLBACK_HALT_COUNT, 2)),
    rollbackHaltPercent: seconds(env.ROLLBACK_HALT_PERCENT, 5),
  };
}

function seconds(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isFinite(n) && n >= 0 ? n : fallback;
}
