/**
 * The fields every telemetry event this node sends shares: who sends it, on what, and when. The
 * crash report, the update events and the connection_degraded report each add their type,
 * entries and details to it, and validate the whole against the protocol's schema.
 */
import { randomUUID } from "node:crypto";

export type EventContext = { version: string; platform: string; arch: string; now: Date; eventId?: string };

export function eventEnvelope(context: EventContext) {
  return {
    event_id: context.eventId ?? randomUUID(),
    node_version: context.version,
    os: context.platform,
    arch: context.arch,
    uptime_before_crash: null,
    timestamp: context.now.toISOString(),
  };
}
