/**
 * Triage of one critical telemetry event, the way IT Support Buhdi
 * would: fingerprint → crash group → known issue → decision, then every D1
 * write in one batch (with the receipt that makes redelivery a no-op), then
 * what must leave the database: the node's command or fix to verify, the
 * escalation webhook and the escalation email. Those are retried on redelivery until done.
 *
 * planTriage decides one report from what it is given (the groups as they stand, the known
 * issues) and returns its statements; the queue consumer plans a whole batch with it
 * (batch.ts) and triageTelemetry below does one report on its own.
 */
import { TelemetryEventSchema, type TelemetryEvent } from "../../protocol/telemetry.ts";
import { isOlder } from "../../protocol/version.ts";
import { emailSettings, triageSettings } from "../config.ts";
import { database } from "../db/client.ts";
import { fleetDatabase } from "../db/shards.ts";
import {
  enabledKnownIssues,
  findGroups,
  type GroupRow,
  type KnownIssueRow,
  loadTriageContext,
  receiptExists,
  type TriageContext,
  triageStatements,
} from "../db/triage.ts";
import type { Env } from "../env.ts";
import { findRelease } from "../db/releases.ts";
import { releaseFor, signedRelease } from "../releases/offer.ts";
import { updateCommandId } from "../releases/push.ts";
import type { NewEmail } from "../db/emails.ts";
import { type EscalationEmailInput, escalationEmail, triageDid } from "../email/escalation-email.tsx";
import { BRIDGE_CLASS, BRIDGE_FROM, bridgeMessage, readableCrashLine } from "./bridge-message.ts";
import { type Decision, decide } from "./decide.ts";
import { escalationBody, escalationSummary } from "./escalation.ts";
import { type CrashFingerprint, fingerprint } from "./fingerprint.ts";
import { matchKnownIssue } from "./known-issue-matcher.ts";
import { flushOutbox } from "./outbox.ts";

export type TriageOutcome = "triaged" | "already_triaged" | "not_a_crash" | "unknown_telemetry";

/** A crash report read from its stored payload: the event and its fingerprint. */
export type CrashReport = { context: TriageContext; event: TelemetryEvent; print: CrashFingerprint };

export function isCrash(context: TriageContext): boolean {
  return context.type === "crash_report" || context.type === "update_rolled_back";
}

export async function readCrash(context: TriageContext): Promise<CrashReport> {
  const event = TelemetryEventSchema.parse(JSON.parse(context.payload));
  return { context, event, print: await fingerprint(event.entries) };
}

/** The fingerprints a report's group may be stored under (current first). */
export function fingerprintsOf({ print }: CrashReport): string[] {
  return print.legacyFingerprint === null ? [print.fingerprint] : [print.fingerprint, print.legacyFingerprint];
}

export type TriagePlanned = {
  statements: D1PreparedStatement[];
  /** Something must leave the database after the batch: a node command or fix to verify, or an escalation. */
  hasOutbox: boolean;
  /** The report's group as the statements leave it, for the next report of the same batch. */
  group: { fingerprint: string; rekeyedFrom: string | null; row: GroupRow };
};

export async function planTriage(
  env: Env,
  { context, event, print }: CrashReport,
  groups: ReadonlyMap<string, GroupRow>,
  issues: readonly KnownIssueRow[],
  now: number,
): Promise<TriagePlanned> {
  const telemetryId = context.telemetryId;
  // A group stored under the first fingerprint scheme is adopted (and re-keyed in the statements below).
  const legacy = print.legacyFingerprint === null ? null : (groups.get(print.legacyFingerprint) ?? null);
  const current = groups.get(print.fingerprint) ?? null;
  const previous = current ?? legacy;
  const rekeyFrom = current === null && legacy !== null ? print.legacyFingerprint : null;
  const match = matchKnownIssue(issues, event.entries);
  const settings = triageSettings(env);
  const needsUpdate =
    match?.fixType === "update" && match.fixVersion && context.nodeVersion && isOlder(context.nodeVersion, match.fixVersion);
  const release = needsUpdate ? await releaseFor(database(fleetDatabase(env)), context.nodeId, { atLeast: match.fixVersion! }) : null;
  const decision: Decision = decide(
    match && {
      id: match.id,
      fixType: match.fixType,
      fixVersion: match.fixVersion,
      fixInstructions: match.fixInstructions,
      autoResolve: match.autoResolve === 1,
    },
    context.nodeVersion,
    { state: previous?.state ?? null, lastEscalatedAt: previous?.lastEscalatedAt ?? null },
    now,
    settings.escalationPeriodMs,
    release && { version: release.version, signed: signedRelease(release) },
  );

  const rollback = context.type === "update_rolled_back" ? await rollbackOf(env, event.details) : null;
  if (rollback?.halt) decision.escalate = "release_halted";

  const groupId = previous?.id ?? crypto.randomUUID();
  const resolutionId = crypto.randomUUID();
  const reportCount = (previous?.reportCount ?? 0) + 1;
  const reportsSinceLast = reportCount - (previous?.reportsAtLastEscalation ?? 0);
  const escalationId = crypto.randomUUID();
  // An update's command id is per (node, version): however many reports ask, the node gets it once.
  const commandId = release ? await updateCommandId(context.nodeId, release.version) : null;
  const nodeOutbox =
    decision.command || decision.verify
      ? JSON.stringify({
          command: decision.command && { ...decision.command, id: commandId },
          verify: decision.verify ? { fixVersion: decision.fixVersion } : null,
        })
      : null;

  const node = { id: context.nodeId, name: context.nodeName, owner: context.ownerName, version: context.nodeVersion, os: context.os };
  const fixVersion = rollback?.version ?? decision.fixVersion;
  const versions = versionsAfter(previous?.versions, context.nodeVersion);
  const email = decision.escalate
    ? await escalationEmailFor(env, {
        escalationId,
        reason: decision.escalate,
        summary: escalationSummary(decision.escalate, print.title, context.nodeName, fixVersion),
        node,
        crashLine: readableCrashLine(print.crashLine),
        reportsSinceLast,
        reportCount,
        versions,
        triageDid: triageDid({ reason: decision.escalate, knownIssueId: match?.id ?? null, fixVersion, halt: rollback?.halt ?? null }),
        groupId,
        periodSeconds: settings.escalationPeriodMs / 1000,
        now,
      })
    : null;

  const statements = triageStatements(fleetDatabase(env), {
    context,
    now,
    group: {
      id: groupId,
      isNew: !previous,
      fingerprint: print.fingerprint,
      rekeyFrom,
      title: print.title,
      sample: event.entries,
      previous,
    },
    knownIssueId: match?.id ?? null,
    autoResolve: match?.autoResolve === 1,
    decision,
    resolutionId,
    nodeOutbox,
    bridge: {
      id: crypto.randomUUID(),
      from: BRIDGE_FROM,
      class: BRIDGE_CLASS,
      msg: bridgeMessage({
        nodeName: context.nodeName,
        ownerName: context.ownerName,
        entries: event.entries,
        crashLine: print.crashLine,
        version: context.nodeVersion,
        os: context.os,
      }),
    },
    rollback,
    escalation: decision.escalate && {
      id: escalationId,
      reason: decision.escalate,
      reportsSinceLast,
      body: escalationBody({
        id: escalationId,
        reason: decision.escalate,
        now,
        group: { id: groupId, title: print.title, fingerprint: print.fingerprint, reportCount, reportsSinceLast },
        knownIssueId: match?.id ?? null,
        fixVersion,
        node,
        telemetryId,
        sample: event.entries,
      }),
      email,
    },
  });
  const escalated = decision.escalate !== null;
  return {
    statements,
    hasOutbox: nodeOutbox !== null || escalated,
    group: {
      fingerprint: print.fingerprint,
      rekeyedFrom: rekeyFrom,
      row: {
        id: groupId,
        state: decision.groupState,
        reportCount,
        reportsAtLastEscalation: escalated ? reportCount : (previous?.reportsAtLastEscalation ?? 0),
        lastEscalatedAt: escalated ? now : (previous?.lastEscalatedAt ?? null),
        versions: JSON.stringify(versions),
      },
    },
  };
}

/** One report on its own: read, plan, write in one D1 batch, flush its outbox. */
export async function triageTelemetry(
  env: Env,
  telemetryId: string,
  now: number,
  knownIssues: () => Promise<readonly KnownIssueRow[]> = () => enabledKnownIssues(fleetDatabase(env)),
): Promise<TriageOutcome> {
  const d1 = fleetDatabase(env);
  if (await receiptExists(d1, telemetryId)) {
    await flushOutbox(env, telemetryId, now);
    return "already_triaged";
  }
  const context = await loadTriageContext(d1, telemetryId);
  if (!context) return "unknown_telemetry";
  if (!isCrash(context)) return "not_a_crash";
  const report = await readCrash(context);
  const planned = await planTriage(env, report, await findGroups(d1, fingerprintsOf(report)), await knownIssues(), now);
  try {
    await d1.batch(planned.statements);
  } catch (error) {
    // A concurrent delivery of the same message won the race: its batch holds the effects.
    if (await receiptExists(d1, telemetryId)) return "already_triaged";
    throw error;
  }
  await flushOutbox(env, telemetryId, now);
  return "triaged";
}

/** The escalation email's row, or null when no sender or no recipient is configured (the webhook still goes). */
async function escalationEmailFor(
  env: Env,
  input: Omit<EscalationEmailInput, "groupUrl" | "at"> & { escalationId: string; now: number },
): Promise<(NewEmail & { escalationId: string }) | null> {
  const settings = emailSettings(env);
  if (settings.invalidEscalationTo.length > 0) {
    console.warn(JSON.stringify({ msg: "ESCALATION_EMAIL_TO has entries that are not addresses", ignored: settings.invalidEscalationTo }));
  }
  if (!settings.from || settings.escalationTo.length === 0) return null;
  const { escalationId, now, ...content } = input;
  const groupUrl = settings.publicUrl ? `${settings.publicUrl}/support/crash-groups?group=${input.groupId}` : null;
  const composed = await escalationEmail({ ...content, groupUrl, at: new Date(now) });
  return {
    id: crypto.randomUUID(),
    dedupeKey: `escalation:${escalationId}`,
    kind: "escalation",
    escalationId,
    from: settings.from,
    to: settings.escalationTo,
    ...composed,
  };
}

/** The group's versions with this report's, sorted (numerically: 0.10.0 after 0.9.0). */
function versionsAfter(json: string | undefined, version: string | null): string[] {
  const versions = new Set<string>(json ? (JSON.parse(json) as string[]) : []);
  versions.add(version ?? "unknown");
  return [...versions].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

/**
 * A rollback counts against the release; reaching ROLLBACK_HALT_COUNT rollbacks, or
 * ROLLBACK_HALT_PERCENT of its installs, halts it for everyone (fleet safety).
 */
async function rollbackOf(
  env: Env,
  details: Record<string, unknown> | undefined,
): Promise<{ version: string; halt: string | null } | null> {
  const version = typeof details?.version === "string" ? details.version : null;
  if (!version) return null;
  const release = await findRelease(database(fleetDatabase(env)), version);
  if (!release) return { version, halt: null };
  const rollbacks = release.rollbacks + 1;
  const settings = triageSettings(env);
  const byCount = rollbacks >= settings.rollbackHaltCount;
  const byShare = release.installs > 0 && (rollbacks * 100) / release.installs >= settings.rollbackHaltPercent;
  const halt =
    release.status === "active" && (byCount || byShare)
      ? `auto-halted: ${rollbacks} rollback(s) of ${release.installs} install(s) (limits: ${settings.rollbackHaltCount}, ${settings.rollbackHaltPercent} %)`
      : null;
  return { version, halt };
}
