/**
 * Gets crash.log to the cloud without ever losing a line (a naive reporter clears the log
 * even when the upload failed). Order of operations, each step safe to be killed after:
 *   1. flush whatever the spool already holds (a report from an earlier run keeps its event_id);
 *   2. with no crash report pending, snapshot crash.log: bytes [0, size) + their sha256 go into a
 *      new spool entry, written before anything is sent;
 *   3. send it; only after a 2xx rotate those exact bytes to crash.log.prev (crash-log.ts), THEN
 *      delete the spool entry;
 *   4. if crash.log grew meanwhile, repeat. On failure everything stays for the next try.
 * At most one crash report is pending at a time, so a long outage yields one report, not one per
 * restart, and it covers every crash line written up to its snapshot.
 * A pass may be told not to snapshot (a crash loop holds its report, crash/loop.ts) or to attach
 * details to the report it makes; the spool is flushed either way.
 */
import { randomUUID } from "node:crypto";
import { buildCrashReport } from "./report.ts";
import { coverageOf, readCrashLog, rotateCrashLog } from "./crash-log.ts";
import { deliverEntry, flushSpool } from "../outbox/delivery.ts";
import type { DeliveryDeps } from "../outbox/delivery.ts";
import type { Json } from "../../protocol/index.ts";
import type { RandomSource } from "../core/backoff.ts";
import type { HomePaths } from "../core/paths.ts";
import type { Scrubber } from "./scrub.ts";
import { addEntry, listEntries } from "../outbox/spool.ts";
import type { Spool, SpoolEntry } from "../outbox/spool.ts";
import type { SendTelemetry } from "../outbox/telemetry-client.ts";

/** Each pass consumes crash.log bytes, so this only bounds a pathological loop. */
const MAX_NEW_REPORTS_PER_PASS = 5;

export type CrashReporterOptions = {
  paths: HomePaths;
  send: SendTelemetry;
  scrub: Scrubber;
  version: string;
  platform: string;
  arch: string;
  now: () => number;
  random: RandomSource;
  log: (message: string) => void;
};

export type ReportSummary = { delivered: number; rejected: number; pending: SpoolEntry[] };

export type ReportOptions = {
  /** Try pending entries now (a manual `report`, the cloud just came back), still honouring Retry-After. */
  ignoreBackoff?: boolean;
  /** false: only flush what the spool holds, leave crash.log alone for now. Default true. */
  snapshot?: boolean;
  /** Attached to a crash report made in this pass. */
  details?: Record<string, Json>;
};

export type CrashReporter = {
  report(options?: ReportOptions): Promise<ReportSummary>;
};

export function crashReporter(options: CrashReporterOptions): CrashReporter {
  const { paths, log } = options;
  const spool: Spool = { dir: paths.spool, rejectedDir: paths.rejected, log };

  // A refused report is rotated too: otherwise the same bytes would be rebuilt into the same
  // refused report on every start. The lines stay in crash.log.prev and in spool/rejected/.
  const finishCrashReport = async (entry: SpoolEntry): Promise<void> => {
    if (entry.crash_log === null) return;
    await rotateCrashLog(paths.crashLog, paths.crashLogPrev, entry.crash_log);
  };
  const delivery: DeliveryDeps = {
    spool,
    send: options.send,
    now: options.now,
    random: options.random,
    afterDelivered: finishCrashReport,
    afterRejected: finishCrashReport,
  };

  async function snapshotCrashLog(details: Record<string, Json> | undefined): Promise<SpoolEntry | null> {
    const pending = await listEntries(spool);
    if (pending.some((entry) => entry.crash_log !== null)) return null;
    const bytes = await readCrashLog(paths.crashLog);
    if (bytes.length === 0) return null;
    const built = buildCrashReport(bytes, {
      scrub: options.scrub,
      version: options.version,
      platform: options.platform,
      arch: options.arch,
      now: new Date(options.now()),
      eventId: randomUUID(),
      details,
    });
    if (!built.ok) {
      if (built.reason === "invalid") log(`crash.log was not reported, the report would be refused: ${built.message}`);
      return null;
    }
    return addEntry(spool, built.event, { now: options.now(), crash_log: coverageOf(bytes) });
  }

  return {
    async report({ ignoreBackoff = false, snapshot = true, details } = {}) {
      const flushed = await flushSpool(delivery, ignoreBackoff);
      let { delivered, rejected } = flushed;
      for (let pass = 0; snapshot && pass < MAX_NEW_REPORTS_PER_PASS; pass += 1) {
        const entry = await snapshotCrashLog(details);
        if (entry === null) break;
        // Written to the spool either way; with the cloud unreachable the next pass sends it.
        if (flushed.unreachable) break;
        const result = await deliverEntry(delivery, entry, true);
        if (result === "delivered") delivered += 1;
        else if (result === "rejected") rejected += 1;
        else break;
      }
      return { delivered, rejected, pending: await listEntries(spool) };
    },
  };
}
