/** The escalation webhook's JSON body: what a person needs to act without opening the dashboard. */
import type { EscalationReason } from "../db/schema.ts";

export function escalationBody(input: {
  id: string;
  reason: EscalationReason;
  now: number;
  group: { id: string; title: string; fingerprint: string; reportCount: number; reportsSinceLast: number };
  knownIssueId: string | null;
  fixVersion: string | null;
  node: { id: string; name: string; owner: string; version: string | null; os: string };
  telemetryId: string;
  sample: string[];
}): string {
  return JSON.stringify({
    type: "escalation",
    id: input.id,
    reason: input.reason,
    created_at: new Date(input.now).toISOString(),
    summary: escalationSummary(input.reason, input.group.title, input.node.name, input.fixVersion),
    crash_group: {
      id: input.group.id,
      title: input.group.title,
      fingerprint: input.group.fingerprint,
      report_count: input.group.reportCount,
      reports_since_last_escalation: input.group.reportsSinceLast,
    },
    known_issue_id: input.knownIssueId,
    fix_version: input.fixVersion,
    node: input.node,
    telemetry_id: input.telemetryId,
    sample: input.sample.slice(-20),
  });
}

/** One sentence a person reads first: in the webhook's `summary` and the escalation email. */
export function escalationSummary(reason: EscalationReason, title: string, node: string, fix: string | null): string {
  return SUMMARY[reason](title, node, fix);
}

const SUMMARY: Record<EscalationReason, (title: string, node: string, fix: string | null) => string> = {
  unknown_crash: (title, node) => `Unknown crash on "${node}": ${title}. A ticket is open for engineering review.`,
  regression: (title, node, fix) => `Regression on "${node}": ${title} happens on ${fix} or later, which was meant to fix it.`,
  waiting_for_release: (title, node, fix) => `"${node}" needs ${fix} to fix ${title}, and no published release carries it yet.`,
  release_halted: (title, node, version) =>
    `Release ${version} was halted for every node: too many rollbacks (the latest on "${node}": ${title}).`,
};
