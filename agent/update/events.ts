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
import { createHash } from "node:crypto";
import { TelemetryEventSchema } from "../../protocol/index.ts";
import { uuidFromSha256Hex } from "../../protocol/uuid.ts";
import type { Json, TelemetryEvent, TelemetryType } from "../../protocol/index.ts";
import { eventEnvelope } from "../core/event-envelope.ts";
import type { EventContext } from "../core/event-envelope.ts";

function build(type: TelemetryType, context: EventContext, details: Record<string, Json>, entries: string[] = []): TelemetryEvent {
  return TelemetryEventSchema.parse({ ...eventEnvelope(context), type, entries, details });
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
  return uuidFromSha256Hex(createHash("sha256").update(`rollback\n${version}\n${installedAt}`).digest("hex"));
}
