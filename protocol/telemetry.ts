/**
 * The agent↔cloud contract for telemetry: what a node may send to
 * `POST /api/node/telemetry`, and how the cloud classifies it.
 *
 * Imported by the Worker (to validate) and by the agent (to build reports), so
 * the two sides cannot drift apart.
 */
import { z } from "zod";

/** Crash reports carry at most the last 50 lines of crash.log (the protocol's limit). */
export const MAX_ENTRIES = 50;
/** One crash line; a minified stack line can be long, a megabyte line is not a crash line. */
export const MAX_ENTRY_CHARS = 4096;
/** The whole request body; bigger bodies get 413 before they are parsed. */
export const MAX_TELEMETRY_BODY_BYTES = 64 * 1024;

export const TELEMETRY_TYPES = [
  "crash_report",
  "connection_degraded",
  "error",
  "health",
  /** An update moved on: details.stage is downloaded, installed or healthy. */
  "update_progress",
  /** An update was refused or could not be installed (details.reason); the old version runs. */
  "update_failed",
  /** A new version died within the rollback window; the node is back on the previous one. */
  "update_rolled_back",
] as const;
export type TelemetryType = (typeof TELEMETRY_TYPES)[number];

export const SEVERITIES = ["info", "warning", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

const SEVERITY_BY_TYPE: Record<TelemetryType, Severity> = {
  crash_report: "critical",
  connection_degraded: "warning",
  error: "warning",
  health: "info",
  update_progress: "info",
  update_failed: "warning",
  update_rolled_back: "critical",
};

/** Severity is decided by the cloud from the type, never taken from the node. */
export function severityOf(type: TelemetryType): Severity {
  return SEVERITY_BY_TYPE[type];
}

/** A release version as nodes report it: semver core with an optional pre-release/build tag. */
export const VersionSchema = z
  .string()
  .regex(/^\d{1,6}\.\d{1,6}\.\d{1,6}(?:-[0-9A-Za-z.-]{1,64})?(?:\+[0-9A-Za-z.-]{1,64})?$/, "must be a version like 0.3.1");

/** `process.platform` / `process.arch` values; kept open (new platforms appear) but bounded. */
export const PlatformSchema = z.string().regex(/^[a-z0-9_]{1,32}$/, "must be a lowercase platform name like win32");

/** Free-form details (e.g. connection_degraded's failure_count): JSON object, bounded by the body limit. */
const MAX_DETAILS_KEY_CHARS = 64;
const DetailsSchema = z.record(z.string().max(MAX_DETAILS_KEY_CHARS), z.json());

/**
 * The fields this edge knows. Protocol skew (the rule is in messages.ts): which of them are strict
 * and why is said on each; a field this edge does not know is not refused but kept in `details`.
 */
const TelemetryFields = z.object({
  /** Strict: identity of the report. Made by the node once per report; the same id again means "the same report, retried". */
  event_id: z.uuid(),
  /** Strict: decides severity and whether triage runs. A newer type needs the edge to learn it first. */
  type: z.enum(TELEMETRY_TYPES),
  /** Strict sizes: the crash lines triage reads. */
  entries: z.array(z.string().max(MAX_ENTRY_CHARS)).max(MAX_ENTRIES).default([]),
  /** Strict: triage compares it with a known issue's fix version. */
  node_version: VersionSchema,
  /** Open but bounded words already: new platforms appear. */
  os: PlatformSchema,
  arch: PlatformSchema,
  uptime_before_crash: z.number().int().nonnegative().nullable().default(null),
  /** When the node made the report (its own clock; the cloud keeps its own created_at too). */
  timestamp: z.iso.datetime({ offset: true }),
  details: DetailsSchema.optional(),
});
type KnownTelemetryEvent = z.output<typeof TelemetryFields>;
const KNOWN_FIELDS: ReadonlySet<string> = new Set(Object.keys(TelemetryFields.shape));

export const TelemetryEventSchema = TelemetryFields.catchall(z.json())
  .superRefine((event, ctx) => {
    if ((event.type === "crash_report" || event.type === "update_rolled_back") && event.entries.length === 0) {
      ctx.addIssue({ code: "custom", path: ["entries"], message: `a ${event.type} needs at least one line` });
    }
    for (const key of Object.keys(event)) {
      if (!KNOWN_FIELDS.has(key) && key.length > MAX_DETAILS_KEY_CHARS) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: `a field this edge does not know is kept in details, and its name must be at most ${MAX_DETAILS_KEY_CHARS} characters`,
        });
      }
    }
  })
  .transform((event): KnownTelemetryEvent => {
    // A newer agent's extra fields: kept in details (the report's own details win a clash), so
    // nothing it said is lost before this edge learns what the fields mean.
    const known: Record<string, unknown> = {};
    const extra: Record<string, z.core.util.JSONType> = {};
    for (const [key, value] of Object.entries(event)) {
      if (KNOWN_FIELDS.has(key)) known[key] = value;
      else extra[key] = value as z.core.util.JSONType;
    }
    const fields = known as KnownTelemetryEvent;
    if (Object.keys(extra).length === 0) return fields;
    return { ...fields, details: { ...extra, ...fields.details } };
  });

export type TelemetryEvent = z.output<typeof TelemetryEventSchema>;
/** What a node sends (defaults may be omitted). */
export type TelemetryEventInput = z.input<typeof TelemetryEventSchema>;

/** The edge's answer to a report: the stored id and the severity it gave it. */
export const TelemetryAcceptedSchema = z.object({ id: z.uuid(), severity: z.enum(SEVERITIES) });
export type TelemetryAccepted = z.output<typeof TelemetryAcceptedSchema>;
