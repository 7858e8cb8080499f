/**
 * The supervisor's rules, as pure functions of (state, event, time) so they are tested exactly:
 *   - restart delay: none for the first exit after a program that ran ≥ 60 s (stableRunMs), or
 *     the first exit at all (the crash that needs a fix is reported, and the fix reaches the
 *     program, a restart sooner); then 1 s, doubling per exit while it keeps dying young, capped
 *     at 60 s;
 *   - crash loop: loopThreshold crashes within loopWindowMs. The program started right after
 *     the loop is detected reports it (mode "report"); the ones after hold their reports
 *     (mode "hold") until the loop ends (no crash for a whole window) or loopReportIntervalMs
 *     has passed since the last loop report, when one more goes out. crash/loop.ts is the
 *     other half: what the program does with that.
 * The state lives in the supervisor's memory: if the supervisor itself is restarted, counting
 * starts again, which can cost at most one extra report.
 */
import type { CrashLoopInfo } from "./crash-loop-env.ts";

export type RestartTuning = {
  restartBaseMs: number;
  restartCapMs: number;
  stableRunMs: number;
  loopThreshold: number;
  loopWindowMs: number;
  loopReportIntervalMs: number;
};

export const DEFAULT_RESTART_TUNING: RestartTuning = {
  restartBaseMs: 1_000,
  restartCapMs: 60_000,
  stableRunMs: 60_000,
  loopThreshold: 3,
  loopWindowMs: 10 * 60_000,
  loopReportIntervalMs: 60 * 60_000,
};

type Loop = { firstCrashAt: number; lastCrashAt: number; crashCount: number; reportedAt: number | null };

export type RestartState = {
  /** Exits in a row of programs that ran less than stableRunMs. */
  youngExits: number;
  /** Crash times within the last loop window. */
  recentCrashes: number[];
  loop: Loop | null;
};

export function initialRestartState(): RestartState {
  return { youngExits: 0, recentCrashes: [], loop: null };
}

export type ProgramExit = { startedAt: number; endedAt: number; crashed: boolean };

export function afterExit(state: RestartState, exit: ProgramExit, tuning: RestartTuning): { state: RestartState; delayMs: number } {
  const ran = exit.endedAt - exit.startedAt;
  const youngExits = ran >= tuning.stableRunMs ? 1 : state.youngExits + 1;
  const delayMs = youngExits === 1 ? 0 : Math.min(tuning.restartCapMs, tuning.restartBaseMs * 2 ** (youngExits - 2));

  const inWindow = (t: number) => exit.endedAt - t < tuning.loopWindowMs;
  // A whole window without a crash ended the loop (the program that stayed up reported it).
  let loop = state.loop !== null && inWindow(state.loop.lastCrashAt) ? state.loop : null;
  const recentCrashes = state.recentCrashes.filter(inWindow);
  if (exit.crashed) {
    recentCrashes.push(exit.endedAt);
    if (loop) {
      loop = { ...loop, lastCrashAt: exit.endedAt, crashCount: loop.crashCount + 1 };
    } else if (recentCrashes.length >= tuning.loopThreshold) {
      loop = { firstCrashAt: recentCrashes[0]!, lastCrashAt: exit.endedAt, crashCount: recentCrashes.length, reportedAt: null };
    }
  }
  return { state: { youngExits, recentCrashes, loop }, delayMs };
}

/** What the program about to start is told (null: no loop, report as usual). */
export function beforeStart(state: RestartState, now: number, tuning: RestartTuning): { state: RestartState; info: CrashLoopInfo | null } {
  const loop = state.loop;
  if (loop === null || now - loop.lastCrashAt >= tuning.loopWindowMs) return { state, info: null };
  const due = loop.reportedAt === null || now - loop.reportedAt >= tuning.loopReportIntervalMs;
  const info: CrashLoopInfo = {
    mode: due ? "report" : "hold",
    crash_count: loop.crashCount,
    first_crash_at: new Date(loop.firstCrashAt).toISOString(),
    last_crash_at: new Date(loop.lastCrashAt).toISOString(),
    quiet_ms: Math.max(0, tuning.loopWindowMs - (now - loop.lastCrashAt)),
  };
  return { state: due ? { ...state, loop: { ...loop, reportedAt: now } } : state, info };
}
