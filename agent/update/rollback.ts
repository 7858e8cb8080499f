/**
 * The supervisor's half of an update: a new version that dies inside its rollback window
 * (update-trial.json names it and it ran less than BUHDI_NODE_UPDATE_HEALTHY_MS) is rolled back:
 *   1. its version goes into rolled-back.json (the updater never installs it here again);
 *   2. update_rolled_back goes into the spool, with the crash lines it wrote (every crash.log
 *      record stamped since it started, the supervisor's EXIT line included, so there is always
 *      one) — the program started next sends it;
 *   3. `current` := `previous` (absent: the agent the supervisor was started from);
 *   4. update-trial.json is removed.
 * Each step is atomic, and repeating them is harmless (the event id is derived from the install,
 * so a rollback redone after a kill is the same report), so a kill between steps at worst runs
 * the bad version once more and rolls it back again.
 */
import type { HomePaths } from "../core/paths.ts";
import { crashLines } from "../crash/report.ts";
import { readCrashLog } from "../crash/crash-log.ts";
import type { Scrubber } from "../crash/scrub.ts";
import { addEntry } from "../outbox/spool.ts";
import { rollbackEventId, updateRolledBackEvent } from "./events.ts";
import type { UpdateTrial } from "./version-store.ts";
import { addRolledBack, clearTrial, readVersionName, writeVersionName } from "./version-store.ts";

export type RollbackRequest = {
  paths: HomePaths;
  trial: UpdateTrial;
  /** When the program that died was started (its crash lines are the ones stamped since). */
  startedAt: number;
  /** The version of the agent the supervisor was started from (what "no previous" runs). */
  baseVersion: string;
  scrub: Scrubber;
  platform: string;
  arch: string;
  now: Date;
  log: (message: string) => void;
};

/** Returns the version now current. */
export async function rollBack(request: RollbackRequest): Promise<string> {
  const { paths, trial } = request;
  const previous = await readVersionName(paths.previous);
  const rolledBackTo = previous ?? request.baseVersion;

  await addRolledBack(paths, trial.version);

  const lines = linesSince(await readCrashLog(paths.crashLog), request.startedAt);
  const entries = crashLines(Buffer.from(lines.join("\n")), request.scrub);
  const event = updateRolledBackEvent(
    {
      version: rolledBackTo,
      platform: request.platform,
      arch: request.arch,
      now: request.now,
      eventId: rollbackEventId(trial.version, trial.installed_at),
    },
    { version: trial.version, rolledBackTo },
    entries.length > 0 ? entries : [`${trial.version} died within its rollback window and left no crash record`],
  );
  await addEntry({ dir: paths.spool, rejectedDir: paths.rejected, log: request.log }, event, { now: request.now.getTime() });

  await writeVersionName(paths.current, previous);
  await clearTrial(paths);
  request.log(`rolled back from ${trial.version} to ${rolledBackTo}; ${trial.version} will not be installed again`);
  return rolledBackTo;
}

const RECORD_TIME = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\] /;

/**
 * crash.log lines belonging to records stamped at or after `since`. A record is a stamped line
 * plus the unstamped lines after it (a stack trace); rotation may have moved older records away,
 * which is why the time, not a byte offset, decides.
 */
export function linesSince(bytes: Uint8Array, since: number): string[] {
  const out: string[] = [];
  let inRange = false;
  for (const line of Buffer.from(bytes).toString("utf8").split(/\r?\n/)) {
    const stamp = RECORD_TIME.exec(line);
    if (stamp) inRange = Date.parse(stamp[1]!) >= since;
    if (inRange && line.trim() !== "") out.push(line);
  }
  return out;
}
