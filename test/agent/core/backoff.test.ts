import { describe, expect, it } from "vitest";
import {
  RETRY_AFTER_MAX_MS,
  RETRY_BASE_MS,
  RETRY_CAP_MS,
  backoffDelayMs,
  isDue,
  parseRetryAfter,
  scheduleRetry,
} from "../../../agent/core/backoff.ts";

const ALMOST_ONE = 1 - Number.EPSILON;
const NOW = Date.parse("2026-11-28T13:00:00.000Z");

describe("backoff with full jitter", () => {
  it.each([
    [1, RETRY_BASE_MS],
    [2, RETRY_BASE_MS * 2],
    [3, RETRY_BASE_MS * 4],
    [10, RETRY_BASE_MS * 512],
  ])("after %i failure(s) the delay is below %i ms and can be as small as 0", (attempts, ceiling) => {
    expect(backoffDelayMs(attempts, () => 0)).toBe(0);
    const largest = backoffDelayMs(attempts, () => ALMOST_ONE);
    expect(largest).toBeLessThan(ceiling);
    expect(largest).toBeGreaterThanOrEqual(ceiling - 1);
  });

  it("never waits longer than the one-hour cap, however many failures", () => {
    for (const attempts of [11, 12, 50, 5000]) {
      expect(backoffDelayMs(attempts, () => ALMOST_ONE)).toBeLessThan(RETRY_CAP_MS);
      expect(backoffDelayMs(attempts, () => ALMOST_ONE)).toBeGreaterThan(RETRY_CAP_MS - 2);
    }
  });

  it("spreads delays across the whole window for uniform randomness", () => {
    expect(backoffDelayMs(3, () => 0.5)).toBe((RETRY_BASE_MS * 4) / 2);
    expect(backoffDelayMs(3, () => 0.25)).toBe((RETRY_BASE_MS * 4) / 4);
  });

  it("stays inside the window even if the random source misbehaves", () => {
    expect(backoffDelayMs(1, () => 7)).toBeLessThan(RETRY_BASE_MS);
    expect(backoffDelayMs(1, () => -3)).toBe(0);
  });
});

describe("Retry-After", () => {
  it("is a floor: the next attempt is never earlier, whatever the jitter says", () => {
    const schedule = scheduleRetry(NOW, 1, () => 0, 120_000);
    expect(schedule.not_before).toBe(NOW + 120_000);
    expect(schedule.next_attempt_at).toBe(NOW + 120_000);
    expect(isDue(schedule, NOW + 119_999)).toBe(false);
    expect(isDue(schedule, NOW + 120_000)).toBe(true);
  });

  it("does not shorten a longer backoff", () => {
    const schedule = scheduleRetry(NOW, 10, () => ALMOST_ONE, 1_000);
    expect(schedule.next_attempt_at).toBeGreaterThan(NOW + 1_000_000);
  });

  it("is honoured even by a manual report that skips our own backoff", () => {
    const schedule = scheduleRetry(NOW, 1, () => 0, 60_000);
    expect(isDue(schedule, NOW + 30_000, true)).toBe(false);
    expect(
      isDue(
        scheduleRetry(NOW, 3, () => ALMOST_ONE, null),
        NOW + 1,
        true,
      ),
    ).toBe(true);
  });

  it("from a misbehaving server is capped at a day", () => {
    expect(scheduleRetry(NOW, 1, () => 0, 10 * RETRY_AFTER_MAX_MS).not_before).toBe(NOW + RETRY_AFTER_MAX_MS);
  });

  it.each([
    ["120", 120_000],
    ["0", 0],
    [" 30 ", 30_000],
    ["Sat, 28 Nov 2026 13:01:00 GMT", 60_000],
    ["Sat, 28 Nov 2026 12:00:00 GMT", 0],
    ["soon", null],
    ["-5", null],
    [null, null],
  ])("header %j means wait %j ms", (header, expected) => {
    expect(parseRetryAfter(header, NOW)).toBe(expected);
  });
});

it("an entry without Retry-After is due once its backoff has passed", () => {
  const schedule = scheduleRetry(NOW, 2, () => 0.5, null);
  expect(schedule.not_before).toBeNull();
  expect(isDue(schedule, schedule.next_attempt_at - 1)).toBe(false);
  expect(isDue(schedule, schedule.next_attempt_at)).toBe(true);
});
