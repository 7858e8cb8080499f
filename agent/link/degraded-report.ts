/**
 * The spec's one-shot connection_degraded report, made when the socket has failed
 * WS_FAILURE_THRESHOLD times in a row. It goes through the spool like a crash report: written
 * before it is sent, so if HTTP is down too (it usually is) it waits there, keeps its event_id
 * and is stored once when the cloud is back.
 */
import { randomUUID } from "node:crypto";
import { TelemetryEventSchema } from "../../protocol/index.ts";
import type { TelemetryEvent } from "../../protocol/index.ts";
import type { DegradedDetails } from "./live-link.ts";

export type DegradedContext = { version: string; platform: string; arch: string; now: Date; eventId?: string };

export function buildDegradedReport(details: DegradedDetails, context: DegradedContext): TelemetryEvent {
  return TelemetryEventSchema.parse({
    event_id: context.eventId ?? randomUUID(),
    type: "connection_degraded",
    entries: [],
    node_version: context.version,
    os: context.platform,
    arch: context.arch,
    uptime_before_crash: null,
    timestamp: context.now.toISOString(),
    details: { failure_count: details.failure_count, last_connected: details.last_connected },
  });
}
