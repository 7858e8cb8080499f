/**
 * The node program's half of the rollback window: a program that runs the version
 * update-trial.json names and stays up for the window reports update_progress "healthy" and
 * ends the trial (removes the file), so a later death is an ordinary crash, not a rollback. The
 * report is spooled before the trial ends: a kill in between reports healthy again at worst.
 * The supervisor counts the window from before it started us, so by the time we call ourselves
 * healthy it has stopped considering a rollback.
 */
import type { TelemetryEvent } from "../../protocol/index.ts";
import type { HomePaths } from "../core/paths.ts";
import { updateProgressEvent } from "./events.ts";
import { clearTrial, readTrial } from "./version-store.ts";

export type TrialWatchDeps = {
  paths: HomePaths;
  version: string;
  healthyMs: number;
  platform: string;
  arch: string;
  now: () => number;
  report: (event: TelemetryEvent) => Promise<void>;
  log: (message: string) => void;
};

/** Returns a function that cancels the watch (the program is stopping). */
export async function watchUpdateTrial(deps: TrialWatchDeps): Promise<() => void> {
  const trial = await readTrial(deps.paths).catch(() => null);
  if (trial === null || trial.version !== deps.version) return () => undefined;
  const timer = setTimeout(() => {
    void (async () => {
      const still = await readTrial(deps.paths).catch(() => null);
      if (still === null || still.version !== deps.version) return;
      const context = { version: deps.version, platform: deps.platform, arch: deps.arch, now: new Date(deps.now()) };
      await deps.report(updateProgressEvent(context, "healthy", { version: deps.version, after_ms: deps.healthyMs }));
      await clearTrial(deps.paths).catch((error: unknown) => deps.log(`could not end the update trial: ${String(error)}`));
      deps.log(`${deps.version} has run for ${(deps.healthyMs / 1000).toFixed(1)} s: healthy, no rollback any more`);
    })();
  }, deps.healthyMs);
  timer.unref();
  return () => clearTimeout(timer);
}
