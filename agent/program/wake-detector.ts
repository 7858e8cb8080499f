/**
 * Notices that the computer slept. A Node process is not told when the OS suspends it, but its
 * timers are: a timer due in 5 s that fires a minute late means the machine was asleep (or
 * frozen) for that minute, and every socket it held is suspect. Ordinary event-loop lag is far
 * below the default lateness threshold.
 */
export const WAKE_CHECK_PERIOD_MS = 5_000;
export const WAKE_LATENESS_MS = 15_000;

export type WakeDetector = { stop(): void };

export function startWakeDetector(
  onWake: (sleptMs: number) => void,
  periodMs = WAKE_CHECK_PERIOD_MS,
  latenessMs = WAKE_LATENESS_MS,
): WakeDetector {
  let expected = Date.now() + periodMs;
  let timer: NodeJS.Timeout;
  const tick = (): void => {
    const now = Date.now();
    const late = now - expected;
    expected = now + periodMs;
    timer = setTimeout(tick, periodMs);
    timer.unref();
    if (late > latenessMs) onWake(late);
  };
  timer = setTimeout(tick, periodMs);
  timer.unref();
  return { stop: () => clearTimeout(timer) };
}
