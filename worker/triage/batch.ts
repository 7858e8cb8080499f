/**
 * Triage of a whole queue batch with a handful of D1 round trips instead of six or seven per
 * report: one for the receipts, the reports and the known issues' stamp; one for every crash
 * group the batch touches; one D1 batch with every report's writes; then only the outboxes that
 * have something to deliver.
 *
 * The reports are planned one after the other, in message order, each against the groups as the
 * reports before it leave them (kept in memory), so every report's outcome is the one it would
 * have had in a transaction of its own: same counts, at most one ticket per group, and the
 * escalation period holding within the batch. Two kinds of report leave that path:
 *   - an update_rolled_back report changes the release it names (its rollback count, a halt)
 *     that the next rollback report reads: the writes before it are committed first, and its own
 *     right after it;
 *   - if a D1 batch fails (a concurrent delivery of one of its messages won, or D1 failed), its
 *     reports and every report after them are triaged one by one (triage.ts), which re-reads
 *     everything and tells a lost race from a failure as before.
 */
import { findGroups, type GroupRow, readBatchStart } from "../db/triage.ts";
import type { Env } from "../env.ts";
import { fleetDatabase } from "../db/shards.ts";
import { knownIssuesFor } from "./known-issue-cache.ts";
import { flushOutbox } from "./outbox.ts";
import { type CrashReport, fingerprintsOf, isCrash, planTriage, readCrash, type TriageOutcome, triageTelemetry } from "./triage.ts";

export type BatchResult = { ok: true; outcome: TriageOutcome } | { ok: false; error: unknown };

type Pending = { report: CrashReport; statements: D1PreparedStatement[]; hasOutbox: boolean };

/** Each distinct telemetry id's result; `now` is the batch's time. */
export async function triageBatch(env: Env, telemetryIds: readonly string[], now: number): Promise<Map<string, BatchResult>> {
  const ids = [...new Set(telemetryIds)];
  const results = new Map<string, BatchResult>();
  const settle = async (id: string, work: () => Promise<TriageOutcome>) => {
    try {
      results.set(id, { ok: true, outcome: await work() });
    } catch (error) {
      results.set(id, { ok: false, error });
    }
  };

  const d1 = fleetDatabase(env);
  const start = await readBatchStart(d1, ids);
  const issues = await knownIssuesFor(d1, start.knownIssuesStamp, now);
  const reports: CrashReport[] = [];
  for (const id of ids) {
    const context = start.contexts.get(id);
    // Already triaged (a redelivery): only what is left of its outbox.
    if (start.receipts.has(id)) await settle(id, () => flushed(env, id, now, "already_triaged"));
    else if (!context) results.set(id, { ok: true, outcome: "unknown_telemetry" });
    else if (!isCrash(context)) results.set(id, { ok: true, outcome: "not_a_crash" });
    else {
      try {
        reports.push(await readCrash(context));
      } catch (error) {
        results.set(id, { ok: false, error });
      }
    }
  }

  const groups = await findGroups(d1, reports.flatMap(fingerprintsOf));
  let oneByOne = false;
  let segment: Pending[] = [];
  const triaged: Pending[] = [];
  const commit = async () => {
    const writes = segment;
    segment = [];
    if (writes.length === 0) return;
    try {
      await d1.batch(writes.flatMap((w) => w.statements));
      for (const w of writes) results.set(w.report.context.telemetryId, { ok: true, outcome: "triaged" });
      triaged.push(...writes);
    } catch (error) {
      // Rare (a lost race, D1 failing): logged, so a batch path that keeps falling back is seen.
      console.warn(JSON.stringify({ msg: "triage batch write failed; triaging one by one", reports: writes.length, error: String(error) }));
      oneByOne = true;
      for (const w of writes)
        await settle(w.report.context.telemetryId, () => triageTelemetry(env, w.report.context.telemetryId, now, async () => issues));
    }
  };

  for (const report of reports) {
    const id = report.context.telemetryId;
    if (oneByOne) {
      await settle(id, () => triageTelemetry(env, id, now, async () => issues));
      continue;
    }
    const rollback = report.context.type === "update_rolled_back";
    if (rollback) await commit();
    if (oneByOne) {
      // The writes before it just failed: the groups in memory may not be what D1 holds.
      await settle(id, () => triageTelemetry(env, id, now, async () => issues));
      continue;
    }
    try {
      const planned = await planTriage(env, report, groups, issues, now);
      segment.push({ report, statements: planned.statements, hasOutbox: planned.hasOutbox });
      remember(groups, planned.group);
    } catch (error) {
      results.set(id, { ok: false, error });
    }
    if (rollback) await commit();
  }
  await commit();

  // Reports without a command, a fix to verify or an escalation have nothing to flush.
  for (const { report, hasOutbox } of triaged) {
    if (hasOutbox) await settle(report.context.telemetryId, () => flushed(env, report.context.telemetryId, now, "triaged"));
  }
  return results;
}

async function flushed(env: Env, telemetryId: string, now: number, outcome: TriageOutcome): Promise<TriageOutcome> {
  await flushOutbox(env, telemetryId, now);
  return outcome;
}

function remember(groups: Map<string, GroupRow>, group: { fingerprint: string; rekeyedFrom: string | null; row: GroupRow }): void {
  if (group.rekeyedFrom !== null) groups.delete(group.rekeyedFrom);
  groups.set(group.fingerprint, group.row);
}
