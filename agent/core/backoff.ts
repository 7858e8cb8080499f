/**
 * When to try a failed upload again. Pure functions of (attempts, clock, random source) so the
 * bounds are tested exactly. Exponential backoff with full jitter (delay uniform in
 * [0, min(cap, base·2^(n-1)))) spreads a fleet that lost the cloud at the same moment instead of
 * having every node retry in lockstep; a server's Retry-After is a floor no jitter goes under.
 */

export const RETRY_BASE_MS = 5_000;
export const RETRY_CAP_MS = 60 * 60 * 1000;
/** A broken or hostile Retry-After must not silence a node for weeks. */
export const RETRY_AFTER_MAX_MS = 24 * 60 * 60 * 1000;

export type RandomSource = () => number;

/** attempts = how many tries have failed so far (1 after the first failure). */
export function backoffDelayMs(attempts: number, random: RandomSource, baseMs = RETRY_BASE_MS, capMs = RETRY_CAP_MS): number {
  const exponent = Math.max(0, attempts - 1);
  const ceiling = Math.min(capMs, baseMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  return Math.floor(r * ceiling);
}

export type RetrySchedule = {
  /** Our own backoff: the earliest time the timer tries again. */
  next_attempt_at: number;
  /** The server's Retry-After: the earliest time anyone may try again, even a manual report. */
  not_before: number | null;
};

export function scheduleRetry(nowMs: number, attempts: number, random: RandomSource, retryAfterMs: number | null): RetrySchedule {
  const backoff = nowMs + backoffDelayMs(attempts, random);
  const notBefore = retryAfterMs === null ? null : nowMs + Math.min(Math.max(retryAfterMs, 0), RETRY_AFTER_MAX_MS);
  return { next_attempt_at: notBefore === null ? backoff : Math.max(backoff, notBefore), not_before: notBefore };
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Only an HTTP date (it has a day or month name); Date.parse would read "-5" as a year.
  if (!/[A-Za-z]/.test(value)) return null;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/** ignoreBackoff is for an explicit `buhdi-node report`: skip our own wait, never the server's. */
export function isDue(schedule: RetrySchedule, nowMs: number, ignoreBackoff = false): boolean {
  if (schedule.not_before !== null && nowMs < schedule.not_before) return false;
  return ignoreBackoff || nowMs >= schedule.next_attempt_at;
}
