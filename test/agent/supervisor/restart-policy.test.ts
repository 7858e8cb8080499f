/**
 * The supervisor's rules as pure functions: restart delays, and when a run of crashes becomes a
 * crash loop that is reported once (with its count) instead of once per crash.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_RESTART_TUNING, afterExit, beforeStart, initialRestartState } from "../../../agent/supervisor/restart-policy.ts";
import type { RestartState } from "../../../agent/supervisor/restart-policy.ts";
import type { CrashLoopInfo } from "../../../agent/crash/loop.ts";

const T = DEFAULT_RESTART_TUNING;
const T0 = Date.parse("2026-11-28T13:00:00.000Z");

/** Runs programs that each live `ranMs` and crash (or not); returns the delays and what each start was told. */
function simulate(runs: Array<{ ranMs: number; crashed?: boolean }>, startAt = T0, initial = initialRestartState()) {
  let state: RestartState = initial;
  let now = startAt;
  const delays: number[] = [];
  const told: Array<CrashLoopInfo | null> = [];
  for (const run of runs) {
    const planned = beforeStart(state, now, T);
    state = planned.state;
    told.push(planned.info);
    const startedAt = now;
    now += run.ranMs;
    const next = afterExit(state, { startedAt, endedAt: now, crashed: run.crashed ?? true }, T);
    state = next.state;
    delays.push(next.delayMs);
    now += next.delayMs;
  }
  const last = beforeStart(state, now, T);
  told.push(last.info);
  return { delays, told, state: last.state, now };
}

describe("restart delay", () => {
  it("none after the first exit, then 1 s, doubling while the program keeps dying young, capped at 60 s", () => {
    const { delays } = simulate(Array.from({ length: 10 }, () => ({ ranMs: 500 })));
    expect(delays).toEqual([0, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it("none again after a program that ran 60 s or more, then 1 s", () => {
    const { delays } = simulate([{ ranMs: 500 }, { ranMs: 500 }, { ranMs: 500 }, { ranMs: 60_000 }, { ranMs: 500 }]);
    expect(delays).toEqual([0, 1_000, 2_000, 0, 1_000]);
  });
});

describe("crash loops", () => {
  it("the first two crashes are reported as usual; the third within the window makes a loop that is reported once, then held", () => {
    const { told } = simulate(Array.from({ length: 6 }, () => ({ ranMs: 500 })));
    expect(told.map((info) => info?.mode ?? "normal")).toEqual(["normal", "normal", "normal", "report", "hold", "hold", "hold"]);
    expect(told[3]).toMatchObject({ crash_count: 3, first_crash_at: new Date(T0 + 500).toISOString() });
    // Every held start knows the loop's current size, for the one report it may send.
    expect(told.slice(4).map((info) => info?.crash_count)).toEqual([4, 5, 6]);
  });

  it("a held program is told how long it must stay up for the loop to count as over (a full window without a crash)", () => {
    const { told, now } = simulate(Array.from({ length: 4 }, () => ({ ranMs: 500 })));
    const lastCrashAt = Date.parse(told.at(-1)!.last_crash_at);
    expect(told.at(-1)?.quiet_ms).toBe(T.loopWindowMs - (now - lastCrashAt));
  });

  it("while the loop goes on, one more report goes out per interval, not per crash", () => {
    // A program that dies every 59 s: young, so the delay grows to the cap; ~an hour of it.
    const { told } = simulate(Array.from({ length: 40 }, () => ({ ranMs: 59_000 })));
    const reports = told.filter((info) => info?.mode === "report");
    expect(reports).toHaveLength(2);
    const gap = Date.parse(reports[1]!.last_crash_at) - Date.parse(reports[0]!.last_crash_at);
    expect(gap).toBeGreaterThanOrEqual(T.loopReportIntervalMs - 2 * 119_000);
  });

  it("crashes spread wider than the window are not a loop", () => {
    const { told } = simulate(Array.from({ length: 6 }, () => ({ ranMs: 6 * 60_000 })));
    expect(told.every((info) => info === null)).toBe(true);
  });

  it("after a program stayed up a whole window the loop is over: the next crashes count from zero", () => {
    const first = simulate(Array.from({ length: 4 }, () => ({ ranMs: 500 })));
    expect(first.told.at(-1)?.mode).toBe("hold");
    const after = simulate([{ ranMs: T.loopWindowMs + 1 }, { ranMs: 500 }], first.now, first.state);
    expect(after.told.map((info) => info?.mode ?? "normal")).toEqual(["hold", "normal", "normal"]);
  });

  it("a program that stops cleanly (exit 0) is restarted but is not a crash", () => {
    const { told } = simulate(Array.from({ length: 5 }, () => ({ ranMs: 500, crashed: false })));
    expect(told.every((info) => info === null)).toBe(true);
  });
});
