/**
 * All SQL of triage, as small named functions over plain D1 statements: the
 * upserts and compare-and-set inserts below say exactly what happens under
 * concurrent consumers, which a query builder would hide.
 */
import { escalationEmailStatement, type NewEmail } from "./emails.ts";
import { rollbackStatements } from "./releases.ts";
import type { CRASH_GROUP_STATES, EscalationReason, RESOLUTION_ACTIONS, RESOLUTION_STATES } from "./schema.ts";

export type TriageContext = {
  telemetryId: string;
  nodeId: string;
  ownerId: string;
  type: string;
  payload: string;
  nodeVersion: string | null;
  nodeName: string;
  os: string;
  ownerName: string;
};

export async function receiptExists(d1: D1Database, telemetryId: string): Promise<boolean> {
  return (await d1.prepare("SELECT 1 FROM triage_receipts WHERE telemetry_id = ?").bind(telemetryId).first()) !== null;
}

const CONTEXT_COLUMNS = `t.id AS telemetryId, t.node_id AS nodeId, t.owner_id AS ownerId, t.type, t.payload,
       t.node_version AS nodeVersion, n.name AS nodeName, n.os, o.name AS ownerName
  FROM node_telemetry t JOIN nodes n ON n.id = t.node_id JOIN owners o ON o.id = t.owner_id`;

export async function loadTriageContext(d1: D1Database, telemetryId: string): Promise<TriageContext | null> {
  return d1.prepare(`SELECT ${CONTEXT_COLUMNS} WHERE t.id = ?`).bind(telemetryId).first<TriageContext>();
}

/** What a queue batch reads first, in one round trip: receipts, contexts, the known issues' stamp. */
export type BatchStart = { receipts: Set<string>; contexts: Map<string, TriageContext>; knownIssuesStamp: string };

export async function readBatchStart(d1: D1Database, telemetryIds: readonly string[]): Promise<BatchStart> {
  const ids = JSON.stringify(telemetryIds);
  const [receipts, contexts, stamp] = await d1.batch([
    d1.prepare("SELECT telemetry_id AS id FROM triage_receipts WHERE telemetry_id IN (SELECT value FROM json_each(?))").bind(ids),
    d1.prepare(`SELECT ${CONTEXT_COLUMNS} WHERE t.id IN (SELECT value FROM json_each(?))`).bind(ids),
    knownIssuesStampStatement(d1),
  ]);
  return {
    receipts: new Set((receipts!.results as { id: string }[]).map((r) => r.id)),
    contexts: new Map((contexts!.results as TriageContext[]).map((c) => [c.telemetryId, c])),
    knownIssuesStamp: stampOf(stamp!.results[0] as KnownIssuesStampRow | undefined),
  };
}

export type GroupRow = {
  id: string;
  state: (typeof CRASH_GROUP_STATES)[number];
  reportCount: number;
  reportsAtLastEscalation: number;
  lastEscalatedAt: number | null;
  /** JSON array of the versions seen crashing this way. */
  versions: string;
};

/** The crash groups stored under any of these fingerprints, by fingerprint. */
export async function findGroups(d1: D1Database, fingerprints: readonly string[]): Promise<Map<string, GroupRow>> {
  if (fingerprints.length === 0) return new Map();
  const { results } = await d1
    .prepare(
      `SELECT fingerprint, id, state, report_count AS reportCount, reports_at_last_escalation AS reportsAtLastEscalation,
              last_escalated_at AS lastEscalatedAt, versions
       FROM crash_groups WHERE fingerprint IN (SELECT value FROM json_each(?))`,
    )
    .bind(JSON.stringify([...new Set(fingerprints)]))
    .all<GroupRow & { fingerprint: string }>();
  return new Map(results.map(({ fingerprint, ...group }) => [fingerprint, group]));
}

export type KnownIssueRow = {
  id: string;
  pattern: string;
  fixType: "update" | "config_change" | "manual" | "self_healing" | null;
  fixVersion: string | null;
  fixInstructions: string | null;
  autoResolve: number;
  updatedAt: number | null;
};

type KnownIssuesStampRow = { n: number; created: number | null; updated: number | null };

/**
 * Changes whenever a known issue is created or edited (enabling and disabling are edits: the API
 * sets updated_at on every write), so a cached list is read again only when it changed. hit_count
 * and last_hit_at, which triage itself bumps, are left out. The sum of updated_at moves when any
 * one row's moves, which the maximum would not if clocks differ between the writers.
 */
function knownIssuesStampStatement(d1: D1Database): D1PreparedStatement {
  return d1.prepare("SELECT count(*) AS n, max(created_at) AS created, total(updated_at) AS updated FROM node_known_issues");
}

function stampOf(row: KnownIssuesStampRow | undefined): string {
  return row ? `${row.n}/${row.created}/${row.updated}` : "none";
}

export async function enabledKnownIssues(d1: D1Database): Promise<KnownIssueRow[]> {
  const { results } = await d1
    .prepare(
      `SELECT id, pattern, fix_type AS fixType, fix_version AS fixVersion, fix_instructions AS fixInstructions,
              auto_resolve AS autoResolve, updated_at AS updatedAt
       FROM node_known_issues WHERE enabled = 1 ORDER BY created_at, id`,
    )
    .all<KnownIssueRow>();
  return results;
}

/** What triage decided, as far as the database records it (triage's Decision has these fields and more). */
export type DecisionColumns = {
  action: (typeof RESOLUTION_ACTIONS)[number];
  resolutionState: (typeof RESOLUTION_STATES)[number];
  groupState: (typeof CRASH_GROUP_STATES)[number];
  fixVersion: string | null;
  ticket: boolean;
};

/** Everything one triaged report writes, applied by the caller as one D1 batch. */
export type TriagePlan = {
  context: TriageContext;
  now: number;
  group: {
    id: string;
    isNew: boolean;
    fingerprint: string;
    /** The group was found under its old (v1) fingerprint: it takes the current one and title first. */
    rekeyFrom: string | null;
    title: string;
    sample: string[];
    previous: GroupRow | null;
  };
  knownIssueId: string | null;
  autoResolve: boolean;
  decision: DecisionColumns;
  resolutionId: string;
  /** JSON text for the node's Durable Object, or null. */
  nodeOutbox: string | null;
  bridge: { id: string; from: string; class: string; msg: string };
  escalation: {
    id: string;
    reason: EscalationReason;
    reportsSinceLast: number;
    body: string;
    /** The same escalation by email, when a sender and recipients are configured. */
    email: (NewEmail & { escalationId: string }) | null;
  } | null;
  /** An update_rolled_back report: counted against the release, which may be halted for everyone. */
  rollback: { version: string; halt: string | null } | null;
};

export function triageStatements(d1: D1Database, plan: TriagePlan): D1PreparedStatement[] {
  const { context, now, group, decision } = plan;
  const version = context.nodeVersion ?? "unknown";
  const statements = [
    // First: a second delivery of the same message fails here and rolls the whole batch back.
    d1
      .prepare("INSERT INTO triage_receipts (telemetry_id, group_id, processed_at) VALUES (?, ?, ?)")
      .bind(context.telemetryId, group.id, now),
    // No-op unless adopting a group stored under the old fingerprint scheme: the upsert below then
    // finds it under the new one. Guarded by the old key, so a concurrent adopter changes nothing.
    d1
      .prepare("UPDATE crash_groups SET fingerprint = ?, title = ? WHERE id = ? AND fingerprint = ?")
      .bind(group.fingerprint, group.title, group.id, group.rekeyFrom ?? ""),
    d1
      .prepare(
        `INSERT INTO crash_groups (id, fingerprint, title, first_seen_at, last_seen_at, report_count, node_count, versions,
                                   latest_telemetry_id, latest_sample, known_issue_id, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?4, 1, 0, json_array(?5), ?6, ?7, ?8, ?9, ?4)
         ON CONFLICT (fingerprint) DO UPDATE SET
           last_seen_at = max(crash_groups.last_seen_at, excluded.last_seen_at),
           report_count = crash_groups.report_count + 1,
           versions = CASE WHEN EXISTS (SELECT 1 FROM json_each(crash_groups.versions) WHERE value = ?5)
                      THEN crash_groups.versions ELSE json_insert(crash_groups.versions, '$[#]', ?5) END,
           latest_telemetry_id = excluded.latest_telemetry_id,
           latest_sample = excluded.latest_sample,
           known_issue_id = excluded.known_issue_id,
           state = excluded.state`,
      )
      .bind(
        group.id,
        group.fingerprint,
        group.title,
        now,
        version,
        context.telemetryId,
        JSON.stringify(group.sample),
        plan.knownIssueId,
        decision.groupState,
      ),
    // Counted as it grows, never recounted: a hot group (a bad release, a tenth of the fleet) would
    // scan all its nodes on every report. A node counts once, before its row below exists.
    d1
      .prepare(
        `UPDATE crash_groups SET node_count = node_count + 1
         WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM crash_group_nodes WHERE group_id = ?1 AND node_id = ?2)`,
      )
      .bind(group.id, context.nodeId),
    d1
      .prepare(
        `INSERT INTO crash_group_nodes (group_id, node_id, version, last_seen_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (group_id, node_id) DO UPDATE SET version = excluded.version, last_seen_at = excluded.last_seen_at`,
      )
      .bind(group.id, context.nodeId, context.nodeVersion, now),
    d1
      .prepare(
        `INSERT INTO resolutions (id, telemetry_id, group_id, node_id, known_issue_id, action, from_version, fix_version,
                                  state, auto_resolve, node_outbox, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        plan.resolutionId,
        context.telemetryId,
        group.id,
        context.nodeId,
        plan.knownIssueId,
        decision.action,
        context.nodeVersion,
        decision.fixVersion,
        decision.resolutionState,
        plan.autoResolve ? 1 : 0,
        plan.nodeOutbox,
        now,
      ),
    d1
      .prepare(
        "INSERT INTO bridge_comms (id, telemetry_id, from_name, class, msg, status, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
      )
      .bind(plan.bridge.id, context.telemetryId, plan.bridge.from, plan.bridge.class, plan.bridge.msg, now),
  ];
  if (plan.rollback) statements.push(...rollbackStatements(d1, plan.rollback));
  if (plan.knownIssueId) {
    statements.push(
      d1.prepare("UPDATE node_known_issues SET hit_count = hit_count + 1, last_hit_at = ? WHERE id = ?").bind(now, plan.knownIssueId),
    );
  }
  if (decision.action === "regression") {
    // The fix did not hold on this node: what was verified for this group is reopened.
    statements.push(
      d1
        .prepare(
          `UPDATE node_telemetry SET resolved = 0 WHERE id IN
             (SELECT telemetry_id FROM resolutions WHERE group_id = ? AND node_id = ? AND state = 'verified')`,
        )
        .bind(group.id, context.nodeId),
      d1
        .prepare("UPDATE resolutions SET state = 'regressed' WHERE group_id = ? AND node_id = ? AND state = 'verified'")
        .bind(group.id, context.nodeId),
    );
  }
  if (decision.ticket) {
    statements.push(
      d1
        .prepare(
          `INSERT INTO tickets (id, group_id, title, tags, status, report_count, created_at, updated_at)
           VALUES (?1, ?2, ?3, ?4, 'open', 1, ?5, ?5)
           ON CONFLICT (group_id) DO UPDATE SET report_count = tickets.report_count + 1, updated_at = ?5, status = 'open'`,
        )
        .bind(
          crypto.randomUUID(),
          group.id,
          group.title,
          JSON.stringify(plan.knownIssueId ? ["known-issue-manual"] : ["engineering-review"]),
          now,
        ),
    );
  }
  if (plan.escalation) {
    const seen = group.previous?.lastEscalatedAt ?? null;
    // Compare-and-set on last_escalated_at: of two consumers racing, one escalates.
    statements.push(
      d1
        .prepare(
          `INSERT INTO escalations (id, group_id, telemetry_id, reason, reports_since_last, body, status, attempts, created_at)
           SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7 WHERE (SELECT last_escalated_at FROM crash_groups WHERE id = ?2) IS ?8`,
        )
        .bind(
          plan.escalation.id,
          group.id,
          context.telemetryId,
          plan.escalation.reason,
          plan.escalation.reportsSinceLast,
          plan.escalation.body,
          now,
          seen,
        ),
      // Written only if the escalation above was: the email goes under the same flood control.
      ...(plan.escalation.email ? [escalationEmailStatement(d1, plan.escalation.email, now)] : []),
      d1
        .prepare(
          `UPDATE crash_groups SET last_escalated_at = ?1, reports_at_last_escalation = report_count
           WHERE id = ?2 AND last_escalated_at IS ?3`,
        )
        .bind(now, group.id, seen),
    );
  }
  return statements;
}

// ── After the batch: what must still leave the database ──

export async function pendingNodeOutbox(d1: D1Database, telemetryId: string) {
  const { results } = await d1
    .prepare(
      `SELECT r.id, r.node_id AS nodeId, n.owner_id AS ownerId, r.node_outbox AS nodeOutbox, t.created_at AS reportedAt
       FROM resolutions r JOIN nodes n ON n.id = r.node_id JOIN node_telemetry t ON t.id = r.telemetry_id
       WHERE r.telemetry_id = ? AND r.node_outbox IS NOT NULL`,
    )
    .bind(telemetryId)
    .all<{ id: string; nodeId: string; ownerId: string; nodeOutbox: string; reportedAt: number }>();
  return results;
}

export async function clearNodeOutbox(d1: D1Database, resolutionId: string, commandId: string | null): Promise<void> {
  await d1.prepare("UPDATE resolutions SET node_outbox = NULL, command_id = ? WHERE id = ?").bind(commandId, resolutionId).run();
}

export async function pendingEscalations(d1: D1Database, telemetryId: string) {
  const { results } = await d1
    .prepare("SELECT id, body FROM escalations WHERE telemetry_id = ? AND status = 'pending'")
    .bind(telemetryId)
    .all<{ id: string; body: string }>();
  return results;
}

export async function recordDelivery(d1: D1Database, escalationId: string, now: number, error: string | null): Promise<void> {
  await d1
    .prepare(
      `UPDATE escalations SET attempts = attempts + 1, last_error = ?,
         status = CASE WHEN ? IS NULL THEN 'delivered' ELSE status END,
         delivered_at = CASE WHEN ? IS NULL THEN ? ELSE delivered_at END
       WHERE id = ?`,
    )
    .bind(error, error, error, now, escalationId)
    .run();
}

/** A node ran healthy on the fix: its pending resolutions are verified, auto-resolved telemetry marked resolved. */
export async function verifyResolutions(d1: D1Database, resolutionIds: string[], now: number): Promise<void> {
  if (resolutionIds.length === 0) return;
  const ids = JSON.stringify(resolutionIds);
  const pending = `SELECT value FROM json_each(?1)`;
  await d1.batch([
    d1
      .prepare(
        `UPDATE node_telemetry SET resolved = 1 WHERE id IN
           (SELECT telemetry_id FROM resolutions WHERE id IN (${pending}) AND auto_resolve = 1
              AND state IN ('pending', 'waiting_for_release'))`,
      )
      .bind(ids),
    d1
      .prepare(
        `UPDATE crash_groups SET state = 'resolved' WHERE id IN
           (SELECT group_id FROM resolutions WHERE id IN (${pending}) AND state IN ('pending', 'waiting_for_release'))
           AND state IN ('fixing', 'waiting_for_release')`,
      )
      .bind(ids),
    d1
      .prepare(
        `UPDATE resolutions SET state = 'verified', verified_at = ?2 WHERE id IN (${pending}) AND state IN ('pending', 'waiting_for_release')`,
      )
      .bind(ids, now),
  ]);
}
