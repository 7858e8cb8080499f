/**
 * Drains the spool: sends every entry that is due, then deletes it (delivered), moves it to
 * spool/rejected/ (never acceptable) or records the failure and when to try next. Hooks let the
 * owner of an entry act after the cloud has accepted it and before the entry disappears (crash
 * reports rotate crash.log there), which is what makes a kill at any point lose nothing.
 */
import { isDue, scheduleRetry } from "../core/backoff.ts";
import type { RandomSource, RetrySchedule } from "../core/backoff.ts";
import { listEntries, rejectEntry, removeEntry, saveEntry } from "./spool.ts";
import type { Spool, SpoolEntry } from "./spool.ts";
import type { SendTelemetry } from "./telemetry-client.ts";

export type DeliveryDeps = {
  spool: Spool;
  send: SendTelemetry;
  now: () => number;
  random: RandomSource;
  /** Runs after the cloud accepted the entry, before it is deleted. If it throws, the entry stays. */
  afterDelivered?: (entry: SpoolEntry) => Promise<void>;
  /** Runs after the cloud refused the entry for good, before it is moved aside. */
  afterRejected?: (entry: SpoolEntry) => Promise<void>;
};

/** "unreachable" is a retry whose cause was the network: the rest of the spool would fail the same way. */
export type DeliveryResult = "delivered" | "rejected" | "retry" | "unreachable" | "not-due";

export type FlushSummary = { delivered: number; rejected: number; unreachable: boolean; pending: SpoolEntry[] };

export function scheduleOf(entry: SpoolEntry): RetrySchedule {
  return {
    next_attempt_at: Date.parse(entry.next_attempt_at),
    not_before: entry.not_before === null ? null : Date.parse(entry.not_before),
  };
}

export async function deliverEntry(deps: DeliveryDeps, entry: SpoolEntry, ignoreBackoff = false): Promise<DeliveryResult> {
  if (!isDue(scheduleOf(entry), deps.now(), ignoreBackoff)) return "not-due";
  const outcome = await deps.send(entry.event);

  if (outcome.kind === "delivered") {
    try {
      await deps.afterDelivered?.(entry);
    } catch (error) {
      // The cloud has it; keeping the entry means the next try gets 200 and finishes the job.
      return recordFailure(deps, entry, `delivered, but finishing up failed: ${String(error)}`, null);
    }
    await removeEntry(deps.spool, entry);
    return "delivered";
  }

  if (outcome.kind === "rejected") {
    try {
      await deps.afterRejected?.(entry);
    } catch (error) {
      deps.spool.log(`could not clean up after refused ${entry.event.type} ${entry.event.event_id}: ${String(error)}`);
    }
    const where = await rejectEntry(deps.spool, entry, outcome.reason);
    deps.spool.log(
      `the cloud refused ${entry.event.type} ${entry.event.event_id} (${outcome.reason}); it will not be retried. Kept in ${where}`,
    );
    return "rejected";
  }

  await recordFailure(deps, entry, outcome.reason, outcome.retryAfterMs);
  return outcome.unreachable ? "unreachable" : "retry";
}

async function recordFailure(deps: DeliveryDeps, entry: SpoolEntry, reason: string, retryAfterMs: number | null): Promise<"retry"> {
  const attempts = entry.attempts + 1;
  const schedule = scheduleRetry(deps.now(), attempts, deps.random, retryAfterMs);
  await saveEntry(deps.spool, {
    ...entry,
    attempts,
    next_attempt_at: new Date(schedule.next_attempt_at).toISOString(),
    not_before: schedule.not_before === null ? null : new Date(schedule.not_before).toISOString(),
    last_error: reason,
  });
  deps.spool.log(
    `could not send ${entry.event.type} ${entry.event.event_id} (attempt ${attempts}): ${reason}; ` +
      `next try after ${new Date(schedule.next_attempt_at).toISOString()}`,
  );
  return "retry";
}

export async function flushSpool(deps: DeliveryDeps, ignoreBackoff = false): Promise<FlushSummary> {
  const summary: FlushSummary = { delivered: 0, rejected: 0, unreachable: false, pending: [] };
  for (const entry of await listEntries(deps.spool)) {
    const result = await deliverEntry(deps, entry, ignoreBackoff);
    if (result === "delivered") summary.delivered += 1;
    else if (result === "rejected") summary.rejected += 1;
    else if (result === "unreachable") {
      // One timeout per pass, not one per entry: a node starting offline must not wait minutes
      // before its program starts. The others stay due and go with the next pass.
      summary.unreachable = true;
      break;
    }
  }
  summary.pending = await listEntries(deps.spool);
  return summary;
}
