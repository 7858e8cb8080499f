/**
 * The telemetry an update produces (protocol/telemetry.ts), built and validated in one place:
 *   update_progress     details {stage: downloaded | installed | healthy, version, ...}
 *   update_failed       details {stage: "failed", version, reason, code}: the old version runs on
 *   update_rolled_back  details {stage: "rolled_back", version, rolled_back_to}, entries = the
 *                       new version's crash lines (critical: the cloud must hear of it)
 * node_version is always the version that runs when the event is made. All of them travel
 * through the spool like crash reports, so an update that happens while the cloud is away is
 * still reported, once.
 */
import { createHash, randomUUID } from "node:crypto";
import { TelemetryEventSchema } from "../../protocol/index.ts";
import type { Json, TelemetryEvent, TelemetryType } from "../../protocol/index.ts";

export type EventContext = { version: string; platform: string; arch: string; now: Date; eventId?: string };

function build(type: TelemetryType, context: EventContext, details: Record<string, Json>, entries: string[] = []): TelemetryEvent {
  return TelemetryEventSchema.parse({
    event_id: context.eventId ?? randomUUID(),
    type,
    entries,
    node_version: context.version,
    os: context.platform,
    arch: context.arch,
    uptime_before_crash: null,
    timestamp: context.now.toISOString(),
    details,
  });
}

export function updateProgressEvent(
  context: EventContext,
  stage: "downloaded" | "installed" | "healthy",
  details: { version: string } & Record<string, Json>,
): TelemetryEvent {
  return build("update_progress", context, { stage, ...details });
}

export function updateFailedEvent(
  context: EventContext,
  failure: { version: string | null; code: string; reason: string },
): TelemetryEvent {
  return build("update_failed", context, {
    stage: "failed",
    version: failure.version,
    code: failure.code,
    reason: failure.reason.slice(0, 1000),
  });
}

/** entries: at least one line (the supervisor's EXIT line is always there). */
export function updateRolledBackEvent(
  context: EventContext,
  rollback: { version: string; rolledBackTo: string },
  entries: string[],
): TelemetryEvent {
  return build(
    "update_rolled_back",
    context,
    { stage: "rolled_back", version: rollback.version, rolled_back_to: rollback.rolledBackTo },
    entries,
  );
}

/**
 * The same install rolled back twice (a kill between the rollback's steps, then the supervisor
 * doing it again) must be one report: an event id derived from the install makes the retry a
 * duplicate the cloud stores once. Formatted as an RFC 9562 version-8 (custom) UUID.
 */
export function rollbackEventId(version: string, installedAt: string): string {
  const hex = createHash("sha256").update(`rollback\n${version}\n${installedAt}`).digest("hex").slice(0, 32).split("");
  hex[12] = "8";
  hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = hex.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}
