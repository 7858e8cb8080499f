/** What a node program started in a crash loop may do with crash.log, and the env that tells it. */
import { describe, expect, it } from "vitest";
import { CRASH_LOOP_ENV, crashReportPlan, encodeCrashLoop, parseCrashLoop } from "../../../agent/crash/loop.ts";
import type { CrashLoopInfo } from "../../../agent/crash/loop.ts";

const INFO: CrashLoopInfo = {
  mode: "hold",
  crash_count: 7,
  first_crash_at: "2026-11-28T13:00:00.000Z",
  last_crash_at: "2026-11-28T13:02:00.000Z",
  quiet_ms: 600_000,
};
const LOOP = { crash_count: 7, first_crash_at: "2026-11-28T13:00:00.000Z", last_crash_at: "2026-11-28T13:02:00.000Z" };

describe("the crash-loop plan", () => {
  it("no loop: report crash.log as usual, without details", () => {
    expect(crashReportPlan(null, 0)).toEqual({ snapshot: true });
  });

  it("mode report: report now, with the count and time span", () => {
    expect(crashReportPlan({ ...INFO, mode: "report" }, 0)).toEqual({ snapshot: true, details: { ...LOOP, crash_loop: "ongoing" } });
  });

  it("mode hold: leave crash.log alone until the program has been up quiet_ms, then one report saying the loop ended", () => {
    expect(crashReportPlan(INFO, 599_999)).toEqual({ snapshot: false });
    expect(crashReportPlan(INFO, 600_000)).toEqual({ snapshot: true, details: { ...LOOP, crash_loop: "ended" } });
  });
});

describe("BUHDI_NODE_CRASH_LOOP", () => {
  it("round-trips", () => {
    expect(parseCrashLoop({ [CRASH_LOOP_ENV]: encodeCrashLoop(INFO) })).toEqual(INFO);
  });

  it.each(["", "{", JSON.stringify({ ...INFO, mode: "mute" }), JSON.stringify({ mode: "hold" })])(
    "an unreadable value (%j) means no loop, so crashes are still reported",
    (value) => {
      expect(parseCrashLoop({ [CRASH_LOOP_ENV]: value })).toBeNull();
    },
  );
});
