/**
 * When `run` tries a setup code saved offline again, and when it gives up: the cloud not reached
 * means a backoff with full jitter (never under a Retry-After), the cloud refusing the code
 * means no retry at all.
 */
import { describe, expect, it } from "vitest";
import { afterFailedEnroll } from "../../../agent/supervisor/enroll-retry.ts";
import { DEFAULT_ENROLL_RETRY, enrollRetryTiming } from "../../../agent/supervisor/tuning.ts";

const ALMOST_ONE = 1 - Number.EPSILON;
const UNREACHED = { retryable: true, retryAfterMs: null };
const TIMING = { baseMs: 5_000, capMs: 300_000 };

describe("retrying a saved setup code", () => {
  it.each([
    [1, 5_000],
    [2, 10_000],
    [4, 40_000],
  ])("after %i failed attempt(s) the wait is jittered below %i ms, and can be 0", (attempts, ceiling) => {
    const shortest = afterFailedEnroll(UNREACHED, attempts, () => 0, TIMING);
    const longest = afterFailedEnroll(UNREACHED, attempts, () => ALMOST_ONE, TIMING);
    expect(shortest).toEqual({ retry: true, delayMs: 0 });
    expect(longest.retry && longest.delayMs).toBeLessThan(ceiling);
    expect(longest.retry && longest.delayMs).toBeGreaterThanOrEqual(ceiling - 1);
  });

  it("never waits longer than the cap, however long the computer stays offline", () => {
    for (const attempts of [7, 8, 30, 10_000]) {
      const decision = afterFailedEnroll(UNREACHED, attempts, () => ALMOST_ONE, TIMING);
      expect(decision.retry && decision.delayMs).toBeLessThan(TIMING.capMs);
    }
  });

  it("waits at least the cloud's Retry-After, and at most a day of it", () => {
    expect(afterFailedEnroll({ retryable: true, retryAfterMs: 30_000 }, 1, () => 0, TIMING)).toEqual({ retry: true, delayMs: 30_000 });
    const hostile = afterFailedEnroll({ retryable: true, retryAfterMs: 90 * 86_400_000 }, 1, () => 0, TIMING);
    expect(hostile).toEqual({ retry: true, delayMs: 86_400_000 });
  });

  it("gives up at once on a code the cloud refused (used, expired, unknown): no later attempt can work", () => {
    expect(afterFailedEnroll({ retryable: false, retryAfterMs: null }, 1, () => 0.5, TIMING)).toEqual({ retry: false });
    expect(afterFailedEnroll({ retryable: false, retryAfterMs: 5_000 }, 3, () => 0.5, TIMING)).toEqual({ retry: false });
  });

  it("takes its clock from the environment only when the value is sane", () => {
    expect(enrollRetryTiming({})).toEqual(DEFAULT_ENROLL_RETRY);
    expect(enrollRetryTiming({ BUHDI_NODE_ENROLL_RETRY_MS: "100", BUHDI_NODE_ENROLL_RETRY_CAP_MS: "1000" })).toEqual({
      baseMs: 100,
      capMs: 1000,
    });
    // A cap below the base is raised to it; nonsense falls back to the defaults.
    expect(enrollRetryTiming({ BUHDI_NODE_ENROLL_RETRY_MS: "2000", BUHDI_NODE_ENROLL_RETRY_CAP_MS: "50" })).toEqual({
      baseMs: 2000,
      capMs: 2000,
    });
    expect(enrollRetryTiming({ BUHDI_NODE_ENROLL_RETRY_MS: "-1", BUHDI_NODE_ENROLL_RETRY_CAP_MS: "soon" })).toEqual(DEFAULT_ENROLL_RETRY);
  });
});
