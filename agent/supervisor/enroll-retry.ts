/**
 * What `run` does after an enrollment attempt with a setup code saved offline failed: try again
 * later, or give up. A pure function of the failure, the attempt count and a random source, so
 * the rule is tested exactly:
 *   - the cloud was not reached (retryable): wait with exponential backoff and full jitter
 *     (a fleet set up during one outage does not come back in lockstep), never shorter than
 *     the cloud's Retry-After; the code is kept;
 *   - the cloud refused the code (used, expired, unknown): give up. The code can never work
 *     again; the owner needs a new setup link.
 */
import { backoffDelayMs, RETRY_AFTER_MAX_MS, type RandomSource } from "../core/backoff.ts";
import type { EnrollRetryTiming } from "./tuning.ts";

export type EnrollFailure = { retryable: boolean; retryAfterMs: number | null };
export type EnrollRetryDecision = { retry: true; delayMs: number } | { retry: false };

/** attempts: how many attempts have failed so far, this one included (1 after the first). */
export function afterFailedEnroll(
  failure: EnrollFailure,
  attempts: number,
  random: RandomSource,
  timing: EnrollRetryTiming,
): EnrollRetryDecision {
  if (!failure.retryable) return { retry: false };
  const backoff = backoffDelayMs(attempts, random, timing.baseMs, timing.capMs);
  const floor = failure.retryAfterMs === null ? 0 : Math.min(Math.max(failure.retryAfterMs, 0), RETRY_AFTER_MAX_MS);
  return { retry: true, delayMs: Math.max(backoff, floor) };
}
