/**
 * The one-shot connection_degraded report, made when the socket has failed
 * WS_FAILURE_THRESHOLD times in a row. It goes through the spool like a crash report: written
 * before it is sent, so if HTTP is down too (it usually is) it waits there, keeps its event_id
 * and is stored once when the cloud is back.
 */
import { TelemetryEventSchema } from "../../protocol/index.ts";
import type { TelemetryEvent } from "../../protocol/index.ts";
import { eventEnvelope } from "../core/event-envelope.ts";
import type { EventContext } from "../core/event-envelope.ts";
import type { DegradedDetails } from "./live-link.ts";

export function buildDegradedReport(details: DegradedDetails, context: EventContext): TelemetryEvent {
  return TelemetryEventSchema.parse({
    ...eventEnvelope(context),
    type: "connection_degraded",
    entries: [],
    details: { failure_count: details.failure_count, last_connected: details.last_connected },
  });
}
