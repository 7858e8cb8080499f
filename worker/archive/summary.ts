/**
 * What D1 keeps of a telemetry event once the full event is archived to R2: every top-level field
 * (type, version, platform, times: all small), the first line of its entries (what the dashboard
 * shows), and its details when they are small (the dashboard reads downtime and sleep from them).
 * The crash log itself lives on in the archive.
 */
const FIRST_LINE_CHARS = 300;
const MAX_KEPT_DETAILS_BYTES = 1024;

export function summaryOf(payload: string): string {
  let event: unknown;
  try {
    event = JSON.parse(payload);
  } catch {
    return JSON.stringify({ archived_summary: "unreadable payload" });
  }
  if (typeof event !== "object" || event === null || Array.isArray(event)) return JSON.stringify({ archived_summary: "not an object" });
  const summary: Record<string, unknown> = { ...event };
  const entries = summary.entries;
  if (Array.isArray(entries)) {
    summary.entries = typeof entries[0] === "string" ? [entries[0].slice(0, FIRST_LINE_CHARS)] : [];
    summary.entries_archived = entries.length;
  }
  if (summary.details !== undefined && JSON.stringify(summary.details).length > MAX_KEPT_DETAILS_BYTES) {
    delete summary.details;
    summary.details_archived = true;
  }
  return JSON.stringify(summary);
}
