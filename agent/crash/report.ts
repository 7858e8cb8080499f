/**
 * Builds the crash_report event from crash.log's bytes: the last 50 non-blank lines, scrubbed,
 * each cut to the protocol's line limit, the oldest dropped until the body fits the size limit.
 * Pure, so what leaves the machine is tested without a file or a server.
 */
import { MAX_ENTRIES, MAX_ENTRY_CHARS, MAX_TELEMETRY_BODY_BYTES, TelemetryEventSchema, VersionSchema } from "../../protocol/index.ts";
import type { Json, TelemetryEvent } from "../../protocol/index.ts";
import { eventEnvelope } from "../core/event-envelope.ts";
import type { EventContext } from "../core/event-envelope.ts";
import { versionThatCrashed } from "./crash-log.ts";
import type { Scrubber } from "./scrub.ts";
import { describeIssues } from "../../protocol/errors.ts";

export type CrashReportContext = EventContext & {
  scrub: Scrubber;
  /** Required here: a report rebuilt from the same spool entry keeps its id. */
  eventId: string;
  /** E.g. a crash loop's count and time span (crash/loop.ts). */
  details?: Record<string, Json>;
};

export type CrashReportBuild =
  | { ok: true; event: TelemetryEvent }
  | { ok: false; reason: "no-lines" }
  | { ok: false; reason: "invalid"; message: string };

function cut(line: string): string {
  return line.length <= MAX_ENTRY_CHARS ? line : `${line.slice(0, MAX_ENTRY_CHARS - 1)}…`;
}

export function crashLines(bytes: Uint8Array, scrub: Scrubber): string[] {
  const text = Buffer.from(bytes).toString("utf8");
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .slice(-MAX_ENTRIES)
    .map((line) => cut(scrub(line)));
}

function reportedVersion(entries: string[], sender: string): string {
  const crashed = versionThatCrashed(entries);
  return crashed !== null && VersionSchema.safeParse(crashed).success ? crashed : sender;
}

export function buildCrashReport(bytes: Uint8Array, context: CrashReportContext): CrashReportBuild {
  const entries = crashLines(bytes, context.scrub);
  if (entries.length === 0) return { ok: false, reason: "no-lines" };
  const candidate = {
    ...eventEnvelope(context),
    type: "crash_report",
    entries,
    // The version that crashed, which is not always the one sending the report.
    node_version: reportedVersion(entries, context.version),
    ...(context.details ? { details: context.details } : {}),
  };
  // 50 lines of 4096 characters would be ~200 KB; the newest lines matter most, so drop from the top.
  while (candidate.entries.length > 1 && Buffer.byteLength(JSON.stringify(candidate)) > MAX_TELEMETRY_BODY_BYTES) {
    candidate.entries.shift();
  }
  // Checked here, not by the server: a report the server must refuse would be built again from
  // the same crash.log on every start. Refusing locally keeps crash.log untouched and says why.
  const parsed = TelemetryEventSchema.safeParse(candidate);
  if (!parsed.success) {
    const message = describeIssues(parsed.error, "report");
    return { ok: false, reason: "invalid", message };
  }
  return { ok: true, event: parsed.data };
}
