/**
 * Where the demo's crash → verified fix goes, phase by phase, each end taken from the record
 * where it happens (never from the narration's clock or a log line):
 *   crash          the crash record's own time (crash.log)
 *   stored         the crash report's telemetry row (created_at: when the edge received it)
 *   triaged        the software_update resolution triage wrote (created_at: the batch's time)
 *   delivered      the SOFTWARE_UPDATE's last send on the node's socket (NodeSession): the one the
 *                  node acked (a send to a program that died before it could act is resent on the
 *                  next connect, so the first send can be to a socket whose program is gone)
 *   installed      the agent's update_progress "installed" event (its own timestamp)
 *   running        the fixed version's node program start (endpoint.json started_at: the
 *                  clock its heartbeats' uptime counts from)
 *   window end     when the NodeSession may first believe the fix: running + the health window,
 *                  and no earlier than the last report's arrival + the window (its rule)
 *   verified       the resolutions' verified_at (the last of them: the demo waits for all)
 * The phases add up to the whole; the health window is one of them and the rest is what the
 * product spends outside it.
 */
import type { CommandItem, ResolutionItem, TelemetryItem } from "./admin-client.ts";

export type RemediationPhases = {
  crash_to_stored_s: number;
  stored_to_triaged_s: number;
  triaged_to_delivered_s: number;
  delivered_to_installed_s: number;
  installed_to_running_s: number;
  health_window_s: number;
  window_end_to_verified_s: number;
};

export type RemediationRecords = {
  crashAt: number;
  /** The crash's reports (all of them: a crash loop sends more than one). */
  crashReports: TelemetryItem[];
  /** The node's telemetry, for the update_progress events. */
  telemetry: TelemetryItem[];
  resolutions: ResolutionItem[];
  commands: CommandItem[];
  fixVersion: string;
  /** The fixed version's node program start (endpoint.json). */
  runningSince: string;
  healthWindowS: number;
};

export type RemediationTimeline = { totalS: number; phases: RemediationPhases };

/** The timeline, or why it cannot be told (a record is missing). */
export function remediationTimeline(r: RemediationRecords): RemediationTimeline | { missing: string } {
  const stored = earliest(r.crashReports.map((t) => t.created_at));
  const reportIds = new Set(r.crashReports.map((t) => t.id));
  const fixes = r.resolutions.filter(
    (x) => reportIds.has(x.telemetry_id) && x.action === "software_update" && x.fix_version === r.fixVersion,
  );
  const triaged = earliest(fixes.map((x) => x.created_at));
  const verifiedTimes = fixes.map((x) => x.verified_at);
  const verified = verifiedTimes.every((t) => t !== null) ? latest(verifiedTimes as string[]) : null;
  const command = r.commands.find((c) => c.type === "SOFTWARE_UPDATE" && c.payload.manifest?.includes(`"${r.fixVersion}"`));
  const delivered = command?.last_sent_at ? Date.parse(command.last_sent_at) : null;
  const installedEvent = r.telemetry.find(
    (t) => t.type === "update_progress" && t.payload.details?.stage === "installed" && t.payload.details.version === r.fixVersion,
  );
  const installed = installedEvent?.payload.timestamp ? Date.parse(installedEvent.payload.timestamp) : null;
  const running = Date.parse(r.runningSince);
  const missing = Object.entries({ stored, triaged, delivered, installed, verified, running }).find(
    ([, t]) => t === null || Number.isNaN(t),
  );
  if (missing) return { missing: missing[0] };
  const windowMs = r.healthWindowS * 1000;
  const lastStored = Math.max(...r.crashReports.map((t) => Date.parse(t.created_at)));
  const windowEnd = Math.max(running, lastStored) + windowMs;
  const s = (from: number, to: number) => (to - from) / 1000;
  return {
    totalS: s(r.crashAt, verified!),
    phases: {
      crash_to_stored_s: s(r.crashAt, stored!),
      stored_to_triaged_s: s(stored!, triaged!),
      triaged_to_delivered_s: s(triaged!, delivered!),
      delivered_to_installed_s: s(delivered!, installed!),
      installed_to_running_s: s(installed!, running),
      health_window_s: s(running, windowEnd),
      window_end_to_verified_s: s(windowEnd, verified!),
    },
  };
}

function earliest(times: string[]): number | null {
  return times.length === 0 ? null : Math.min(...times.map((t) => Date.parse(t)));
}

function latest(times: string[]): number | null {
  return times.length === 0 ? null : Math.max(...times.map((t) => Date.parse(t)));
}
